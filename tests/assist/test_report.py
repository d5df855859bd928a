"""The report on hand-built stores with answers worked out by hand."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update
from typer.testing import CliRunner

from chatdesk.assist import report
from chatdesk.cli import app
from chatdesk.config import Config
from chatdesk.model import ChatInfo, MessageInfo, Page
from chatdesk.store import accounts, analytics, ingest, outbox
from chatdesk.store.db import Database
from chatdesk.store.schema import FollowUp, Outbox

T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = T + timedelta(hours=60)
SINCE = T - timedelta(hours=1)
H, M = 3600.0, 60.0


def _m(chat: str, ext: str, author: str, text_: str, at: datetime) -> MessageInfo:
    return MessageInfo(chat, ext, author, text_, at)  # type: ignore[arg-type]


def build(db: Database) -> dict[str, int]:
    oz = accounts.add_account(db, "oz", "ozon", settings={"client_id": "1"})
    wb = accounts.add_account(db, "wb", "wildberries")
    ym = accounts.add_account(db, "ym", "yandex", settings={"business_id": "1"})
    ingest.apply_page(
        db,
        oz.id,
        "chats",
        Page(
            chats=(ChatInfo("o1", customer="A", product_id="P1"), ChatInfo("o2", customer="B", product_id="P1")),
            messages=(
                # o1: first turn answered in 30 min; a later turn (2 buyer messages) answered in 3 h
                _m("o1", "1", "buyer", "Какой размер взять на рост 170?", T),
                _m("o1", "2", "seller", "Берите M", T + timedelta(minutes=30)),
                _m("o1", "3", "buyer", "Пришёл брак, шов разошёлся", T + timedelta(hours=2)),
                _m("o1", "4", "buyer", "Что делать?", T + timedelta(hours=2, minutes=5)),
                _m("o1", "5", "marketplace", "Покупатель открыл спор", T + timedelta(hours=3)),
                _m("o1", "6", "seller", "Оформите возврат", T + timedelta(hours=5)),
                # o2: first turn answered after 50 h: inside SLA? no; inside Ozon's 48 h? no
                _m("o2", "7", "buyer", "Когда будет доставка?", T + timedelta(hours=1)),
                _m("o2", "8", "seller", "Завтра", T + timedelta(hours=51)),
            ),
        ),
    )
    ingest.apply_page(
        db,
        wb.id,
        "chats",
        Page(
            chats=(
                ChatInfo("w1", customer="C", product_id="P2"),
                ChatInfo("w2", customer="D", product_id="P2"),
            ),
            messages=(
                # w1: the buyer wrote before the period and was never answered: the turn is older
                _m("w1", "9", "buyer", "Есть в наличии?", T - timedelta(hours=5)),
                _m("w1", "10", "buyer", "Ау", T + timedelta(hours=1)),
                _m("w1", "11", "seller", "Да", T + timedelta(hours=1, minutes=10)),
                # w2: unanswered for 59 h: SLA missed, waiting now (WB chats have no window)
                _m("w2", "12", "buyer", "Товар пришёл разбитым", T + timedelta(hours=1)),
            ),
        ),
    )
    ingest.apply_page(
        db,
        wb.id,
        "questions",
        Page(
            chats=(ChatInfo("q1", kind="question", product_id="P2"),),
            messages=(
                _m("q1", "13", "buyer", "Из какого материала сделан корпус?", T + timedelta(hours=2)),
                _m("q1", "14", "seller", "Пластик", T + timedelta(hours=2, minutes=45)),
            ),
        ),
    )
    ingest.apply_page(
        db,
        ym.id,
        "chats",
        Page(
            chats=(ChatInfo("y1", customer="E", status="FINISHED"),),
            messages=(_m("y1", "15", "buyer", "Где мой заказ, курьер не приехал", T + timedelta(hours=3)),),
        ),
    )
    with db.read() as s:
        ids = {r[0]: int(r[1]) for r in s.execute(text("SELECT external_id, id FROM chat"))}
    # follow-ups: o1 one sent, one cancelled in the period; w2 one expired before the period
    from chatdesk.store import followups as store_followups

    f1 = store_followups.add(db, ids["o1"], T + timedelta(days=3), "Как вам?")
    f2 = store_followups.add(db, ids["o1"], T + timedelta(days=3), "Как вам 2?")
    f3 = store_followups.add(db, ids["w2"], T + timedelta(days=3), "Как вам 3?")
    with db.write() as s:
        for fid, state, at in (
            (f1, "sent", T + timedelta(hours=6)),
            (f2, "cancelled", T + timedelta(hours=7)),
            (f3, "expired", T - timedelta(hours=3)),
        ):
            s.execute(update(FollowUp).where(FollowUp.id == fid).values(state=state, updated_at=at))
    # rule check: one override in o2 (at NOW-ish, inside the period), one block in w2, one block before
    mid = outbox.enqueue(db, ids["o2"], "см. ozon.ru/x", overrides=["link"])
    with db.write() as s:
        s.execute(update(Outbox).where(Outbox.message_id == mid).values(created_at=T + timedelta(hours=4)))
    analytics.record_block(db, ids["w2"], "hard", ["too_long"], T + timedelta(hours=4))
    analytics.record_block(db, ids["w2"], "warn", ["phone"], T - timedelta(hours=4))
    return ids


def _build_report(db: Database, by: str) -> report.Report:
    cfg = Config(sla_late_minutes=120, timezone="UTC")
    return report.build(db, cfg, since=SINCE, until=NOW + timedelta(hours=1), by=by, now=NOW)


def test_totals_are_exact(db: Database) -> None:
    build(db)
    r = _build_report(db, "marketplace")
    t = r.total
    # buyer messages in the period: o1 x3, o2, w1 "Ау", w2, q1, y1 = 8 (w1's first is before)
    assert t.buyer_messages == 8
    assert t.conversations == 6
    # turns: o1 first (30 m), o1 next (2h..5h = 3 h), o2 first (50 h), w2 first (open), q1 first (45 m),
    # y1 first (open). w1's turn started before the period: not counted.
    assert t.turns == 6 and t.unanswered_turns == 2
    assert sorted(t.first_response.values) == [30 * M, 45 * M, 50 * H]
    assert t.first_response.median == 45 * M and t.first_response.p90 == 50 * H
    assert t.next_response.values == [3 * H]
    # SLA 2 h: met by o1 first and q1; missed by o1 next, o2, w2 (59 h open), y1 (57 h open)
    assert (t.sla_met, t.sla_counted) == (2, 6)
    # windows: o1 first+next within 48 h (met), o2 50 h (missed), q1 answered (met), y1 FINISHED unanswered
    # (missed); w2 is a WB chat: no window
    assert (t.window_met, t.window_counted) == (3, 5)
    # waiting now: w2 (buyer last), y1 is FINISHED: not counted, o1/o2/w1/q1 answered
    assert t.unanswered_now == 1
    assert (t.followups_sent, t.followups_cancelled, t.followups_expired) == (1, 1, 0)
    assert (t.rule_blocked, t.rule_overridden) == (1, 1)


def test_grouped_by_marketplace(db: Database) -> None:
    build(db)
    groups = {g.key: g for g in _build_report(db, "marketplace").groups}
    assert set(groups) == {"ozon", "wildberries", "yandex"}
    oz, wb, ym = groups["ozon"], groups["wildberries"], groups["yandex"]
    assert (oz.buyer_messages, oz.conversations, oz.turns) == (4, 2, 3)
    assert oz.first_response.median == (30 * M + 50 * H) / 2  # mean of the two middle values
    assert (oz.window_met, oz.window_counted) == (2, 3)
    assert (wb.buyer_messages, wb.turns, wb.unanswered_now, wb.rule_blocked) == (3, 2, 1, 1)
    assert (ym.window_met, ym.window_counted, ym.sla_counted) == (0, 1, 1)
    assert oz.followups_sent == 1 and oz.rule_overridden == 1


def test_grouped_by_topic_and_day(db: Database) -> None:
    build(db)
    groups = {g.key: g for g in _build_report(db, "topic").groups}
    assert groups["size"].first_response.values == [30 * M]
    assert groups["defect"].next_response.values == [3 * H]  # the turn's first message is the topic
    assert groups["defect"].buyer_messages == 2  # "Пришёл брак..." and w2 "разбитым"
    assert groups["delivery"].buyer_messages == 2  # o2 and y1
    days = {g.key: g for g in _build_report(db, "day").groups}
    assert list(days) == ["2026-11-20"]  # all turns start on the 20th (UTC)


def test_product_on_fire(db: Database) -> None:
    build(db)
    acc = accounts.get_account(db, "oz")
    # the previous period (same length, before SINCE) had one size problem for P1
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            chats=(ChatInfo("o0", product_id="P1"),),
            messages=(_m("o0", "20", "buyer", "Маломерит, размер не подошёл", SINCE - timedelta(hours=10)),),
        ),
    )
    r = _build_report(db, "product")
    fire = {f.product_id: f for f in r.fire}
    # P1 now: size (o1), defect (o1), delivery (o2) = 3 vs 1 before; P2 now: defect (w2) vs 0
    assert fire["P1"].current == 3 and fire["P1"].previous == 1
    assert fire["P1"].by_topic == {"defect": (1, 0), "size": (1, 1), "delivery": (1, 0)}
    assert fire["P2"].current == 1 and fire["P2"].previous == 0
    assert [f.product_id for f in r.fire] == ["P1", "P2"]
    assert len(fire["P1"].message_ids) == 3
    assert r.problems == [("P1", 3), ("P2", 1)]  # the stats screen's problems per product
    # the public on_fire (its own counting query) agrees with the report's single pass
    assert report.on_fire(db, SINCE, NOW + timedelta(hours=1)) == r.fire


def test_json_and_csv_and_cli(db: Database, tmp_path: Path) -> None:
    build(db)
    r = _build_report(db, "account")
    data = report.to_json(r)
    assert data["total"]["first_response_median_s"] == 2700.0  # type: ignore[index]
    rows = list(csv.DictReader(io.StringIO(report.to_csv(r))))
    assert rows[-1]["key"] == "total" and rows[-1]["buyer_messages"] == "8"
    # CLI over a real clock: everything is older than 7 days before "now", so the 30-day window is used
    url = db.url
    result = CliRunner().invoke(app, ["--db", url, "report", "--since", "3650d", "--json"])
    assert result.exit_code != 0  # more than 3 years is refused
    result = CliRunner().invoke(app, ["--db", url, "report", "--since", "1000d", "--by", "marketplace", "--json"])
    assert result.exit_code == 0, result.output
    # stdout is exactly one JSON document (result.output would add stderr: with click >= 8.2 it
    # mixes both, and a test process's leftover threads may write to stderr; see
    # tests/test_sandbox_quiet.py for the one that did)
    assert json.loads(result.stdout)["total"]["buyer_messages"] == 9  # w1's first message is inside 1000 days
    result = CliRunner().invoke(app, ["--db", url, "report", "--since", "1000d", "--csv"])
    assert result.exit_code == 0 and result.stdout.startswith("key,conversations")
    result = CliRunner().invoke(app, ["--db", url, "report", "--since", "1000d"])
    assert result.exit_code == 0 and "first response" in result.output
    result = CliRunner().invoke(app, ["--db", url, "report", "--by", "weather"])
    assert result.exit_code != 0


def test_cli_refusal_is_recorded_as_a_block(db: Database) -> None:
    from chatdesk.errors import UsageError
    from chatdesk.store import views
    from chatdesk.usecases import replies

    ids = build(db)
    chat = views.get_chat(db, ids["w2"])
    assert chat is not None
    with pytest.raises(UsageError):
        replies.precheck(chat, "пишите в телеграм @shop", [], force=False, db=db)
    with pytest.raises(UsageError):
        replies.precheck(chat, "x" * 5000, [], force=True, db=db)
    with db.read() as s:
        rows = s.execute(
            text("SELECT severity, codes FROM rule_block WHERE chat_id = :c ORDER BY id"), {"c": chat.id}
        ).all()
    assert [r[0] for r in rows[-2:]] == ["warn", "hard"]


# --- edge shapes: each chat alone in its own store, answers worked out by hand -----------------


def _one_chat(db: Database, msgs: list[tuple[str, timedelta]], *, marketplace: str = "wildberries") -> int:
    """One chat of ``(author, offset from T)`` messages (ids in list order); its chat id."""
    settings = {"client_id": "1"} if marketplace == "ozon" else {}
    acc = accounts.add_account(db, "a", marketplace, settings=settings)  # type: ignore[arg-type]
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            chats=(ChatInfo("c", customer="X", product_id="P9"),),
            messages=tuple(_m("c", str(i), a, f"сообщение {i}", T + d) for i, (a, d) in enumerate(msgs, 1)),
        ),
    )
    with db.read() as s:
        return int(s.execute(text("SELECT id FROM chat")).scalar_one())


def _total(db: Database, since: datetime = SINCE, until: datetime = NOW + timedelta(hours=1)) -> report.GroupStats:
    cfg = Config(sla_late_minutes=120, timezone="UTC")
    return report.build(db, cfg, since=since, until=until, by="marketplace", now=NOW).total


def test_buyer_writes_twice_before_one_answer(db: Database) -> None:
    _one_chat(
        db,
        [("buyer", timedelta(0)), ("buyer", timedelta(minutes=20)), ("seller", timedelta(minutes=50))],
    )
    t = _total(db)
    # one turn, timed from the first of the two buyer messages
    assert (t.buyer_messages, t.turns, t.unanswered_turns) == (2, 1, 0)
    assert t.first_response.values == [50 * M] and t.next_response.values == []
    assert (t.sla_met, t.sla_counted) == (1, 1)


def test_answer_before_any_buyer_message(db: Database) -> None:
    # the seller writes first (nothing to answer), then the buyer asks, then the seller answers
    _one_chat(db, [("seller", timedelta(0)), ("buyer", timedelta(hours=1)), ("seller", timedelta(hours=4))])
    t = _total(db)
    assert (t.buyer_messages, t.turns) == (1, 1)
    assert t.first_response.values == [3 * H]  # the buyer's first message is the chat's first turn
    assert (t.sla_met, t.sla_counted) == (0, 1)


def test_chat_spanning_the_since_boundary(db: Database) -> None:
    # before SINCE: a turn answered, then a buyer message still open at SINCE, answered inside
    # the period; then a new turn inside the period
    _one_chat(
        db,
        [
            ("buyer", -timedelta(hours=10)),
            ("seller", -timedelta(hours=9)),
            ("buyer", -timedelta(hours=2)),  # open at SINCE (T - 1 h) ...
            ("buyer", timedelta(minutes=10)),  # ... so this one belongs to that turn
            ("seller", timedelta(minutes=40)),  # answers the turn that started before the period
            ("buyer", timedelta(hours=2)),
            ("seller", timedelta(hours=2, minutes=15)),
        ],
    )
    t = _total(db)
    assert t.buyer_messages == 2  # only the period's
    assert t.turns == 1  # the open turn from before is not the period's
    assert t.first_response.values == []  # the chat's first turn was long before
    assert t.next_response.values == [15 * M]
    # a period starting later than everything but the last turn: still a next response
    t2 = _total(db, since=T + timedelta(hours=1))
    assert (t2.turns, t2.next_response.values, t2.buyer_messages) == (1, [15 * M], 1)
    # a period that starts between the answered first turn and the open one: the open turn is
    # the period's, the buyer's message at +10 min joins it, and it is a next response
    t3 = _total(db, since=T - timedelta(hours=5))
    assert t3.turns == 2 and t3.first_response.values == []
    assert sorted(t3.next_response.values) == [15 * M, 2 * H + 40 * M]


def test_turn_starting_after_until_is_not_counted(db: Database) -> None:
    _one_chat(db, [("buyer", timedelta(0)), ("seller", timedelta(hours=1)), ("buyer", timedelta(hours=3))])
    t = _total(db, until=T + timedelta(hours=2))
    assert (t.buyer_messages, t.turns, t.first_response.values) == (1, 1, [H])


def test_undelivered_seller_message_answers_nothing(db: Database) -> None:
    cid = _one_chat(db, [("buyer", -timedelta(hours=3)), ("buyer", timedelta(hours=1))])
    # an outgoing message queued before the period and never delivered: the buyer is still waiting
    mid = outbox.enqueue(db, cid, "ответ, который не ушёл")
    with db.write() as s:
        s.execute(text("UPDATE message SET created_at = :at WHERE id = :id"), {"at": T - timedelta(hours=2), "id": mid})
    t = _total(db)
    assert t.turns == 0  # the turn opened 3 h before T is still open: not the period's
    ingest.apply_page(
        db,
        accounts.get_account(db, "a").id,
        "chats",
        Page(
            chats=(ChatInfo("c", customer="X"),),
            messages=(_m("c", "9", "seller", "Готово", T + 2 * timedelta(hours=1)),),
        ),
    )
    assert _total(db).turns == 0


def test_same_second_buyer_then_seller_is_ordered_by_id(db: Database) -> None:
    _one_chat(db, [("buyer", timedelta(0)), ("seller", timedelta(0)), ("buyer", timedelta(minutes=5))])
    t = _total(db)
    assert t.first_response.values == [0.0]
    assert (t.turns, t.unanswered_turns) == (2, 1)


def test_timeline_out_of_order_is_sorted() -> None:
    tokens, times = analytics.timeline_tokens(
        "b2026-11-20 10:00:00.000000/size,s2026-11-20 09:00:00.000000/,b2026-11-20 09:00:00.000000/"
    )
    assert times == ["2026-11-20 09:00:00.000000", "2026-11-20 09:00:00.000000", "2026-11-20 10:00:00.000000"]
    assert [t[0] for t in tokens] == ["s", "b", "b"]  # same time: the store's order kept
    assert tokens[-1][28:] == "size"


def test_days_follow_the_configured_time_zone(db: Database) -> None:
    # Kathmandu is UTC+05:45: 18:14 UTC is 23:59 there, 18:16 UTC is already the next day
    day0 = datetime(2026, 11, 19, 18, 14, tzinfo=UTC)
    _one_chat(
        db,
        [
            ("buyer", day0 - T),
            ("seller", day0 - T + timedelta(minutes=1)),
            ("buyer", day0 - T + timedelta(minutes=2)),
            ("seller", day0 - T + timedelta(minutes=40)),
        ],
    )
    cfg = Config(sla_late_minutes=120, timezone="Asia/Kathmandu")
    r = report.build(db, cfg, since=day0 - timedelta(hours=1), until=day0 + timedelta(hours=1), by="day", now=NOW)
    days = {g.key: g for g in r.groups}
    assert set(days) == {"2026-11-19", "2026-11-20"}
    assert (days["2026-11-19"].buyer_messages, days["2026-11-19"].first_response.values) == (1, [60.0])
    assert (days["2026-11-20"].buyer_messages, days["2026-11-20"].next_response.values) == (1, [38 * M])
