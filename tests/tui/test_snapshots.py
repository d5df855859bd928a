"""SVG snapshots (pytest-textual-snapshot) of the main screen at 80x24 and 120x40, help and
accounts, on fixed data and a fixed clock. Update after review: pytest tests/tui --snapshot-update."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatdesk.store.db import Database
from tests.tui.conftest import make_app, seed, settle


@pytest.fixture
def snap_store(sqlite_url: str) -> Iterator[Database]:
    """One engine (SQLite): snapshots render the fixed data that the engine-parametrized flow
    tests read and write on both engines; a snapshot's file name would carry the engine."""
    db = Database(sqlite_url)
    seed(db)
    yield db
    db.close()


def prepare(*keys: str):  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        await settle(pilot, app, 0.3)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, app)
        for widget in app.query("TextArea, Input"):
            widget.cursor_blink = False
        app.clear_notifications()
        await settle(pilot, app)

    return run_before


def test_main_80x24(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(snap_store), terminal_size=(80, 24), run_before=prepare("j", "enter"))


def test_main_120x40(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(snap_store), terminal_size=(120, 40), run_before=prepare("enter", "r"))


def test_help_120x40(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(snap_store), terminal_size=(120, 40), run_before=prepare("question_mark"))


def test_accounts_80x24(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(snap_store), terminal_size=(80, 24), run_before=prepare("a"))


# ---------------------------------------------------------------------------- issue 13 states
# What a person must be able to see; each snapshot was reviewed as a PNG before it was kept.


def test_message_cursor_80x24(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    """The selected message (what R, e, C, d, v, y act on): bar and background."""
    assert snap_compare(make_app(snap_store), terminal_size=(80, 24), run_before=prepare("j", "enter", "k", "k"))


def test_sla_badges_and_cursor_120x40(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    """The list: WB/OZ/YM badges, ok/warn/late waiting marks, the cursor on Борис (late)."""
    assert snap_compare(make_app(snap_store), terminal_size=(120, 40), run_before=prepare("j", "j"))


def test_composer_warning_80x24(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await prepare("j", "enter", "r")(pilot)
        pilot.app.screen.composer.input.insert("Пишите в telegram @shop_uyut")
        await prepare("escape")(pilot)  # focus off the composer: no blinking text cursor in the picture

    assert snap_compare(make_app(snap_store), terminal_size=(80, 24), run_before=run_before)


def test_send_anyway_dialog_80x24(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await prepare("j", "enter", "r")(pilot)
        pilot.app.screen.composer.input.insert("Пишите в telegram @shop_uyut")
        await prepare("ctrl+j")(pilot)

    assert snap_compare(make_app(snap_store), terminal_size=(80, 24), run_before=run_before)


def test_search_results_80x24(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(snap_store), terminal_size=(80, 24), run_before=prepare("ctrl+f", *"размер", "enter"))


def test_resolve_dialog_ozon_80x24(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    """Resolving in an Ozon chat: what will be scheduled and what not, and why."""
    assert snap_compare(make_app(snap_store), terminal_size=(80, 24), run_before=prepare("j", "j", "enter", "x"))


def test_followups_list_100x30(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from chatdesk.store import followups as store_followups
    from chatdesk.store import views
    from tests.tui.conftest import NOW

    wb1 = next(c.id for c in views.list_chats(snap_store) if c.external_id == "wb1")
    store_followups.add(snap_store, wb1, NOW + timedelta(days=3), "Анна, как вам заказ?")
    store_followups.add(snap_store, wb1, NOW + timedelta(days=7), "Посмотрите новинки")
    assert snap_compare(make_app(snap_store), terminal_size=(100, 30), run_before=prepare("p"))


def test_accounts_with_an_error_100x30(snap_compare, snap_store) -> None:  # type: ignore[no-untyped-def]
    from chatdesk.store.accounts import get_account
    from chatdesk.store.schema import SyncState

    with snap_store.write() as s:
        s.add(
            SyncState(
                account_id=get_account(snap_store, "ozon-main").id,
                stream="chats",
                last_error="Ozon answered 403: the token has no chat access",
            )
        )
        s.add(
            SyncState(
                account_id=get_account(snap_store, "wb-main").id,
                stream="questions",
                unavailable="the token has no access to questions",
            )
        )
    assert snap_compare(make_app(snap_store), terminal_size=(100, 30), run_before=prepare("a", "j"))
