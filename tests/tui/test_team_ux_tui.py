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
