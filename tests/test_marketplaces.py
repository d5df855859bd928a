"""One marketplace table (issue 10): the rule check, every connector, the labels, badges,
sandbox prefixes and account settings all read ``chatdesk.marketplaces``; a file the
connector would refuse is refused before anything is queued (CLI and the TUI's rule check)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from chatdesk import marketplaces, rules
from chatdesk.connectors import LABELS, REQUIRED_SETTINGS, connector_class
from chatdesk.connectors.base import Rejected
from chatdesk.model import AccountConfig, ChatRef, FileSpec, OutgoingFile
from chatdesk.ratelimit import RateLimiter
from chatdesk.store import views

MB = 1024 * 1024
IDS = list(marketplaces.MARKETPLACES)


def _no_requests(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a request was made: {request.method} {request.url}")


def _connector(marketplace: str):  # type: ignore[no-untyped-def]
    row = marketplaces.get(marketplace)
    settings = {s.key: "123456" for s in row.settings}
    account = AccountConfig("t", marketplace, "secret-token", base_url="https://example.test", settings=settings)
    client = httpx.AsyncClient(transport=httpx.MockTransport(_no_requests))
    return connector_class(marketplace)(account, client, RateLimiter())


@pytest.mark.parametrize("marketplace", IDS)
def test_rule_check_and_connector_read_the_same_row(marketplace: str) -> None:
    row = marketplaces.get(marketplace)
    cls = connector_class(marketplace)
    assert cls.marketplace == row.id
    assert cls.label == row.label == LABELS[marketplace]
    assert REQUIRED_SETTINGS[marketplace] == row.setting_keys
    for kind, limits in row.limits.items():
        assert cls.limits[kind] is limits
        assert rules.limits_for(marketplace, kind) is limits
        assert rules.LIMITS[(marketplace, kind)] is limits
    assert dict(cls.limits) == dict(row.limits)
    conn = _connector(marketplace)
    for key, budget in row.budgets.items():
        assert conn.limiter.budgets[key] == budget


@pytest.mark.parametrize("marketplace", IDS)
def test_a_file_just_over_the_limit_is_refused_by_both(marketplace: str) -> None:
    """The same number refuses in the rule check and in the connector (before any request)."""
    limits = marketplaces.limits_for(marketplace)
    assert limits.max_file_size is not None
    ctype = sorted(limits.file_types)[0] if limits.file_types else "image/gif"
    size = limits.max_file_size + 1
    found = rules.hard(rules.check("", marketplace=marketplace, files=[FileSpec("f.bin", size, ctype)]))
    assert [f.code for f in found] == ["file_size"]
    ok = rules.check("", marketplace=marketplace, files=[FileSpec("f.bin", size - 1, ctype)])
    assert rules.hard(ok) == []
    conn = _connector(marketplace)
    with pytest.raises(Rejected):
        asyncio.run(conn.send(ChatRef("1", reply_token="sign"), "", (OutgoingFile("f.bin", b"\0" * size, ctype),)))


@pytest.mark.parametrize("marketplace", IDS)
def test_text_just_over_the_limit_is_refused_by_both(marketplace: str) -> None:
    limits = marketplaces.limits_for(marketplace)
    text = "а" * (limits.max_text + 1)
    assert [f.code for f in rules.hard(rules.check(text, marketplace=marketplace))] == ["too_long"]
    with pytest.raises(Rejected):
        asyncio.run(_connector(marketplace).send(ChatRef("1", reply_token="sign"), text))


def test_wb_question_answer_limit_is_one_number() -> None:
    """The rule check said 1,000 and the connector 5,000: now both say the row's number."""
    limit = marketplaces.WILDBERRIES.limits["question"].max_text
    assert rules.limits_for("wildberries", "question").max_text == limit == 5000
    assert rules.hard(rules.check("а" * limit, marketplace="wildberries", kind="question")) == []
    over = rules.hard(rules.check("а" * (limit + 1), marketplace="wildberries", kind="question"))
    assert [f.code for f in over] == ["too_long"]
    conn = _connector("wildberries")
    with pytest.raises(Rejected):
        asyncio.run(conn.send(ChatRef("q1", kind="question"), "а" * (limit + 1)))


def test_views_derive_from_the_rows() -> None:
    from chatdesk.sandbox import PREFIXES
    from chatdesk.screens.accounts import SETTING_LABELS
    from chatdesk.widgets.chat_list import BADGES

    rows = marketplaces.MARKETPLACES.values()
    assert {m.id: m.badge for m in rows} == BADGES == {"wildberries": "WB", "ozon": "OZ", "yandex": "YM"}
    assert {m.id: m.sandbox_prefix for m in rows} == PREFIXES
    assert {m.id: m.name for m in rows} == rules.LABELS
    assert SETTING_LABELS == {"client_id": "Ozon Client-Id", "business_id": "Yandex business id"}
    assert marketplaces.OZON.reply_window is not None and marketplaces.OZON.reply_window.total_seconds() == 48 * 3600


def test_unknown_marketplace_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="choose one of: wildberries, ozon, yandex"):
        marketplaces.get("aliexpress")
    assert marketplaces.badge("aliexpress") == "AL"
    assert marketplaces.label("aliexpress") == "aliexpress"


# ----------------------------------------------------------------------------- a 12 MB GIF to Ozon


def _ozon_store(home: Path) -> tuple[int, object]:
    from chatdesk.demo import setup
    from chatdesk.sandbox import build_sandbox
    from chatdesk.usecases.accounts import add_account  # noqa: F401  (setup uses it)

    sandbox = build_sandbox(chats=2, marketplaces=("ozon",))
    db, _secrets, engine = setup(home, sandbox)

    async def poll() -> None:
        try:
            await engine.poll_account(1)
        finally:
            await engine.aclose()

    asyncio.run(poll())
    chat = next(c for c in views.list_chats(db) if c.marketplace == "ozon")
    return chat.id, db


def _outbox_rows(db: object, chat_id: int) -> list[object]:
    return [m for m in views.list_messages(db, chat_id) if m.author == "seller" and m.external_id is None]  # type: ignore[arg-type]


def test_cli_send_refuses_a_12mb_gif_to_ozon_before_queueing(tmp_path: Path) -> None:
    from tests.reliability import cli_env

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    chat_id, db = _ozon_store(home)
    gif = tmp_path / "box.gif"
    gif.write_bytes(b"GIF89a" + b"\0" * (12 * MB))
    proc = subprocess.run(
        [sys.executable, "-m", "chatdesk", "send", str(chat_id), "", "--attach", str(gif)],
        capture_output=True,
        text=True,
        env=cli_env(home),
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "refused" in line and "box.gif" in line and "10.0 MB" in line
    assert _outbox_rows(db, chat_id) == []


def test_tui_rule_check_refuses_a_12mb_gif_to_ozon(tmp_path: Path) -> None:
    """The composer's check (what ``ctrl+j`` runs before queueing) refuses it as hard."""
    from chatdesk.widgets.composer import check_rules

    chat_id, db = _ozon_store(tmp_path)
    chat = views.get_chat(db, chat_id)  # type: ignore[arg-type]
    assert chat is not None
    spec = {"path": "/tmp/box.gif", "name": "box.gif", "size": 12 * MB, "content_type": "image/gif"}
    # The seeded chat's 48 h reply window may be closed too (a refusal of its own): only the
    # file's findings are this test's.
    found = [f.code for f in rules.hard(check_rules("", chat, [spec])) if f.code != "window_closed"]
    assert found == ["file_size"]
    smaller = rules.hard(check_rules("", chat, [{**spec, "size": 9 * MB}]))
    assert [f for f in smaller if f.code != "window_closed"] == []
