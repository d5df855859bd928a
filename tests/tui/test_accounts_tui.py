"""Issue 13 item 14 and the status line: the accounts screen moves with j/k/g/G, refreshes by
itself, shows a failed first sync as a failure (not "not synced yet") and each stream's state
with its reason; the status line names accounts and says why one fails."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlmodel import select

from chatdesk.screens.accounts import AccountsScreen
from chatdesk.store.accounts import get_account
from chatdesk.store.schema import SyncState
from chatdesk.sync import SyncEvent
from tests.tui.conftest import NOW, FakeEngine, make_app, settle


def stream(store, account: str, name: str, **values: object) -> None:  # type: ignore[no-untyped-def]
    with store.write() as s:
        s.add(SyncState(account_id=get_account(store, account).id, stream=name, **values))


async def test_accounts_keys_refresh_failure_and_streams(store) -> None:  # type: ignore[no-untyped-def]
    ago, soon = NOW - timedelta(minutes=2), NOW + timedelta(seconds=50)
    stream(store, "wb-main", "chats", last_success_at=ago, next_poll_at=soon)
    stream(store, "wb-main", "questions", unavailable="the token has no access to questions (category Вопросы)")
    engine = FakeEngine(store)
    app = make_app(store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        # The engine reports that the Ozon account failed before any stream state was stored.
        oz = get_account(store, "ozon-main").id
        ev = SyncEvent("error", oz, message="ozon-main: the keyring is locked")
        threading.Thread(target=engine.emit, args=(ev,)).start()
        await settle(pilot, app, 0.2)
        await pilot.press("a")
        await settle(pilot, app)
        scr = app.screen
        assert isinstance(scr, AccountsScreen)
        table = scr.query_one("DataTable")
        names = [a.name for a in scr.accounts]
        assert names == ["ozon-main", "wb-main", "ym-main"]
        row = [str(c) for c in table.get_row_at(0)]
        assert "failed: ozon-main: the keyring is locked" in row[2]
        await pilot.press("j")
        assert table.cursor_row == 1
        detail = str(scr.query_one("#accounts-detail").render())
        assert "chats: ok 2m ago" in detail
        assert "questions: unavailable — the token has no access to questions" in detail
        await pilot.press("G")
        assert table.cursor_row == 2
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("k")
        assert table.cursor_row == 0
        # Live: a change in the store shows without a key press.
        with store.write() as s:
            st = s.exec(select(SyncState).where(SyncState.stream == "chats")).one()
            st.last_error = "WB answered 500"
            s.add(st)
        await settle(pilot, app, AccountsScreen.REFRESH_INTERVAL + 0.3)
        row = [str(c) for c in table.get_row_at(1)]
        assert "error: WB answered 500" in row[2]


async def test_status_line_names_accounts_and_reasons(store) -> None:  # type: ignore[no-untyped-def]
    stream(store, "ozon-main", "chats", last_error="Ozon answered 403: the token has no chat access")
    stream(store, "wb-main", "chats", last_success_at=NOW)
    app = make_app(store)
    for width in (160, 80):
        async with app.run_test(size=(width, 24)) as pilot:
            await settle(pilot, app)
            status = app.screen.query_one("#status-line").text
            assert "ozon-main" in status and "wb-main" in status, status
            if width > 100:
                assert "Ozon answered 403: the token has no chat access" in status, status
        app = make_app(store)
