"""Outbox claims expire by the database's clock (issue 15, item 3), on both engines.

Two daemons on hosts whose clocks disagree by ten minutes share one store. The local clock of
the process running a statement is simulated by patching ``utcnow`` (what every local-clock
comparison in the store reads); the database's clock is untouched. Before the fix a claim was
written and judged by local clocks, so the second daemon saw a live claim as lapsed and
re-claimed the row: the buyer would get the reply twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from chatdesk.model import ChatInfo, MessageInfo, Page
from chatdesk.store import accounts, ingest, outbox, views
from chatdesk.store import db as store_db
from chatdesk.store.db import Database

SKEW = timedelta(minutes=10)


@contextmanager
def local_clock(monkeypatch: pytest.MonkeyPatch, skew: timedelta) -> Iterator[None]:
    """Run the block as a process whose host clock is off by ``skew``."""

    def skewed() -> datetime:
        return datetime.now(UTC) + skew

    with monkeypatch.context() as m:
        m.setattr(store_db, "utcnow", skewed)
        m.setattr(outbox, "utcnow", skewed)
        yield


@pytest.fixture
def queued(db: Database) -> tuple[int, int]:
    acc = accounts.add_account(db, "wb", "wildberries")
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            chats=(ChatInfo("c1"),),
            messages=(MessageInfo("c1", "b1", "buyer", "Где заказ?", datetime.now(UTC) - timedelta(minutes=5)),),
        ),
    )
    chat_id = views.list_chats(db)[0].id
    return acc.id, outbox.enqueue(db, chat_id, "Уже едет")


@pytest.mark.parametrize("skew_a, skew_b", [(-SKEW, timedelta(0)), (timedelta(0), SKEW)])
def test_a_live_claim_is_not_taken_over_by_a_host_with_another_clock(
    db: Database, queued: tuple[int, int], monkeypatch: pytest.MonkeyPatch, skew_a: timedelta, skew_b: timedelta
) -> None:
    account_id, message_id = queued
    with local_clock(monkeypatch, skew_a):  # daemon A (its clock behind, or right)
        jobs = outbox.claim_due(db, account_id, "host-a:1:aaaa", 1)
    assert [j.message_id for j in jobs] == [message_id]
    with local_clock(monkeypatch, skew_b):  # daemon B (right, or ahead) looks for lapsed claims
        assert outbox.settle_interrupted(db, account_id) == 0
        assert outbox.claim_due(db, account_id, "host-b:2:bbbb", 1) == []
    assert outbox.message_state(db, message_id)[0] == "sending"
    with local_clock(monkeypatch, skew_a):  # A is still the owner: its heartbeat and verdict hold
        assert outbox.renew(db, jobs[0])
        assert outbox.mark_sent(db, jobs[0])
    assert outbox.message_state(db, message_id)[0] == "sent"
    assert outbox.invariant_violations(db) == []


def test_a_lapsed_claim_is_taken_over_whatever_the_local_clock_says(
    db: Database, queued: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id, message_id = queued
    monkeypatch.setattr(outbox, "CLAIM_TTL", 1.0)
    with local_clock(monkeypatch, SKEW):  # A's clock runs ahead: its claim must not live longer
        jobs = outbox.claim_due(db, account_id, "host-a:1:aaaa", 1)
    assert jobs
    time.sleep(1.3)  # A stops renewing; by the database's clock its claim has lapsed
    with local_clock(monkeypatch, -SKEW):  # B's clock is behind: it still sees the lapse
        assert outbox.settle_interrupted(db, account_id) == 1
        again = outbox.claim_due(db, account_id, "host-b:2:bbbb", 1)
    assert [j.message_id for j in again] == [message_id]  # nothing was in flight: queued again
    assert not outbox.mark_sent(db, jobs[0])  # A's late verdict is fenced off
    assert outbox.mark_sent(db, again[0])
    assert outbox.invariant_violations(db) == []


def test_a_send_time_claim_from_enqueue_lives_by_the_database_clock(
    db: Database, queued: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id, _ = queued
    chat_id = views.list_chats(db)[0].id
    with local_clock(monkeypatch, -SKEW):  # `chatdesk send` on a host whose clock is behind
        ids = outbox.enqueue_parts(db, chat_id, [("Ответ", [])], owner="host-a:1:aaaa")
    with local_clock(monkeypatch, timedelta(0)):
        outbox.settle_interrupted(db, account_id)
        assert outbox.claim_due(db, account_id, "host-b:2:bbbb", 5, message_id=ids[0]) == []
    mine = outbox.claim_due(db, account_id, "host-a:1:aaaa", 5, mine=True)
    assert [j.message_id for j in mine] == ids
