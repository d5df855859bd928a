"""Figures 3, 4, 5, 7, 8: the Textual app on the 1M store against small stores.

3, 7 and 8 run the real app as a separate process in a pseudo-terminal (``python -m
bench.figures.tui_child DB``: ``ChatdeskApp`` without a sync engine, so nothing arrives and
nothing is polled; sync costs are figures 1 and 2). Cold start is the time from spawning
the process to the top chat's name appearing in the terminal output; RSS is ``VmHWM`` after
moving through the list and opening the big chat; CPU is utime+stime over 60 s of idling.
4 and 5 run in-process under Textual's Pilot; a repaint is the app handing a rendered
frame to its driver (``App._display``), which happens after the widgets rendered their lines.
"""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from bench.figures.common import Result, Stores, median, ms, percentile, ratio
from chatdesk.store import views
from chatdesk.store.db import Database
from chatdesk.usecases.titles import chat_title

SIZE = (120, 40)
CPU_SECONDS = 60.0


# ----------------------------------------------------------------------------- subprocess


class Tui:
    """The app in a pty; ``output`` accumulates everything it printed."""

    def __init__(self, db_path: Path, home: Path) -> None:
        self.master, slave = pty.openpty()
        os.set_blocking(self.master, False)
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "CHATDESK_HOME": str(home),
            "COLUMNS": str(SIZE[0]),
            "LINES": str(SIZE[1]),
        }
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.figures.tui_child", str(db_path)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
        os.close(slave)
        self.output = b""

    def pump(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                while chunk := os.read(self.master, 65536):
                    self.output += chunk
            except (BlockingIOError, OSError):
                pass

    def wait_for(self, needle: bytes, timeout: float = 30.0) -> float:
        """Seconds from spawn until ``needle`` was printed."""
        deadline = time.perf_counter() + timeout
        while needle not in self.output:
            if time.perf_counter() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"TUI never showed {needle!r}: {self.output[-500:]!r}")
            self.pump(0.005)
        return time.perf_counter() - self.started

    def settle(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.pump(0.05)

    def send(self, keys: bytes, pause: float = 0.05) -> None:
        for k in keys:
            os.write(self.master, bytes([k]))
            self.settle(pause)

    def status(self, field: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def cpu_seconds(self) -> float:
        parts = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)


def _top_title(db_path: Path) -> bytes:
    db = Database(f"sqlite:///{db_path}", create=False)
    try:
        rows = views.list_chats(db, limit=1)
    finally:
        db.close()
    return chat_title(rows[0]).encode() if rows else b"Chats 0"


def cold_start(db_path: Path, home: Path, runs: int = 3) -> float:
    needle = _top_title(db_path)
    times = []
    for _ in range(runs):
        tui = Tui(db_path, home)
        try:
            times.append(tui.wait_for(needle))
        finally:
            tui.close()
    return median(times)


def fig3(stores: Stores, small: Path) -> Result:
    home = stores.workdir / "home"
    big, base = cold_start(stores.big, home), cold_start(small, home)
    r = ratio(big, base)
    return Result(
        3,
        "TUI cold start to first painted chat list (10k chats / 1M msgs)",
        ms(big),
        f"10 chats {ms(base)}",
        f"{r:.2f}",
        "≤ 1.5× and < 1 s",
        r <= 1.5 and big < 1.0,
        note="process spawn to the top chat's name on the pty (includes Python start-up and imports)",
        data={"big_s": big, "small_s": base},
    )


def peak_rss(db_path: Path, home: Path) -> int:
    tui = Tui(db_path, home)
    try:
        tui.wait_for(_top_title(db_path))
        tui.settle(1.0)
        tui.send(b"j" * 30 + b"G" + b"g", pause=0.02)  # walk the list, to its end and back
        tui.send(b"\r", pause=0.0)  # open the top chat (the 10,000-message one in the big store)
        tui.settle(2.0)
        return tui.status("VmHWM") * 1024
    finally:
        tui.close()


def fig7(stores: Stores, empty: Path) -> Result:
    home = stores.workdir / "home"
    big, base = peak_rss(stores.big, home), peak_rss(empty, home)
    mb = 1024 * 1024
    return Result(
        7,
        "peak RSS of the TUI with the 1M store open",
        f"{big / mb:.0f} MB",
        f"empty store {base / mb:.0f} MB",
        f"{ratio(big, base):.2f}",
        "< 200 MB",
        big < 200 * mb,
        note="VmHWM after walking the list to its end and opening a chat",
        data={"big_bytes": big, "empty_bytes": base},
    )


def fig8(stores: Stores, seconds: float = CPU_SECONDS) -> Result:
    tui = Tui(stores.big, stores.workdir / "home")
    try:
        tui.wait_for(_top_title(stores.big))
        tui.settle(3.0)
        before, start = tui.cpu_seconds(), time.perf_counter()
        tui.settle(seconds)
        used, wall = tui.cpu_seconds() - before, time.perf_counter() - start
    finally:
        tui.close()
    pct = 100 * used / wall
    return Result(
        8,
        f"CPU of an idle TUI over {seconds:.0f} s (1M store)",
        f"{pct:.2f} % of one core",
        "—",
        "—",
        "< 1 %",
        pct < 1.0,
        data={"cpu_s": used, "wall_s": wall},
    )


# ----------------------------------------------------------------------------- in-process (Pilot)


async def _with_app(db_path: Path, body):  # type: ignore[no-untyped-def]
    from chatdesk.app import ChatdeskApp
    from chatdesk.config import Config

    db = Database(f"sqlite:///{db_path}", create=False)
    app = ChatdeskApp(db, config=Config())
    frames: list[float] = []
    original = app._display

    def display(screen, renderable):  # type: ignore[no-untyped-def]
        original(screen, renderable)
        if renderable is not None:
            frames.append(time.perf_counter())

    app._display = display  # type: ignore[method-assign]
    try:
        async with app.run_test(size=SIZE) as pilot:
            return await body(app, pilot, frames)
    finally:
        db.close()


async def _until(cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition never held")
        await asyncio.sleep(0.0005)


async def _painted_after(frames: list[float], t0: float, cond) -> float:  # type: ignore[no-untyped-def]
    """Seconds from t0 to the first frame at which ``cond`` held (checked as frames arrive)."""
    await _until(cond)
    seen = len(frames)
    await _until(lambda: len(frames) > seen or (frames and frames[-1] >= t0 and cond()))
    after = [f for f in frames if f >= t0]
    return (after[-1] if after else time.perf_counter()) - t0


def open_chat_latency(db_path: Path, chat_id: int, runs: int = 5) -> float:
    async def body(app, pilot, frames):  # type: ignore[no-untyped-def]
        screen = app.screen
        await _until(lambda: screen.chat_list.total > 0 and screen.chat_list.row(0) is not None)
        await pilot.pause(0.3)
        conv = screen.conversation
        times = []
        for i in range(runs):
            other = None if i % 2 else chat_id  # alternate with "nothing" so each open is a real load
            screen.conversation.clear()
            screen.target_id = None
            await pilot.pause(0.05)
            if other is None:
                continue
            t0 = time.perf_counter()
            screen.show_chat(chat_id, opened=True)
            times.append(
                await _painted_after(
                    frames, t0, lambda: conv.chat is not None and conv.chat.id == chat_id and bool(conv.messages)
                )
            )
        return median(times)

    return asyncio.run(_with_app(db_path, body))


def fig4(stores: Stores) -> Result:
    big = open_chat_latency(stores.big, 1)  # chat 1: 10,000 messages
    small = open_chat_latency(stores.big, 2)  # chat 2: 10 messages
    r = ratio(big, small)
    return Result(
        4,
        "open a 10,000-message chat to first painted messages",
        ms(big),
        f"10-message chat {ms(small)}",
        f"{r:.2f}",
        "≤ 2× and < 100 ms",
        r <= 2.0 and big < 0.100,
        note="median of opens (show_chat -> frame with its messages)",
        data={"big_s": big, "small_s": small},
    )


def key_latency(db_path: Path, presses: int = 60) -> tuple[float, float]:
    async def body(app, pilot, frames):  # type: ignore[no-untyped-def]
        cl = app.screen.chat_list
        await _until(lambda: cl.total > 0 and cl.row(0) is not None)
        cl.focus()
        await pilot.pause(0.3)
        times = []
        for i in range(presses):
            key = "j" if (i // 20) % 2 == 0 else "k"
            want = cl.cursor + (1 if key == "j" else -1)
            t0 = time.perf_counter()
            await pilot.press(key)
            times.append(await _painted_after(frames, t0, lambda w=want: cl.cursor == w))
            await pilot.pause(0.02)
        return median(times), percentile(times, 95)

    return asyncio.run(_with_app(db_path, body))


def fig5(stores: Stores, hundred: Path) -> Result:
    (med, p95), (bmed, bp95) = key_latency(stores.big), key_latency(hundred)
    r = ratio(med, bmed)
    return Result(
        5,
        "j/k to repaint, 10k-chat list (median, p95)",
        f"{ms(med)}, p95 {ms(p95)}",
        f"100 chats {ms(bmed)}, p95 {ms(bp95)}",
        f"{r:.2f}",
        "≤ 1.5×, median < 16 ms",
        r <= 1.5 and med < 0.016,
        note="includes Textual's frame pacing (repaints at most every 1/60 s)",
        data={"median_s": med, "p95_s": p95, "base_median_s": bmed, "base_p95_s": bp95},
    )
