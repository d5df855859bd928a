"""Team-mode TUI findings of a fresh-eyes tester (teamux brief), on both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chatdesk.store import team
from chatdesk.store.db import Database, utcnow
from tests.tui.conftest import FakeEngine, make_app, seed, settle
from tests.tui.test_app import main


@pytest.fixture
def anna_store(store_url: str) -> Database:
    db = Database(store_url)
    seed(db)
    team.add_operator(db, "anna", "Анна")
    team.add_operator(db, "ivan", "Иван")
    db.operator = "anna"
    yield db
    db.close()


async def test_typing_expires_ten_seconds_after_the_last_keystroke_and_quit_clears_presence(
    anna_store: Database,
) -> None:
    now = [utcnow()]
    app = make_app(anna_store, engine=FakeEngine(anna_store))
    app.clock = lambda: now[0]
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        cid = scr.target_id
        assert cid is not None
        await pilot.press("r", *"пишу")
        scr.presence_beat()
        await settle(pilot, app, 0.2)
        assert team.presence(anna_store, [cid])[cid] == [("anna", "typing")]
        # the composer keeps the focus and the draft, but no key for 11 s: viewing again
        now[0] += timedelta(seconds=11)
        assert scr.composer.input.has_focus and scr.composer.text == "пишу"
        scr.presence_beat()
        await settle(pilot, app, 0.2)
        assert team.presence(anna_store, [cid])[cid] == [("anna", "viewing")]
        await pilot.press("!")  # a keystroke: typing at once (not after the 10 s beat)
        scr.presence_beat()
        await settle(pilot, app, 0.2)
        assert team.presence(anna_store, [cid])[cid] == [("anna", "typing")]
        await app.action_quit()
    # quit: Ivan no longer sees Анна in the chat (not only after the 30 s expiry)
    assert team.presence(anna_store, [cid]) == {}


async def test_moving_to_another_chat_leaves_the_first_at_once(anna_store: Database) -> None:
    app = make_app(anna_store, engine=FakeEngine(anna_store))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        first = scr.target_id
        scr.presence_beat()
        await settle(pilot, app, 0.2)
        await pilot.press("j")
        await settle(pilot, app, 0.5)
        second = scr.target_id
        assert second != first
        scr.presence_beat()
        await settle(pilot, app, 0.2)
        here = team.presence(anna_store)
        assert first not in here and here[second] == [("anna", "viewing")]  # type: ignore[index]


async def test_a_keyless_operator_tui_says_once_in_the_status_line_that_no_sync_service_polls(
    anna_store: Database,
) -> None:
    import httpx

    from chatdesk.secrets import MemorySecrets
    from chatdesk.store import views
    from chatdesk.sync import SyncEngine
    from chatdesk.widgets.status_line import StatusLine

    engine = SyncEngine(
        anna_store, secrets=MemorySecrets({}), owner="anna-tui", client_factory=lambda _a: httpx.AsyncClient()
    )
    app = make_app(anna_store, engine=engine, secrets=engine.secrets)
    toasts: list[str] = []
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            real_notify = app.notify

            def notify(message: str, **kwargs: object) -> None:
                toasts.append(message)
                real_notify(message, **kwargs)  # type: ignore[arg-type]

            app.notify = notify  # type: ignore[method-assign]
            line = app.screen.query_one(StatusLine)
            for _ in range(80):  # the engine starts after the first paint, polls at once
                await settle(pilot, app, 0.1)
                if "no sync service" in line.text:
                    break
            assert "no sync service is polling" in line.text and "(keys live on the sync host)" in line.text
            await pilot.pause(6)  # another scheduler tick (every 5 s): still no toast
            await settle(pilot, app)
            assert not [t for t in toasts if "keyring" in t or "account add" in t or "no secret" in t]
            assert all(not s.last_error for s in views.sync_status(anna_store))
    finally:
        engine.shutdown()
