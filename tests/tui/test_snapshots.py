"""SVG snapshots (pytest-textual-snapshot) of the main screen at 80x24 and 120x40, help and
accounts, on fixed data and a fixed clock. Update after review: pytest tests/tui --snapshot-update."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdesk.store.db import Database
from tests.tui.conftest import make_app, seed, settle


@pytest.fixture
def snap_store(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'snap.db'}")
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
