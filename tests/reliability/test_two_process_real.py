"""Issue 12 §6 with real processes: two ``chatdesk sync`` daemons deliver one outbox against the
loopback sandbox while send requests meet 429s, 500s and connection resets, and the daemons are
SIGKILLed and restarted at random moments. After healing (the daemons gone, one ``sync --once``
that settles what the echoes show, the user re-queueing what never arrived, one more round)
every reply is on the marketplace exactly once. Slow: runs in ``make soak``."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from chatdesk.store import outbox, views
from chatdesk.store.db import Database
from tests.e2e.conftest import TOKEN, Cli, start_sandbox
from tests.reliability import cli_env

CONFIG = 'poll_interval = 60\nsending_window = ["00:00", "23:59"]\n'
SEND = "/api/v1/seller/message"


def _seller_texts(truth: dict) -> list[str]:  # type: ignore[type-arg]
    return [m["text"] for ms in truth["messages"].values() for m in ms if m["author"] == "seller"]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", [1, 2])
def test_two_daemons_killed_at_random_deliver_each_reply_exactly_once(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    sandbox = start_sandbox(tmp_path / "sandbox.log", "--chats", "4", "--seed", str(seed))
    home = tmp_path / "home"
    cli = Cli(cli_env(home))
    procs: dict[str, subprocess.Popen[str]] = {}
    kills = 0
    try:
        cli.run("account", "add", "wildberries", "wb", "--base-url", sandbox.url("wb"), input=TOKEN + "\n")
        (home / "config.toml").write_text(CONFIG)
        cli.run("sync", "--once")
        db = Database(f"sqlite:///{home / 'chatdesk.db'}")
        chats = [c for c in views.list_chats(db) if c.kind == "chat" and c.status != "FINISHED"]
        texts = [f"Ответ {n} {uuid.uuid4().hex[:6]}" for n in range(8)]
        for n, text in enumerate(texts):
            outbox.enqueue(db, chats[n % len(chats)].id, text)
        faults = [
            {
                "kind": "status",
                "prefix": "wb",
                "path": SEND,
                "status": 429,
                "headers": {"X-Ratelimit-Retry": "1"},
                "times": 2,
            },
            {"kind": "status", "prefix": "wb", "path": SEND, "status": 500, "times": 1},
            {"kind": "reset", "prefix": "wb", "path": SEND, "times": 2},
        ]
        for f in faults:
            sandbox.post("fault", f)

        def start(name: str) -> None:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "chatdesk", "sync"],
                env=cli.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )

        start("A")
        start("B")
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.5, 3.0))
            victim = rng.choice(["A", "B"])
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait(10)
            kills += 1
            time.sleep(rng.uniform(0.0, 0.5))
            start(victim)
        for p in procs.values():
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        # healing: the marketplace is healthy (faults consumed or cleared by the rounds below)
        for _ in range(3):
            sandbox.post("reset-counts", {})
            cli.run("sync", "--once", check=False)
        arrived = _seller_texts(sandbox.get("truth/wb"))  # type: ignore[arg-type]
        for m in [m for c in chats for m in views.list_messages(db, c.id)]:
            if m.author == "seller" and m.state in ("unknown", "failed"):
                assert m.text not in arrived, f"{m.text!r} arrived but is still {m.state}"
                outbox.requeue(db, m.id)  # the user checked: it never arrived (R)
        for _ in range(2):
            cli.run("sync", "--once", check=False)
        arrived = _seller_texts(sandbox.get("truth/wb"))  # type: ignore[arg-type]
        counts = {t: arrived.count(t) for t in texts}
        print(f"\nreal two-process run (seed {seed}): {kills} SIGKILLs, replies delivered {counts}")
        assert all(n == 1 for n in counts.values()), counts
        states = [m.state for c in chats for m in views.list_messages(db, c.id) if m.text in texts]
        assert states.count("sent") == len(texts), states
        assert outbox.invariant_violations(db) == []
        db.close()
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(10)
        sandbox.proc.terminate()
        sandbox.proc.wait(10)
