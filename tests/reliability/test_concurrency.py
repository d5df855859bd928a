"""One SQLite file, everyone at once: a ``chatdesk sync`` daemon, an in-process engine in a
background thread (exactly as the TUI runs it) and CLI commands (send, chats --json,
followup add, sync --once) in parallel subprocesses, against the loopback sandbox.

- No "database is locked" (or any error) reaches a user: every command exits 0.
- One poller per account: while the daemon holds the lease, neither the TUI's engine nor
  ``sync --once`` sends a single poll request (the sandbox counts them).
- Every outbox row and every due follow-up reaches the marketplace exactly once, however
  many processes race to deliver it (the sandbox counts the send requests).
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from chatdesk.config import Config
from chatdesk.secrets import MemorySecrets
from chatdesk.store import accounts, outbox, views
from chatdesk.store.db import Database, utcnow
from chatdesk.store.schema import FollowUp, Lease
from chatdesk.sync import SyncEngine, SyncEvent
from tests.e2e.conftest import TOKEN, Cli, Sandbox, start_sandbox
from tests.reliability import cli_env

CONFIG = 'poll_interval = 60\nsending_window = ["00:00", "23:59"]\n'
WB_SEND = "POST /api/v1/seller/message"
POLL_KEYS = ("GET /api/v1/seller/events", "GET /api/v1/questions", "POST /v3/chat/list", "POST /v3/chat/history")


def stats(sandbox: Sandbox) -> dict[str, dict[str, int]]:
    raw = sandbox.get("stats")
    assert isinstance(raw, dict)
    return {p: v["by_path"] for p, v in raw.items()}


def poll_requests(sandbox: Sandbox) -> int:
    return sum(n for by in stats(sandbox).values() for k, n in by.items() if k.startswith(POLL_KEYS))


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(180)
def test_daemon_tui_engine_and_cli_share_one_store(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path / "sandbox.log", "--page-size", "3", "--chats", "5")
    home = tmp_path / "home"
    cli = Cli(cli_env(home))
    daemon = None
    tui = None
    db = None
    try:
        cli.run("account", "add", "wildberries", "wb", "--base-url", sandbox.url("wb"), input=TOKEN + "\n")
        oz_flags = ("--base-url", sandbox.url("ozon"), "--client-id", "1")
        cli.run("account", "add", "ozon", "oz", *oz_flags, input=TOKEN + "\n")
        (home / "config.toml").write_text(CONFIG)
        cli.run("sync", "--once")

        db = Database(f"sqlite:///{home / 'chatdesk.db'}")
        ids = {a.name: a.id for a in accounts.list_accounts(db)}
        daemon = subprocess.Popen(
            [sys.executable, "-m", "chatdesk", "sync"],
            env=cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

        def daemon_holds_leases() -> bool:
            with db.read() as s:
                owners = s.execute(select(Lease.owner)).scalars().all()
            return len(owners) == 2 and all(f":{daemon.pid}:" in o for o in owners)

        wait_for(daemon_holds_leases, 30, "the daemon's first poll")
        time.sleep(1.0)  # let its first round (and outbox pass) finish

        # -- the TUI's engine: a background thread with its own scheduler, on the same file
        problems: list[str] = []
        tui_requests: list[str] = []

        async def count_tui(request: httpx.Request) -> None:
            tui_requests.append(f"{request.method} {request.url.path}")

        tui = SyncEngine(
            db,
            secrets=MemorySecrets({"wb": TOKEN, "oz": TOKEN}),
            config=Config(poll_interval=1, sending_window=("00:00", "23:59")),
            client_factory=lambda _a: httpx.AsyncClient(timeout=10.0, event_hooks={"request": [count_tui]}),
            outbox_interval=0.5,
            followup_interval=1.0,
        )

        def listen(ev: SyncEvent) -> None:
            if ev.kind == "error" and ev.message:
                problems.append(ev.message)

        tui.add_listener(listen)

        # -- one poller per account: the lease holder is the daemon; nobody else polls
        sandbox.post("reset-counts", {})
        tui.start()
        tui.sync_now()
        probe = SyncEngine(db, secrets=MemorySecrets({"wb": TOKEN, "oz": TOKEN}), owner="probe")
        for account_id in ids.values():
            res = asyncio.run(probe.poll_account(account_id, force=True))
            assert not res.polled and str(daemon.pid) in (res.note or "")
        asyncio.run(probe.aclose())
        once = cli.run("sync", "--once")
        assert once.stdout.count("skipped, polled by another chatdesk process") == 2, once.stdout
        time.sleep(3.0)  # three TUI poll intervals
        # The TUI's engine never polls an account the daemon holds. (The daemon itself may poll
        # at once: an open TUI anywhere switches it to its fast pace.)
        assert tui_requests == [], (tui_requests, stats(sandbox))
        assert not any(tui.is_polling(i) for i in ids.values())

        # -- everyone at once
        wb_chats = [c for c in views.list_chats(db, views.ChatFilter(account="wb")) if c.kind == "chat"]
        texts: list[str] = []
        for i in range(6):  # typed in the TUI: queued, delivered by whichever engine claims it
            text = f"Ответ из окна {i}: уже отправили."
            outbox.enqueue(db, wb_chats[i % len(wb_chats)].id, text)
            texts.append(text)
        tui.deliver_now()

        def send(i: int) -> subprocess.CompletedProcess[str]:
            text = f"Ответ из командной строки {i}."
            texts.append(text)
            return cli.run("send", str(wb_chats[i % len(wb_chats)].id), text, check=False)

        def read(_i: int) -> subprocess.CompletedProcess[str]:
            return cli.run("chats", "--json", check=False)

        def follow(i: int) -> subprocess.CompletedProcess[str]:
            text = f"Напоминание {i}: как вам покупка?"
            texts.append(text)
            chat = wb_chats[(i + 2) % len(wb_chats)]
            return cli.run("followup", "add", str(chat.id), text, "--in", "30m", check=False)

        with ThreadPoolExecutor(max_workers=6) as pool:
            jobs = [pool.submit(send, i) for i in range(4)]
            jobs += [pool.submit(read, i) for i in range(4)]
            jobs += [pool.submit(follow, i) for i in range(2)]
            results = [j.result() for j in jobs]
        # time passes: the follow-ups fall due, and everybody races to send them
        with db.write() as s:
            s.execute(update(FollowUp).values(due_at=utcnow() - timedelta(seconds=1)))
        with ThreadPoolExecutor(max_workers=3) as pool:
            results += list(pool.map(lambda _i: cli.run("sync", "--once", check=False), range(3)))

        for r in results:
            assert "locked" not in r.stderr.lower(), r.stderr
            assert r.returncode == 0, (r.args, r.stdout, r.stderr)
        assert all(isinstance(json.loads(r.stdout), list) for r in results if "--json" in r.args)

        def all_delivered() -> bool:
            with db.read() as s:
                states = s.execute(select(FollowUp.state)).scalars().all()
            return outbox.pending_count(db) == 0 and set(states) == {"sent"}

        wait_for(all_delivered, 60, "every outbox row and follow-up to be sent")
        assert stats(sandbox)["wb"].get(WB_SEND, 0) == len(texts)  # each sent exactly once
        truth = sandbox.get("truth/wb")
        arrived = [m["text"] for ms in truth["messages"].values() for m in ms]  # type: ignore[index]
        for text in texts:
            assert arrived.count(text) == 1, text
        assert not [p for p in problems if "locked" in p.lower()], problems
    finally:
        if tui is not None:
            tui.shutdown()
        if daemon is not None:
            daemon.send_signal(signal.SIGINT)
            try:
                _out, err = daemon.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                _out, err = daemon.communicate()
            assert "locked" not in err.lower() and "Traceback" not in err, err
        if db is not None:
            db.close()
        sandbox.proc.terminate()
        sandbox.proc.wait(10)


def test_threads_hammering_one_file_never_see_locked(tmp_path: Path) -> None:
    """Many writers (ingest, outbox, leases) from threads of one process and another process."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    acc = accounts.add_account(db, "a", "wildberries")
    from chatdesk.model import ChatInfo, MessageInfo, Page
    from chatdesk.store import ingest

    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(40):
                page = Page(
                    chats=(ChatInfo(external_id=f"c{n}"),),
                    messages=(MessageInfo(f"c{n}", f"m{n}-{i}", "buyer", "текст", utcnow()),),
                    cursor=str(i),
                )
                ingest.apply_page(db, acc.id, f"s{n}", page)
                accounts.acquire_lease(db, acc.id, f"owner{n}", 60)
        except BaseException as exc:
            errors.append(exc)

    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from chatdesk.store.db import Database; from chatdesk.store import outbox, accounts\n"
            f"db = Database('sqlite:///{tmp_path / 'x.db'}')\n"
            "for i in range(200): accounts.acquire_lease(db, 1, 'other', 60); outbox.pending_count(db)\n",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, err = other.communicate(timeout=60)
    assert other.returncode == 0 and "locked" not in err, err
    assert not errors, errors
    assert ingest.message_count(db) == 6 * 40
    db.close()
