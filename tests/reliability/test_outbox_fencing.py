"""Issue 12 §1: outbox ownership is fenced.

``outbox.TRANSITIONS`` is the state machine as data; ``test_every_transition_matches_the_table``
drives the real SQL through every (state, event, actor) combination and checks the outcome
and the invariants (``done`` never disagrees with the state, no ``sending`` row without owner).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest

from chatdesk.errors import UsageError
from chatdesk.model import MessageInfo, Page
from chatdesk.store import accounts, ingest, outbox
from chatdesk.store.db import Database

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TEXT = "Отправили сегодня"


def _world(store_url: str) -> tuple[Database, int, int]:
    """One chat with a buyer message, on the engine under test (``store_url``: both)."""
    db = Database(store_url)
    acc = accounts.add_account(db, "wb", "wildberries")
    ingest.apply_page(db, acc.id, "chats", Page(messages=(MessageInfo("c1", "b1", "buyer", "Где заказ?", T0),)))
    from chatdesk.store import views

    return db, acc.id, views.list_chats(db)[0].id


def _echo(db: Database, acc_id: int, n: int = 1) -> None:
    page = Page(messages=(MessageInfo("c1", f"echo{n}", "seller", TEXT, T0 + timedelta(minutes=n)),))
    ingest.apply_page(db, acc_id, "chats", page)


def _setup(db: Database, acc_id: int, chat_id: int, state: str):  # type: ignore[no-untyped-def]
    """A row in ``state``; returns (message id, owner job, stale job)."""
    mid = outbox.enqueue(db, chat_id, TEXT)
    (old,) = outbox.claim_due(db, acc_id, "A")
    assert outbox.retry_later(db, old, T0, "429")  # back to queued; ``old`` is now stale
    if state == "queued":
        return mid, old, old
    (job,) = outbox.claim_due(db, acc_id, "A", message_id=mid)
    assert job.claim_token == old.claim_token + 1
    if state == "sending":
        return mid, job, old
    if state == "sent":  # reconciled by its echo while the owner still works
        _echo(db, acc_id)
        return mid, job, old
    {"failed": outbox.mark_failed, "unknown": outbox.mark_unknown}[state](db, job, "x")
    return mid, job, old


def _apply(db: Database, acc_id: int, mid: int, event: str, job) -> None:  # type: ignore[no-untyped-def]
    calls = {
        "begin_part": lambda: outbox.begin_part(db, job, 0),
        "part_accepted": lambda: outbox.part_accepted(db, job, 0),
        "renew": lambda: outbox.renew(db, job),
        "accepted": lambda: outbox.mark_sent(db, job),
        "refused": lambda: outbox.mark_failed(db, job, "refused"),
        "ambiguous": lambda: outbox.mark_unknown(db, job, "timeout"),
        "not_reached": lambda: outbox.retry_later(db, job, T0, "down"),
        "claim": lambda: outbox.claim_due(db, acc_id, "C", message_id=mid),
        "takeover": lambda: outbox.settle_interrupted(db, acc_id, gone=lambda _o: True),
        "echo": lambda: _echo(db, acc_id, 7),
        "requeue": lambda: outbox.requeue(db, mid),
        "confirm": lambda: outbox.confirm_sent(db, mid),
    }
    if event == "takeover_in_flight":
        outbox.begin_part(db, job, 0)
        event = "takeover"
    with contextlib.suppress(UsageError):  # a refused user action changes nothing
        calls[event]()


@pytest.mark.parametrize("key", sorted(outbox.TRANSITIONS), ids=lambda k: "-".join(k))
def test_every_transition_matches_the_table(store_url, key: tuple[str, str, str]) -> None:  # type: ignore[no-untyped-def]
    state, event, actor = key
    db, acc_id, chat_id = _world(store_url)
    mid, owner_job, stale_job = _setup(db, acc_id, chat_id, state)
    assert outbox.message_state(db, mid)[0] == state
    if event == "takeover_in_flight" and state != "sending":
        owner_job = stale_job
    _apply(db, acc_id, mid, event, stale_job if actor == "stale" else owner_job)
    expected = outbox.TRANSITIONS[key] or state
    assert outbox.message_state(db, mid)[0] == expected
    assert outbox.invariant_violations(db) == []


def test_the_table_covers_every_state_event_and_actor() -> None:
    states = {k[0] for k in outbox.TRANSITIONS}
    assert states == {"queued", "sending", "sent", "failed", "unknown"}
    for s in states:
        for ev in ("begin_part", "part_accepted", "renew", "accepted", "refused", "ambiguous", "not_reached"):
            assert (s, ev, "owner") in outbox.TRANSITIONS and (s, ev, "stale") in outbox.TRANSITIONS
        for ev in ("claim", "takeover", "takeover_in_flight", "echo", "requeue", "confirm"):
            assert (s, ev, "any") in outbox.TRANSITIONS


def test_issue_example_a_stale_owner_cannot_undo_the_new_owners_send(store_url) -> None:  # type: ignore[no-untyped-def]
    """Process A claims reply 2 and sleeps in its rate limiter past its lease; B takes the row
    (A is judged gone: nothing was on the wire, so it is queued again, not "unknown"), sends it;
    A wakes: it may not send (begin_part refused) and its 429 verdict is refused too. The row
    ends sent and done, delivered once."""
    db, acc_id, chat_id = _world(store_url)
    mid = outbox.enqueue(db, chat_id, TEXT)
    (a_job,) = outbox.claim_due(db, acc_id, "A")
    assert outbox.settle_interrupted(db, acc_id, gone=lambda owner: owner == "A") == 1
    assert outbox.message_state(db, mid)[0] == "queued"
    (b_job,) = outbox.claim_due(db, acc_id, "B")
    assert outbox.begin_part(db, b_job, 0) and outbox.part_accepted(db, b_job, 0) and outbox.mark_sent(db, b_job)
    assert not outbox.begin_part(db, a_job, 0)  # A must not send
    assert not outbox.retry_later(db, a_job, T0, "rate limited")  # nor reopen B's verdict
    assert outbox.message_state(db, mid)[0] == "sent"
    assert outbox.pending_count(db) == 0 and outbox.invariant_violations(db) == []


def test_a_live_owner_keeps_its_claim_past_any_wall_clock(store_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """While the owner renews (heartbeat), no other process judges the row interrupted."""
    db, acc_id, chat_id = _world(store_url)
    outbox.enqueue(db, chat_id, TEXT)
    (job,) = outbox.claim_due(db, acc_id, "A")
    assert outbox.renew(db, job, ttl=3600)
    assert outbox.settle_interrupted(db, acc_id, gone=lambda _o: False) == 0
    assert outbox.claim_due(db, acc_id, "B") == []


def test_dead_process_on_this_host_is_gone_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    host = socket.gethostname()
    assert outbox.owner_is_gone(f"{host}:{proc.pid}:abc")
    import os

    assert not outbox.owner_is_gone(f"{host}:{os.getpid()}:abc")
    assert not outbox.owner_is_gone(f"otherhost:{proc.pid}:abc")  # other hosts: the lease decides


def test_an_echo_settles_failed_and_unknown_rows(store_url) -> None:  # type: ignore[no-untyped-def]
    db, acc_id, chat_id = _world(store_url)
    mid = outbox.enqueue(db, chat_id, TEXT)
    (job,) = outbox.claim_due(db, acc_id, "A")
    outbox.mark_failed(db, job, "Wildberries refused: file.pdf: upload error")
    _echo(db, acc_id)
    assert outbox.message_state(db, mid) == ("sent", None)
    with pytest.raises(UsageError):
        outbox.requeue(db, mid)  # nothing left to re-send
    assert outbox.invariant_violations(db) == []


# ----------------------------------------------------------------------------- the engine


def test_a_rate_limit_never_holds_the_other_replies_claimed(store_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue example, engine level: reply 1 gets a 190 s rate limit. Process A must not keep
    reply 2 claimed while it waits: reply 2 stays queued and unowned, A claims nothing while its
    limiter is blocked, and process B delivers reply 2 once."""
    import asyncio
    from collections.abc import Mapping

    import httpx

    from chatdesk.connectors.base import Connector, Limits, RateLimited
    from chatdesk.secrets import MemorySecrets
    from chatdesk.store.schema import Outbox
    from chatdesk.sync import SyncEngine
    from chatdesk.sync import core as sync_core

    sent: list[str] = []

    class Limited(Connector):
        marketplace = "fake"
        label = "Fake"
        limits: Mapping[str, Limits] = {"chat": Limits(max_text=100)}

        async def poll(self, stream, cursor, known):  # type: ignore[no-untyped-def,override]
            return
            yield

        async def send(self, chat, text, files=()):  # type: ignore[no-untyped-def,override]
            if text == "reply 1":
                self.limiter.block("send", 190)
                raise RateLimited("429", retry_after=190)
            await self.limiter.acquire("send")
            sent.append(text)

        async def download(self, chat, attachment, sink=None, cap=None):  # type: ignore[no-untyped-def,override]
            raise NotImplementedError

        async def test(self) -> str:
            return "ok"

    monkeypatch.setattr(sync_core, "connector_class", lambda _m: Limited)
    db, acc_id, chat_id = _world(store_url)
    first = outbox.enqueue(db, chat_id, "reply 1")
    second = outbox.enqueue(db, chat_id, "reply 2")

    def engine(owner: str) -> SyncEngine:
        return SyncEngine(
            db, secrets=MemorySecrets({"wb": "t"}), owner=owner, client_factory=lambda _a: httpx.AsyncClient()
        )

    async def deliver(eng: SyncEngine, again: bool = False) -> None:
        try:
            await eng.deliver_account(acc_id)
            if again:
                await eng.deliver_account(acc_id)
        finally:
            await eng.aclose()

    a = engine("A")
    asyncio.run(deliver(a, again=True))
    with db.read() as s:
        row2 = s.get(Outbox, 2)
        assert row2 is not None and row2.claimed_by is None and row2.attempts == 0
    assert outbox.message_state(db, first)[0] == "queued" and outbox.message_state(db, second)[0] == "queued"
    b = engine("B")
    asyncio.run(deliver(b))
    assert sent == ["reply 2"] and outbox.message_state(db, second)[0] == "sent"
    assert outbox.invariant_violations(db) == []
