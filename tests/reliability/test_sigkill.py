"""Crash consistency: ``chatdesk sync`` killed with SIGKILL at random points, many times.

The real CLI syncs three accounts (WB, Ozon, YM) from ``chatdesk sandbox serve`` on loopback
with small pages, so a sync is many requests and many committed pages; buyers keep writing
between runs. Each run is killed after a random delay (before the first page, mid-history,
during the outbox...). Whenever a run gets to finish, the store must equal the sandbox's
truth and SQLite's integrity check must pass; after the last kill a clean run converges.

A killed process leaves its poll lease behind; a restarted chatdesk on the same machine must
see that the owner is dead and take over at once instead of skipping the account for minutes.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatdesk.store import accounts
from chatdesk.store.db import Database
from tests.e2e.conftest import TOKEN, Cli, Sandbox, start_sandbox
from tests.reliability import assert_db_equals, cli_env, integrity_ok

ACCOUNTS = [
    ("wildberries", "wb", []),
    ("ozon", "ozon", ["--client-id", "123456"]),
    ("yandex", "ym", ["--business-id", "12345678"]),
]


def setup_accounts(cli: Cli, sandbox: Sandbox) -> None:
    for marketplace, prefix, flags in ACCOUNTS:
        cli.run("account", "add", marketplace, prefix, "--base-url", sandbox.url(prefix), *flags, input=TOKEN + "\n")


def assert_converged(db_path: Path, sandbox: Sandbox) -> None:
    db = Database(f"sqlite:///{db_path}", create=False)
    try:
        for _marketplace, prefix, _flags in ACCOUNTS:
            assert_db_equals(db, sandbox.get(f"truth/{prefix}"), prefix)  # type: ignore[arg-type]
    finally:
        db.close()


def message_count(db_path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM message").fetchone()[0])
    except sqlite3.OperationalError:  # killed before the schema was even created
        return 0
    finally:
        conn.close()


def kill_loop(tmp_path: Path, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    sandbox = start_sandbox(tmp_path / "sandbox.log", "--page-size", "2", "--chats", "10", "--seed", str(seed))
    try:
        home = tmp_path / "home"
        cli = Cli(cli_env(home))
        setup_accounts(cli, sandbox)
        db_path = home / "chatdesk.db"
        killed = completed = partial = 0
        for i in range(kills):
            for _ in range(rng.randint(0, 2)):  # the marketplaces keep moving
                prefix = rng.choice(ACCOUNTS)[1]
                sandbox.post(f"buyer/{prefix}", {"text": f"Новый вопрос {i}"} if rng.random() < 0.3 else {})
            proc = subprocess.Popen(
                [sys.executable, "-m", "chatdesk", "sync", "--once"],
                env=cli.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            if i == 0:
                # The first run is killed once the history has started to arrive, whatever the
                # machine's speed (a fixed delay killed it before start-up ended on a loaded host).
                deadline = time.monotonic() + 60
                while proc.poll() is None and message_count(db_path) == 0 and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.0, 0.2))
            else:
                time.sleep(rng.uniform(0.3, 3.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=30)
                killed += 1
                total = sum(
                    len(ms)
                    for _m, prefix, _f in ACCOUNTS
                    for ms in sandbox.get(f"truth/{prefix}")["messages"].values()  # type: ignore[index]
                )
                partial += 0 < message_count(db_path) < total  # killed in the middle of the history
            else:
                out, err = proc.communicate()
                assert proc.returncode == 0, err
                assert "database is locked" not in err
                assert "skipped" not in out, out  # a dead process's lease must not block the restart
                completed += 1
                assert_converged(db_path, sandbox)
            assert integrity_ok(db_path)
        # after the last crash a clean run converges (no lease left blocking it)
        done = cli.run("sync", "--once")
        assert "skipped" not in done.stdout, done.stdout
        assert_converged(db_path, sandbox)
        assert integrity_ok(db_path)
        assert killed >= kills // 2, f"only {killed} of {kills} runs were killed: the test did not test crashes"
        assert partial >= 1
        # idempotent: one more run adds nothing
        again = cli.run("sync", "--once").stdout
        assert again.count("0 new messages") == len(ACCOUNTS), again
    finally:
        sandbox.proc.terminate()
        sandbox.proc.wait(10)


@pytest.mark.timeout(240)
def test_sigkill_during_sync_never_corrupts_and_converges(tmp_path: Path) -> None:
    kill_loop(tmp_path, kills=12, seed=11)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_soak(tmp_path: Path, seed: int) -> None:
    kill_loop(tmp_path, kills=60, seed=seed)


def test_a_dead_processes_lease_is_taken_over_at_once(tmp_path: Path) -> None:
    """Unit-level: a lease whose owner pid is gone on this host does not block a new poller."""
    import os
    import socket

    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        acc = accounts.add_account(db, "a", "wildberries")
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        ghost = f"{socket.gethostname()}:{dead.pid}:deadbeef"
        assert accounts.acquire_lease(db, acc.id, ghost, 600)
        me = f"{socket.gethostname()}:{os.getpid()}:cafe0001"
        assert accounts.acquire_lease(db, acc.id, me, 600)
        assert accounts.lease_owner(db, acc.id) == me
        # a live owner (this very process, another engine) keeps its lease
        other = f"{socket.gethostname()}:{os.getpid()}:cafe0002"
        assert not accounts.acquire_lease(db, acc.id, other, 600)
        # an owner on another host is never presumed dead
        remote = "elsewhere.example:1:abcd0001"
        accounts.release_lease(db, acc.id, me)
        assert accounts.acquire_lease(db, acc.id, remote, 600)
        assert not accounts.acquire_lease(db, acc.id, me, 600)
    finally:
        db.close()
