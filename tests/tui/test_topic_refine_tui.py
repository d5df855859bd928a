"""What a seller sees of topic refinement (issue 14 §2): a tag the model chose carries a star in
the chat list, appears while the inbox is open (another thread writes it; the list reloads on
the store's change signal), and the topic filter counts it like any other."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from chatdesk.assist import llm, topics
from chatdesk.sandbox import build_sandbox
from chatdesk.sandbox import llm as fake
from chatdesk.screens.main import MainScreen
from chatdesk.screens.stats import TopicPicker
from chatdesk.store.db import Database
from tests.tui.conftest import make_app, seed, settle


@pytest.fixture
def tagged_store(store_url: str) -> Iterator[Database]:
    db = Database(store_url)  # both engines
    seed(db)
    topics.tag_new(db)
    yield db
    db.close()


async def test_a_model_tag_shows_with_a_star_and_filters(tagged_store: Database) -> None:
    db = tagged_store
    # "Спасибо, а когда будет?": one weak cue (когда будет), so the rules are unsure
    assert topics.classify("Спасибо, а когда будет?").unsure
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, 0.3)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert "наличие Спасибо, а когда будет?" in screen.chat_list.rendered_text()
        settings = llm.parse_settings({"base_url": "http://127.0.0.1/llm/v1", "model": "chatdesk-fake"})
        transport = fake.transport(build_sandbox(chats=1))
        done = await asyncio.to_thread(topics.refine, db, settings, transport=transport)
        assert done.error is None and done.changed >= 1
        for _ in range(40):  # the store watch notices the other thread's commit
            await settle(pilot, app, 0.1)
            if "наличие* Спасибо, а когда будет?" in screen.chat_list.rendered_text():
                break
        text = screen.chat_list.rendered_text()
        assert "наличие* Спасибо, а когда будет?" in text
        assert "брак Вот фото брака" in text  # the rules were sure: no star, never asked
        await pilot.press("t")
        await settle(pilot, app)
        assert isinstance(app.screen, TopicPicker)
        app.screen.dismiss("availability")
        await settle(pilot, app, 0.3)
        shown = [screen.chat_list.row(i).preview for i in range(screen.chat_list.total)]
        assert shown == ["Спасибо, а когда будет?"]
