"""A scheduled follow-up is a nudge, not an answer: the buyer who asked stays waiting, and no
response time, SLA or window share counts it (fuanswer item 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update

from chatdesk.assist import report
from chatdesk.config import Config
from chatdesk.model import ChatInfo, MessageInfo, Page
from chatdesk.store import accounts, events, ingest, views
from chatdesk.store import followups as store_followups
from chatdesk.store.db import Database
from chatdesk.store.schema import Account, Message

T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = T + timedelta(hours=60)
NUDGE = "Напоминаем: мы на связи"


def _m(ext: str, author: str, body: str, at: datetime) -> MessageInfo:
    return MessageInfo("c", ext, author, body, at)  # type: ignore[arg-type]


def _chat_with_question(db: Database) -> tuple[int, int]:
    acc = accounts.add_account(db, "oz", "ozon", settings={"client_id": "1"})
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            chats=(ChatInfo("c", customer="A", product_id="P1"),), messages=(_m("1", "buyer", "Хочу вернуть заказ", T),)
        ),
    )
    with db.write() as s:  # the account is older than the question: hooks see it as live, not history
        s.execute(update(Account).where(Account.id == acc.id).values(created_at=T - timedelta(days=1)))
        return acc.id, int(s.execute(text("SELECT id FROM chat")).scalar_one())


def _send_followup(db: Database, chat_id: int, at: datetime) -> int:
    """Schedule, claim and deliver a follow-up the way the engine does (the verdict is "send";
    the marketplace accepted it at ``at``); returns its message id."""
    store_followups.add(db, chat_id, at, NUDGE, cancel_if_buyer_writes=False)
    store_followups.deliver_due(db, lambda _check, _now: ("send", None))
    with db.write() as s:
        mid = int(s.execute(text("SELECT message_id FROM followup")).scalar_one())
        s.execute(update(Message).where(Message.id == mid).values(state="sent", created_at=at))
    return mid


def _report(db: Database) -> report.GroupStats:
    cfg = Config(sla_late_minutes=120, timezone="UTC")
    return report.build(db, cfg, since=T - timedelta(hours=1), until=NOW, by="marketplace", now=NOW).total


def _waiting_ids(db: Database) -> set[int]:
    return {c.id for c in views.list_chats(db, views.ChatFilter(waiting=True))}


def test_followup_echo_keeps_the_buyer_waiting_and_answers_nothing(db: Database) -> None:
    acc, cid = _chat_with_question(db)
    assert _waiting_ids(db) == {cid}
    _send_followup(db, cid, T + timedelta(hours=1))
    # the marketplace echoes the follow-up back as a seller message in a later poll
    res = ingest.apply_page(
        db, acc, "chats", Page(chats=(ChatInfo("c"),), messages=(_m("2", "seller", NUDGE, T + timedelta(hours=1)),))
    )
    assert res.reconciled == 1  # the echo settled our own row, nothing new was stored
    row = next(c for c in views.list_chats(db) if c.id == cid)
    assert row.waiting and row.unread == 1  # ◷ stays; the buyer's question is still unread
    assert _waiting_ids(db) == {cid}  # chats --waiting / the w filter
    assert [e.chat_id for e, *_ in events.waiting_chats(db, T - timedelta(hours=1))] == [cid]  # sla hooks
    t = _report(db)
    assert t.first_response.values == [] and t.next_response.values == []
    assert (t.turns, t.unanswered_turns, t.unanswered_now) == (1, 1, 1)
    assert (t.sla_met, t.sla_counted) == (0, 1)
    assert (t.window_met, t.window_counted) == (0, 1)  # Ozon's 48 h passed without an answer


def test_followup_not_yet_echoed_answers_nothing(db: Database) -> None:
    _acc, cid = _chat_with_question(db)
    _send_followup(db, cid, T + timedelta(hours=1))
    t = _report(db)
    assert t.first_response.values == [] and t.unanswered_now == 1
    assert (t.sla_met, t.sla_counted) == (0, 1)


def test_real_reply_after_the_followup_is_the_answer(db: Database) -> None:
    acc, cid = _chat_with_question(db)
    _send_followup(db, cid, T + timedelta(hours=1))
    ingest.apply_page(
        db,
        acc,
        "chats",
        Page(
            chats=(ChatInfo("c"),),
            messages=(
                _m("2", "seller", NUDGE, T + timedelta(hours=1)),
                _m("3", "seller", "Оформите возврат в личном кабинете", T + timedelta(hours=3)),
            ),
        ),
    )
    assert _waiting_ids(db) == set()
    assert next(c for c in views.list_chats(db) if c.id == cid).unread == 0
    t = _report(db)
    assert t.first_response.values == [3 * 3600.0]  # timed to the real reply, not the nudge
    assert (t.sla_met, t.sla_counted, t.unanswered_now) == (0, 1, 0)


def test_followup_before_the_period_is_not_the_prior_answer(db: Database) -> None:
    # the buyer asked, a follow-up went out, both before the period; the buyer's turn is still
    # open at the period's start, so the period holds no new turn (not a fresh first turn)
    acc, cid = _chat_with_question(db)
    _send_followup(db, cid, T + timedelta(hours=1))
    ingest.apply_page(
        db, acc, "chats", Page(chats=(ChatInfo("c"),), messages=(_m("4", "buyer", "Ау?", T + timedelta(hours=5)),))
    )
    cfg = Config(sla_late_minutes=120, timezone="UTC")
    t = report.build(db, cfg, since=T + timedelta(hours=2), until=NOW, by="marketplace", now=NOW).total
    assert t.turns == 0 and t.buyer_messages == 1 and t.unanswered_now == 1


def test_cli_followup_add_warns_once_while_the_buyer_waits(db: Database) -> None:
    from typer.testing import CliRunner

    from chatdesk.cli import app

    acc = accounts.add_account(db, "wb", "wildberries")
    now = datetime.now(UTC)
    page = Page(chats=(ChatInfo("w", customer="Анна"),), messages=(MessageInfo("w", "1", "buyer", "Где заказ?", now),))
    ingest.apply_page(db, acc.id, "chats", page)
    cid = views.list_chats(db)[0].id
    result = CliRunner().invoke(app, ["--db", db.url, "followup", "add", str(cid), "Напоминаем о нас", "--in", "1d"])
    assert result.exit_code == 0, result.output
    assert "scheduled" in result.stdout
    warning = "warning: the buyer is waiting for an answer; a follow-up does not answer them"
    assert result.stderr.count(warning) == 1
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(chats=(ChatInfo("w"),), messages=(MessageInfo("w", "2", "seller", "Уже едет", now),)),
    )
    result = CliRunner().invoke(app, ["--db", db.url, "followup", "add", str(cid), "Как вам заказ?", "--in", "3d"])
    assert result.exit_code == 0, result.output
    assert "waiting" not in result.stderr  # answered: nothing to warn about


def test_a_followup_is_never_offered_as_a_past_answer(db: Database) -> None:
    """Fresh-eyes round 2: «Товар не пришёл» was offered "напоминаем о себе" (a follow-up) as
    "how you answered this before"."""
    from chatdesk.assist import suggest

    acc, cid = _chat_with_question(db)
    _send_followup(db, cid, T + timedelta(hours=1))
    ingest.apply_page(
        db,
        acc,
        "chats",
        Page(
            chats=(ChatInfo("new", customer="Б", product_id="P1"),),
            messages=(MessageInfo("new", "9", "buyer", "Хочу вернуть заказ, как быть?", T + timedelta(hours=2)),),
        ),
    )
    with db.read() as s:
        new = int(s.execute(text("SELECT id FROM chat WHERE external_id = 'new'")).scalar_one())
    texts = [item.text for item in suggest.suggest(db, new, config=Config()).items if item.source == "past"]
    assert not any(NUDGE in t for t in texts), texts


def test_a_delivered_reply_ends_the_wait_before_its_echo_arrives(db: Database) -> None:
    """Fresh eyes round 3: after `send` printed "sent", the chat stayed in `chats --waiting` (and
    ◷ stayed in the list) until the next poll brought the marketplace's echo back."""
    from chatdesk.store import outbox

    acc, cid = _chat_with_question(db)
    mid = outbox.enqueue(db, cid, "Оформите возврат в личном кабинете")
    assert _waiting_ids(db) == {cid}  # queued is not answered
    (job,) = outbox.claim_due(db, acc, "me")
    assert outbox.mark_sent(db, job)
    row = next(c for c in views.list_chats(db) if c.id == cid)
    assert not row.waiting and row.unread == 0 and cid not in _waiting_ids(db)
    assert mid == job.message_id


def test_a_reply_queued_before_the_buyer_wrote_again_leaves_the_buyer_waiting(db: Database) -> None:
    from chatdesk.store import outbox

    acc, cid = _chat_with_question(db)
    outbox.enqueue(db, cid, "Оформите возврат")
    (job,) = outbox.claim_due(db, acc, "me")
    later = datetime.now(UTC) + timedelta(minutes=5)  # the buyer wrote after the reply was queued
    ingest.apply_page(db, acc, "chats", Page(messages=(_m("9", "buyer", "А где заявление?", later),)))
    assert outbox.mark_sent(db, job)
    assert cid in _waiting_ids(db)
