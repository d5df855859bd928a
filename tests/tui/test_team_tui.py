"""Team mode in the TUI (both engines): a reply is stopped when another operator answered
after this one opened the chat; Enter cancels, only ``a`` sends anyway."""

from __future__ import annotations

import pytest

from chatdesk.screens.dialogs import ReviewChoice
from chatdesk.store import outbox, team, views
from chatdesk.store.db import Database
from tests.tui.conftest import FakeEngine, make_app, seed, settle
from tests.tui.test_app import chat_id, main


@pytest.fixture
def anna_store(store_url: str) -> Database:
    db = Database(store_url)
    seed(db)
    team.add_operator(db, "anna", "Анна")
    team.add_operator(db, "ivan", "Иван")
    db.operator = "anna"
    yield db
    db.close()


async def test_ivans_reply_stops_annas_send_until_she_chooses(anna_store: Database, store_url: str) -> None:
    engine = FakeEngine(anna_store)
    engine.outcome = None  # leave queued: we look at the queue
    app = make_app(anna_store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        cid = scr.composer.chat.id if scr.composer.chat else chat_id(anna_store, "wb2")
        assert team.seen_message_id(anna_store, cid, "anna")  # opening the chat is looking at it

        ivan = Database(store_url)
        ivan.operator = "ivan"
        outbox.enqueue(ivan, cid, "Иван уже ответил")
        ivan.close()

        await pilot.press("r", *"мой ответ", "ctrl+j")
        await settle(pilot, app, 0.2)
        assert isinstance(app.screen, ReviewChoice)
        await pilot.press("enter")  # Enter cancels
        await settle(pilot, app, 0.2)
        texts = [m.text for m in views.list_messages(anna_store, cid)]
        assert "мой ответ" not in texts
        assert scr.composer.text == "мой ответ"  # kept for her

        await pilot.press("ctrl+j")  # she has reviewed: now it goes
        await settle(pilot, app, 0.2)
        mine = [m for m in views.list_messages(anna_store, cid) if m.text == "мой ответ"]
        assert len(mine) == 1 and mine[0].operator == "anna"


async def test_send_anyway_is_an_explicit_key(anna_store: Database, store_url: str) -> None:
    engine = FakeEngine(anna_store)
    engine.outcome = None
    app = make_app(anna_store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        cid = scr.composer.chat.id if scr.composer.chat else chat_id(anna_store, "wb2")
        ivan = Database(store_url)
        ivan.operator = "ivan"
        outbox.enqueue(ivan, cid, "Иван уже ответил")
        ivan.close()
        await pilot.press("r", *"всё равно", "ctrl+j")
        await settle(pilot, app, 0.2)
        assert isinstance(app.screen, ReviewChoice)
        await pilot.press("a")
        await settle(pilot, app, 0.3)
        assert [m.operator for m in views.list_messages(anna_store, cid) if m.text == "всё равно"] == ["anna"]
