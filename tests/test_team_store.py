"""Team mode in the store, on both engines: leases judged by the database clock with a
fencing counter, several daemons splitting the accounts, claims that skip locked rows, and
change notification to other processes' views."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from chatdesk.model import Page
from chatdesk.store import accounts, ingest, outbox, views
from chatdesk.store.db import Database, utcnow
from chatdesk.store.schema import Outbox

from .test_store import msg


@pytest.fixture
def acc(db: Database):  # type: ignore[no-untyped-def]
    return accounts.add_account(db, "wb-main", "wildberries")


def test_fence_grows_on_takeover_not_on_renewal(db: Database, acc) -> None:  # type: ignore[no-untyped-def]
    f1 = accounts.take_lease(db, acc.id, "a", 60)
    assert f1 == 1
    assert accounts.take_lease(db, acc.id, "a", 60) == f1  # renewal keeps it
    assert accounts.take_lease(db, acc.id, "b", 60) is None
    assert accounts.take_lease(db, acc.id, "a", -1) == f1  # let it lapse
    f2 = accounts.take_lease(db, acc.id, "b", 60)
    assert f2 == f1 + 1
    assert accounts.holds_lease(db, acc.id, "b", f2)
    assert not accounts.holds_lease(db, acc.id, "a", f1)  # a paused "a" finds out it lost it
    assert not accounts.holds_lease(db, acc.id, "b", f1)


def test_lease_expiry_is_judged_by_the_database_clock(db: Database, acc, engine_name, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A host whose clock runs an hour ahead must not think another host's fresh lease expired."""
    assert accounts.take_lease(db, acc.id, "host-a", 60) is not None
    import chatdesk.store.accounts as mod

    monkeypatch.setattr(mod, "utcnow", lambda: utcnow() + timedelta(hours=1))
    got = accounts.take_lease(db, acc.id, "host-b-skewed", 60)
    if engine_name == "postgresql":
        assert got is None  # now() on the server decides
        assert accounts.lease_owner(db, acc.id) == "host-a"
    else:
        assert got is not None  # one machine, one clock: SQLite uses it


def test_outbox_claim_skips_rows_locked_by_another_claim(db: Database, acc, engine_name) -> None:  # type: ignore[no-untyped-def]
    if engine_name != "postgresql":
        pytest.skip("SQLite serializes claims with its write lock")
    ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("c1", "e1", "buyer", "Вопрос", 0),)))
    chat = views.list_chats(db)[0]
    first = outbox.enqueue(db, chat.id, "один")
    second = outbox.enqueue(db, chat.id, "два")
    with db.write() as s:  # another process is in the middle of claiming the first row
        s.execute(select(Outbox.id).where(Outbox.message_id == first).with_for_update())
        started = time.monotonic()
        got: list[list[outbox.OutboxJob]] = []
        t = threading.Thread(target=lambda: got.append(outbox.claim_due(db, acc.id, "other")))
        t.start()
        t.join(10)
        assert time.monotonic() - started < 5  # did not wait for the lock
    assert [j.message_id for j in got[0]] == [second]


def test_other_processes_see_changes(db: Database, store_url: str, acc) -> None:  # type: ignore[no-untyped-def]
    other = Database(store_url)  # another process's handle (a TUI on another host)
    try:
        v0 = other.data_version()
        assert v0 is not None
        ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("c1", "e1", "buyer", "Новое", 0),)))
        deadline = time.monotonic() + 5
        while other.data_version() == v0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert other.data_version() != v0
    finally:
        other.close()


def test_postgresql_watch_falls_back_to_polling_without_listen(db: Database, store_url: str, acc, engine_name) -> None:  # type: ignore[no-untyped-def]
    if engine_name != "postgresql":
        pytest.skip("PostgreSQL's LISTEN/NOTIFY")
    other = Database(store_url)
    try:
        other.data_version()
        other._listen_conn.close()  # type: ignore[union-attr]  # e.g. a pooler that drops LISTEN

        def broken_connect(*_a: object, **_k: object) -> None:
            import psycopg

            raise psycopg.OperationalError("LISTEN not available")

        import psycopg

        real = psycopg.connect
        psycopg.connect = broken_connect  # type: ignore[assignment]
        try:
            v0 = other.data_version()
            assert v0 is not None
            ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("c1", "e1", "buyer", "Новое", 0),)))
            assert other.data_version() != v0
        finally:
            psycopg.connect = real
    finally:
        other.close()


class _Daemon(threading.Thread):
    """A sync daemon's lease loop with a fake poll that records (account, owner, start, end)."""

    def __init__(self, url: str, name: str, ttl: float, log: list[tuple[int, str, float, float]]) -> None:
        super().__init__(daemon=True)
        self.db = Database(url)
        self.owner = name
        self.ttl = ttl
        self.log = log
        self.killed = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        ids = [a.id for a in accounts.list_accounts(self.db)]
        while not self.stop.is_set() and not self.killed.is_set():
            workers = accounts.heartbeat_worker(self.db, self.owner, self.ttl)
            share = -(-len(ids) // workers)
            for account_id in ids:
                if self.killed.is_set():
                    return  # SIGKILL: no release, no goodbye
                fence = accounts.take_lease(self.db, account_id, self.owner, self.ttl, share=share)
                if fence is None:
                    continue
                start = time.monotonic()
                time.sleep(0.01)  # "polling"
                if accounts.holds_lease(self.db, account_id, self.owner, fence):
                    self.log.append((account_id, self.owner, start, time.monotonic()))
            time.sleep(0.05)


def test_three_daemons_split_accounts_and_take_over_a_killed_ones(db: Database, store_url: str) -> None:
    ids = [accounts.add_account(db, f"acc{i}", "wildberries").id for i in range(6)]
    log: list[tuple[int, str, float, float]] = []
    ttl = 1.5
    daemons = [_Daemon(store_url, f"host{i}:1:d{i}", ttl, log) for i in range(3)]
    for d in daemons:
        d.start()

    def window() -> tuple[dict[int, set[str]], dict[str, int]]:
        """Who polled each account during the last second."""
        settled = time.monotonic()
        time.sleep(1.0)
        recent = {(a, o) for a, o, s, _ in log if s >= settled}
        owners = {a: {o for x, o in recent if x == a} for a in ids}
        return owners, {d.owner: sum(1 for o in owners.values() if d.owner in o) for d in daemons}

    # Settle: each takes its share. Watched in one-second windows (at most the 3 x ttl the
    # shares need, plus the window) instead of a fixed sleep: the same check, less waiting.
    give_up = time.monotonic() + 3 * ttl
    owners, per_daemon = window()
    while time.monotonic() < give_up and not (
        all(len(o) == 1 for o in owners.values()) and sorted(per_daemon.values()) == [2, 2, 2]
    ):
        owners, per_daemon = window()
    assert all(len(o) == 1 for o in owners.values()), owners  # every account polled, by one daemon
    assert sorted(per_daemon.values()) == [2, 2, 2], per_daemon

    victim = daemons[0]
    victim.killed.set()
    killed_at = time.monotonic()
    victim_accounts = {a for a, o in owners.items() if victim.owner in o}

    def taken() -> set[int]:
        return {a for a, o, s, _ in log if s > killed_at + ttl and a in victim_accounts and o != victim.owner}

    give_up = killed_at + 3 * ttl + 1.0  # the former fixed wait, now the limit
    while taken() != victim_accounts and time.monotonic() < give_up:
        time.sleep(0.1)
    assert taken() == victim_accounts  # the dead daemon's accounts were taken over
    for d in daemons[1:]:
        d.stop.set()
    for d in daemons:
        d.join(5)
        d.db.close()
    # Never two daemons polling one account at the same time.
    by_account: dict[int, list[tuple[float, float, str]]] = {}
    for a, o, s, e in log:
        by_account.setdefault(a, []).append((s, e, o))
    for a, spans in by_account.items():
        spans.sort()
        for (_s1, e1, o1), (s2, _e2, o2) in itertools.pairwise(spans):
            assert o1 == o2 or s2 >= e1, (a, o1, o2)
