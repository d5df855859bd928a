"""fuanswer item 3: groups by topic for chats without a buyer message in the period, and
``--since 0d``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from chatdesk.assist import report
from chatdesk.cli import app
from chatdesk.config import Config
from chatdesk.model import ChatInfo, MessageInfo, Page
from chatdesk.store import accounts, analytics, ingest
from chatdesk.store.db import Database

T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = T + timedelta(hours=5)


def _m(chat: str, ext: str, author: str, body: str, at: datetime) -> MessageInfo:
    return MessageInfo(chat, ext, author, body, at)  # type: ignore[arg-type]


def test_chats_waiting_since_before_the_period_are_grouped_by_their_topic(db: Database) -> None:
    acc = accounts.add_account(db, "wb", "wildberries")
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            chats=(ChatInfo("a", product_id="P1"), ChatInfo("b", product_id="P1"), ChatInfo("c", product_id="P2")),
            messages=(
                # a, b: asked 3 h before the period, still waiting (the brief's "WAIT 20" under "untagged")
                _m("a", "1", "buyer", "Когда будет доставка?", T - timedelta(hours=3)),
                _m("b", "2", "buyer", "Пришёл брак, шов разошёлся", T - timedelta(hours=3)),
                # c: a question inside the period
                _m("c", "3", "buyer", "Какой размер взять на рост 170?", T + timedelta(hours=1)),
            ),
        ),
    )
    with db.read() as s:
        ids = {r[0]: int(r[1]) for r in s.execute(text("SELECT external_id, id FROM chat"))}
    analytics.record_block(db, ids["a"], "hard", ["too_long"], T + timedelta(hours=2))
    r = report.build(db, Config(timezone="UTC"), since=T, until=NOW, by="topic", now=NOW)
    groups = {g.key: g for g in r.groups}
    assert report.UNTAGGED not in groups  # every chat here is tagged
    assert (groups["delivery"].unanswered_now, groups["delivery"].rule_blocked) == (1, 1)
    assert (groups["delivery"].buyer_messages, groups["delivery"].conversations) == (0, 0)
    assert groups["defect"].unanswered_now == 1
    assert (groups["size"].buyer_messages, groups["size"].unanswered_now) == (1, 1)
    assert r.total.unanswered_now == 3


def test_since_0d_is_today_since_local_midnight() -> None:
    now = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # 01:30 on the 21st in Moscow
    msk = ZoneInfo("Europe/Moscow")
    assert report.period_start("0d", now, msk) == datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    assert report.period_start("today", now, UTC) == datetime(2026, 11, 20, tzinfo=UTC)
    assert report.period_start("7d", now, msk) == now - timedelta(days=7)
    with pytest.raises(ValueError, match="use 1h or more, or 0d") as err:
        report.period_start("0h", now, UTC)
    assert "future" not in str(err.value)


def test_cli_report_since_0d(db: Database) -> None:
    result = CliRunner().invoke(app, ["--db", db.url, "report", "--since", "0d", "--json"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["--db", db.url, "report", "--since", "0m"])
    assert result.exit_code != 0 and "not a time in the future" not in result.output


def test_product_without_a_title_is_named_as_the_list_names_it(db: Database) -> None:
    """fuanswer item 2: the English report and stats screen said "арт. N" where the list says
    "product N"."""
    acc = accounts.add_account(db, "wb", "wildberries")
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(chats=(ChatInfo("d", product_id="P7"),), messages=(_m("d", "1", "buyer", "Пришёл брак", T),)),
    )
    r = report.build(db, Config(timezone="UTC"), since=T - timedelta(hours=1), until=NOW, by="product", now=NOW)
    assert [f.label for f in r.fire] == ["product P7"]
