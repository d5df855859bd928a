"""Cursor and stream-state writes are fenced by the account's lease (issue 15, item 2).

Two sync engines on one store (both engines of the store): A polls an account and is paused
in the middle of its round (a suspended VM) past its lease; B takes the lease over (the
fencing counter grows) and polls everything; A wakes up holding pages from before. Every write
of A's round is refused, the round is abandoned with a logged reason; no message is lost and
the cursor never goes backwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from chatdesk.connectors.base import ChatRef, Connector, Download, KnownChat, Limits, MessageInfo, OutgoingFile, Page
from chatdesk.secrets import MemorySecrets
from chatdesk.store import accounts, ingest, views
from chatdesk.store.db import Database
from chatdesk.store.fencing import LeaseHolder, LeaseLost
from chatdesk.store.schema import Lease, SyncState
from chatdesk.sync import SyncEngine
from chatdesk.sync import core as sync_core

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
FEED = [MessageInfo("c1", f"b{i}", "buyer", f"вопрос {i}", T0) for i in range(6)]


class Pause:
    """The first poll stops after its ``after``-th page until ``gate`` is set."""

    def __init__(self, after: int = 1) -> None:
        self.paused = asyncio.Event()
        self.gate = asyncio.Event()
        self.armed = True
        self.after = after


PAUSE = Pause()


class PausingConnector(Connector):
    marketplace = "fake"
    label = "Fake"
    streams = ("chats",)
    limits: Mapping[str, Limits] = {"chat": Limits(max_text=100)}

    async def poll(self, stream: str, cursor: str | None, known: Mapping[str, KnownChat]) -> AsyncIterator[Page]:
        pause, PAUSE.armed = PAUSE.armed, False
        start = int(cursor or 0)
        for i in range(start, len(FEED), 2):
            yield Page(messages=tuple(FEED[i : i + 2]), cursor=str(i + 2))
            if pause and i == start + 2 * (PAUSE.after - 1):
                PAUSE.paused.set()
                await PAUSE.gate.wait()  # paused: meanwhile the lease runs out and B takes over

    async def send(self, chat: ChatRef, text: str, files: tuple[OutgoingFile, ...] = ()) -> None:
        raise AssertionError("nothing is sent here")

    async def download(self, chat: ChatRef, attachment) -> Download:  # type: ignore[no-untyped-def]
        return Download(content=b"")

    async def test(self) -> str:
        return "ok"


@pytest.fixture(autouse=True)
def _connector(monkeypatch: pytest.MonkeyPatch) -> None:
    global PAUSE
    PAUSE = Pause()
    monkeypatch.setattr(sync_core, "connector_class", lambda _m: PausingConnector)


def _engine(db: Database, owner: str) -> SyncEngine:
    eng = SyncEngine(
        db, secrets=MemorySecrets({"shop": "tok"}), owner=owner, client_factory=lambda _a: httpx.AsyncClient()
    )
    eng.COMMIT_BATCH = 1  # type: ignore[misc]  # every page commits with its cursor at once
    return eng


def _expire_lease(db: Database, account_id: int) -> None:
    """What a long pause does: the lease's expiry passes (by the database's clock)."""
    with db.write() as s:
        s.execute(
            update(Lease).where(Lease.account_id == account_id).values(expires_at=datetime(2000, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("after", [1, 2])  # A pauses after its first or its second page
async def test_a_daemon_paused_past_its_lease_cannot_write_over_the_new_holder(
    db: Database, caplog: pytest.LogCaptureFixture, after: int
) -> None:
    global PAUSE
    PAUSE = Pause(after)
    acc = accounts.add_account(db, "shop", "wildberries")
    a, b = _engine(db, "host-a:1:aaaa"), _engine(db, "host-b:2:bbbb")
    try:
        round_a = asyncio.ensure_future(a.poll_account(acc.id, force=True))
        await asyncio.wait_for(PAUSE.paused.wait(), 30)
        await asyncio.sleep(0.3)  # A's pages so far are committed (cursor 2 or 4)
        assert ingest.get_cursor(db, acc.id, "chats") == str(2 * after)
        fence_a = accounts.take_lease(db, acc.id, "host-a:1:aaaa", 120)
        _expire_lease(db, acc.id)

        res_b = await b.poll_account(acc.id, force=True)  # B takes over and reads everything
        assert res_b.polled and res_b.ok, res_b
        assert accounts.lease_owner(db, acc.id) == "host-b:2:bbbb"
        assert ingest.get_cursor(db, acc.id, "chats") == "6"
        state_b = ingest.stream_state(db, acc.id, "chats")

        with caplog.at_level(logging.WARNING, logger="chatdesk.sync"):
            PAUSE.gate.set()  # A wakes up with its stale pages (cursor 4 or 6)
            res_a = await asyncio.wait_for(round_a, 30)
        assert ingest.get_cursor(db, acc.id, "chats") == "6"  # never backwards
        assert "round abandoned" in (res_a.note or "")
        assert any("lease" in r.getMessage() and "round abandoned" in r.getMessage() for r in caplog.records)
        assert not a.is_polling(acc.id)
        state = ingest.stream_state(db, acc.id, "chats")
        assert (state.last_success_at, state.next_poll_at) == (state_b.last_success_at, state_b.next_poll_at)
        texts = sorted(m.text for m in views.list_messages(db, views.list_chats(db)[0].id))
        assert texts == sorted(m.text for m in FEED)  # none lost, none twice
        assert fence_a is not None
        fence_b = accounts.take_lease(db, acc.id, "host-b:2:bbbb", 120)
        assert fence_b == fence_a + 1

        # A's next round sees the lease held by B and does not poll at all.
        again = await a.poll_account(acc.id, force=True)
        assert not again.polled
    finally:
        PAUSE.gate.set()
        await a.aclose()
        await b.aclose()


def test_store_refuses_stale_cursor_and_state_writes(db: Database) -> None:
    acc = accounts.add_account(db, "shop", "wildberries")
    old = accounts.take_lease(db, acc.id, "a", 120)
    assert old is not None
    _expire_lease(db, acc.id)
    new = accounts.take_lease(db, acc.id, "b", 120)
    assert new == old + 1
    stale, current = LeaseHolder("a", old), LeaseHolder("b", new)

    ingest.apply_page(db, acc.id, "chats", Page(messages=tuple(FEED[:4]), cursor="4"), holder=current)
    ingest.record_attempt(db, acc.id, "chats", ok=True, holder=current)
    with pytest.raises(LeaseLost, match="held by b"):
        ingest.apply_page(db, acc.id, "chats", Page(messages=tuple(FEED[4:]), cursor="2"), holder=stale)
    with pytest.raises(LeaseLost):
        ingest.record_attempt(db, acc.id, "chats", ok=False, error="stale", error_kind="error", holder=stale)
    with pytest.raises(LeaseLost):  # the same owner with an old counter is stale too
        ingest.apply_page(db, acc.id, "chats", Page(cursor="1"), holder=LeaseHolder("b", old))
    assert ingest.get_cursor(db, acc.id, "chats") == "4"
    assert len(views.list_messages(db, views.list_chats(db)[0].id)) == 4  # nothing of the stale page
    with db.read() as s:
        st = s.get(SyncState, ingest.stream_state(db, acc.id, "chats").id)
        assert st is not None and st.last_error is None and st.failures == 0

    _expire_lease(db, acc.id)  # even the holder itself may not write once its lease ran out
    with pytest.raises(LeaseLost, match="expired"):
        ingest.apply_page(db, acc.id, "chats", Page(cursor="9"), holder=current)
    accounts.release_lease(db, acc.id, "b")
    with pytest.raises(LeaseLost):
        ingest.record_attempt(db, acc.id, "chats", ok=True, holder=current)


async def test_a_lapsed_holder_abandons_its_round_and_the_next_one_completes(db: Database) -> None:
    """Nobody took over, but the lease ran out during the pause: the round is still abandoned
    (its writes are refused), and the next round re-takes the lease and catches up."""
    acc = accounts.add_account(db, "shop", "wildberries")
    a = _engine(db, "host-a:1:aaaa")
    try:
        round_a = asyncio.ensure_future(a.poll_account(acc.id, force=True))
        await asyncio.wait_for(PAUSE.paused.wait(), 30)
        await asyncio.sleep(0.3)
        _expire_lease(db, acc.id)
        PAUSE.gate.set()
        res = await asyncio.wait_for(round_a, 30)
        assert "round abandoned" in (res.note or "")
        assert ingest.get_cursor(db, acc.id, "chats") == "2"
        again = await a.poll_account(acc.id, force=True)
        assert again.polled and again.ok
        assert ingest.get_cursor(db, acc.id, "chats") == "6"
        texts = sorted(m.text for m in views.list_messages(db, views.list_chats(db)[0].id))
        assert texts == sorted(m.text for m in FEED)
    finally:
        PAUSE.gate.set()
        await a.aclose()


# ----------------------------------------------------------------------------- property

_OPS = st.lists(
    st.tuples(st.sampled_from(("take", "write", "expire")), st.sampled_from(("a", "b", "c"))),
    min_size=1,
    max_size=25,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
def test_any_interleaving_of_takeovers_and_writes_never_moves_the_cursor_back(db: Database, ops) -> None:  # type: ignore[no-untyped-def]
    """Three engines take the lease, write pages from the cursor they read when they took it,
    and lose the lease to expiry and to each other in any order. A write is accepted exactly
    when its engine holds the current, unexpired lease; the stored cursor never goes back; and
    every accepted page's message is stored."""
    global _ACCOUNTS
    _ACCOUNTS += 1
    acc = accounts.add_account(db, f"shop{_ACCOUNTS}", "wildberries")
    holders: dict[str, LeaseHolder] = {}
    views_: dict[str, int] = {}  # the cursor each engine read when it took the lease
    model_owner: str | None = None
    model_expired = False
    accepted: list[str] = []
    last = 0
    for n, (op, who) in enumerate(ops):
        if op == "expire":
            _expire_lease(db, acc.id)
            model_expired = model_owner is not None
        elif op == "take":
            fence = accounts.take_lease(db, acc.id, who, 120)
            assert (fence is not None) == (model_owner in (None, who) or model_expired)
            if fence is not None:
                model_owner, model_expired = who, False
                holders[who] = LeaseHolder(who, fence)
                views_[who] = int(ingest.get_cursor(db, acc.id, "chats") or 0)
        elif who in holders:
            ext = f"m{n}"
            page = Page(messages=(MessageInfo("c1", ext, "buyer", f"текст {n}", T0),), cursor=str(views_[who] + 1))
            try:
                ingest.apply_page(db, acc.id, "chats", page, holder=holders[who])
            except LeaseLost:
                assert not (model_owner == who and not model_expired)
            else:
                assert model_owner == who and not model_expired
                views_[who] += 1
                accepted.append(ext)
        cursor = int(ingest.get_cursor(db, acc.id, "chats") or 0)
        assert cursor >= last, f"cursor went back from {last} to {cursor}"
        last = cursor
    stored = {
        m.external_id for c in views.list_chats(db) if c.account_id == acc.id for m in views.list_messages(db, c.id)
    }
    assert set(accepted) <= stored


_ACCOUNTS = 0
