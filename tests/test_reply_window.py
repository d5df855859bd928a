"""UX finding 1: Ozon's 48-hour reply window is a hard limit of the one rule check used by the
composer, ``send`` (``replies.precheck``), follow-up scheduling and the follow-up's send-time
re-check, read from ``chatdesk/marketplaces.py``; its advice never asks for the impossible."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from chatdesk import marketplaces, rules
from chatdesk.config import Config
from chatdesk.demo import setup
from chatdesk.errors import UsageError
from chatdesk.sandbox import build_sandbox
from chatdesk.store import followups as store_followups
from chatdesk.store import views
from chatdesk.store.db import to_db
from chatdesk.store.schema import Chat, Message
from chatdesk.sync import SyncEngine
from chatdesk.usecases import followups, replies

ALL_DAY = Config(sending_window=("00:00", "23:59"), timezone="Europe/Moscow")


def _chat(marketplace: str, last_buyer_at: datetime | None, kind: str = "chat") -> views.ChatRow:
    return views.ChatRow(
        id=32,
        account_id=1,
        account="main",
        marketplace=marketplace,
        kind=kind,
        external_id="x",
        customer="Покупатель",
        order_id="71256380-2005-1",
        product_id=None,
        status="OPENED",
        unread=0,
        waiting=True,
        last_message_at=last_buyer_at,
        last_buyer_at=last_buyer_at,
        preview="",
        context={},
    )


def test_window_length_is_read_from_the_marketplace_table(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    chat = _chat("ozon", now - timedelta(hours=30))
    assert rules.window_finding(chat, now, now) is None
    shorter = dataclasses.replace(marketplaces.OZON, reply_window=timedelta(hours=24))
    monkeypatch.setattr(marketplaces, "MARKETPLACES", {**marketplaces.MARKETPLACES, "ozon": shorter})
    late = rules.window_finding(chat, now, now)
    assert late is not None and "24 h" in late.reason


def test_closed_window_is_a_hard_finding_with_possible_advice() -> None:
    now = datetime.now(UTC)
    two_days = _chat("ozon", now - timedelta(days=2, minutes=5))
    found = rules.check_chat("Здравствуйте! Отправили замену.", two_days, now=now)
    assert [f.code for f in rules.hard(found)] == ["window_closed"]
    reason = found[0].reason
    assert "closed 5 min ago" in reason and "48 h" in reason
    assert "earlier" not in reason and "pick" not in reason  # nothing a seller could do


def test_open_window_allows_a_reply_and_wb_has_no_window() -> None:
    now = datetime.now(UTC)
    assert rules.check_chat("Спасибо!", _chat("ozon", now - timedelta(hours=47, minutes=50)), now=now) == []
    assert rules.check_chat("Спасибо!", _chat("wildberries", now - timedelta(days=20)), now=now) == []
    never = rules.check_chat("Спасибо!", _chat("ozon", None), now=now)
    assert [f.code for f in never] == ["window_closed"]


def test_follow_up_after_the_window_is_refused_with_the_time_left() -> None:
    now = datetime.now(UTC)
    chat = _chat("ozon", now - timedelta(hours=2))
    late = rules.window_finding(chat, now + timedelta(days=3), now)
    assert late is not None and "closes in 46 h" in late.reason and "before then" in late.reason
    assert rules.window_finding(chat, now + timedelta(hours=40), now) is None


def test_send_precheck_refuses_a_closed_ozon_window() -> None:
    """`chatdesk send` and the composer's queue both go through replies.precheck."""
    chat = _chat("ozon", datetime.now(UTC) - timedelta(days=2))
    with pytest.raises(UsageError, match="reply window closed"):
        replies.precheck(chat, "Здравствуйте!", [], force=True)  # --force keeps warnings, never hard limits


@pytest.fixture
def ozon_world(tmp_path: Path):  # type: ignore[no-untyped-def]
    sandbox = build_sandbox(chats=4, marketplaces=("ozon",))
    db, secrets, _engine = setup(tmp_path, sandbox)
    transport = sandbox.transport()
    engine = SyncEngine(
        db, secrets=secrets, config=ALL_DAY, owner="t", client_factory=lambda _a: httpx.AsyncClient(transport=transport)
    )

    async def once() -> None:
        await engine.run_once()
        await engine.aclose()

    asyncio.run(once())
    chat = next(c for c in views.list_chats(db, views.ChatFilter(marketplace="ozon")) if c.kind == "chat")
    return db, chat


def _messages(db, chat_id: int) -> int:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return int(s.execute(select(func.count()).where(Message.chat_id == chat_id)).scalar_one())


def _set_last_buyer(db, chat_id: int, when: datetime) -> None:  # type: ignore[no-untyped-def]
    with db.write() as s:
        s.execute(update(Chat).where(Chat.id == chat_id).values(last_buyer_at=to_db(when)))  # type: ignore[arg-type]


def test_queue_and_schedule_refuse_before_anything_is_stored(ozon_world) -> None:  # type: ignore[no-untyped-def]
    db, chat = ozon_world
    now = datetime.now(UTC)
    _set_last_buyer(db, chat.id, now - timedelta(days=2))
    before = _messages(db, chat.id)
    with pytest.raises(UsageError, match="reply window closed"):
        replies.queue_reply(db, chat.id, "Добрый день!")
    with pytest.raises(UsageError, match="reply window closed"):
        followups.schedule(db, ALL_DAY, chat.id, now + timedelta(days=1), "Как вам товар?")
    assert store_followups.list_followups(db, chat_id=chat.id) == []
    assert _messages(db, chat.id) == before  # nothing queued
    # Window open, but the follow-up's time is after it closes: refused at scheduling time.
    _set_last_buyer(db, chat.id, now - timedelta(hours=1))
    with pytest.raises(UsageError, match=r"closes in 4[67] h"):
        followups.schedule(db, ALL_DAY, chat.id, now + timedelta(days=3), "Как вам товар?")
    assert followups.schedule(db, ALL_DAY, chat.id, now + timedelta(hours=20), "Как вам товар?") > 0


def test_due_follow_up_expires_with_the_same_reason() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    due = store_followups.DueCheck(
        followup_id=1,
        chat_id=1,
        marketplace="ozon",
        kind="chat",
        text="Добрый день!",
        status="OPENED",
        last_buyer_at=now - timedelta(hours=49),
        created_at=now - timedelta(hours=40),
        cancel_if_buyer_writes=True,
    )
    verdict, reason = followups.decide(due, now, ALL_DAY)
    assert verdict == "expired" and "closed 1 h ago" in str(reason)
