"""Issue 12 §3: follow-up cancellation by order of arrival, never by two clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chatdesk.config import Config
from chatdesk.model import MessageInfo, Page
from chatdesk.store import accounts, ingest, views
from chatdesk.store import followups as store_followups
from chatdesk.store.db import Database, utcnow
from chatdesk.usecases import followups

ALL_DAY = Config(sending_window=("00:00", "23:59"))


def _chat(store_url: str) -> tuple[Database, int, int]:
    db = Database(store_url)  # both engines: order of arrival must not depend on one
    acc = accounts.add_account(db, "wb", "wildberries")
    old = utcnow() - timedelta(days=2)
    ingest.apply_page(db, acc.id, "chats", Page(messages=(MessageInfo("c1", "b1", "buyer", "Спасибо", old),)))
    return db, acc.id, views.list_chats(db)[0].id


def test_marketplace_clock_behind_ours_still_cancels_on_a_later_buyer_message(store_url: str) -> None:
    db, acc_id, chat_id = _chat(store_url)
    fid = followups.schedule(db, ALL_DAY, chat_id, utcnow() + timedelta(days=3), "Как вам товар?")
    # The buyer complains after scheduling; the marketplace stamps it 10 minutes in our past.
    behind = utcnow() - timedelta(minutes=10)
    ingest.apply_page(db, acc_id, "chats", Page(messages=(MessageInfo("c1", "b2", "buyer", "Товар сломан!", behind),)))
    row = store_followups.get(db, fid)
    assert row.state == "cancelled" and "wrote after" in (row.reason or "")


def test_send_time_recheck_uses_order_of_arrival(store_url: str) -> None:
    """Even if ingest's cancel missed it, the send-time check decides by arrival order."""
    db, _acc_id, chat_id = _chat(store_url)
    fid = followups.schedule(db, ALL_DAY, chat_id, utcnow() - timedelta(minutes=1), "Как вам товар?")
    with db.write() as s:  # a buyer message stored later, stamped far in the past
        from chatdesk.store.schema import Message

        s.add(
            Message(
                chat_id=chat_id,
                external_id="b3",
                author="buyer",
                text="Где?",
                created_at=datetime(2020, 1, 1, tzinfo=UTC),
            )
        )
    store_followups.deliver_due(db, lambda check, now: followups.decide(check, now, ALL_DAY))
    assert store_followups.get(db, fid).state == "cancelled"


def test_marketplace_clock_ahead_does_not_cancel_on_an_older_message(store_url: str) -> None:
    """A message that was already stored when scheduling never cancels, even stamped 'later'."""
    db, acc_id, chat_id = _chat(store_url)
    ahead = utcnow() + timedelta(minutes=10)
    ingest.apply_page(db, acc_id, "chats", Page(messages=(MessageInfo("c1", "b2", "buyer", "Ок", ahead),)))
    fid = followups.schedule(db, ALL_DAY, chat_id, utcnow() - timedelta(minutes=1), "Как вам товар?")
    store_followups.deliver_due(db, lambda check, now: followups.decide(check, now, ALL_DAY))
    assert store_followups.get(db, fid).state == "sending"  # queued into the outbox
