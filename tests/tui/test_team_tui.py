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
        assert len(mine) == 1 and mine[0].operator == "anna" and mine[0].operator_name == "Анна"
        shown = scr.conversation.rendered_text()
        # every outgoing message says who wrote it: Иван's by name, her own as "You" (teamux
        # brief: "You" only for the current operator's own messages)
        assert "Иван" in shown and "You  " in shown


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


async def test_header_shows_assignment_and_who_else_is_here(anna_store: Database) -> None:
    from chatdesk.widgets.header import ChatHeader

    engine = FakeEngine(anna_store)
    app = make_app(anna_store, engine=engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        cid = scr.target_id
        assert cid is not None
        team.assign(anna_store, cid, "anna")
        team.heartbeat(anna_store, cid, "ivan", "typing", ttl=60)
        assert team.presence(anna_store, [cid])[cid] == [("anna", "viewing"), ("ivan", "typing")]
        scr.refresh_conversation()
        await settle(pilot, app, 0.2)
        header = str(scr.query_one(ChatHeader).render())
        assert "assigned to Анна" in header and "Иван typing" in header  # display names, not logins
        assert "Анна viewing" not in header  # not myself
        scr.chat_list.reload()
        await settle(pilot, app, 0.2)
        assert "✎" in scr.chat_list.rendered_text()  # the list marks the chat Иван is typing in


async def test_assign_key_takes_and_gives_back_the_chat(anna_store: Database) -> None:
    app = make_app(anna_store, engine=FakeEngine(anna_store))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        cid = scr.chat_list.current.id  # type: ignore[union-attr]
        await pilot.press("A")
        await settle(pilot, app, 0.2)
        assert team.assigned_to(anna_store, cid) == "anna"
        await settle(pilot, app, 0.3)  # the list reloads with the new assignee
        await pilot.press("A")
        await settle(pilot, app, 0.2)
        assert team.assigned_to(anna_store, cid) is None


async def test_typing_in_the_composer_is_announced(anna_store: Database) -> None:
    app = make_app(anna_store, engine=FakeEngine(anna_store))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        cid = scr.target_id
        await pilot.press("r", *"пишу")
        scr.presence_beat()
        await settle(pilot, app, 0.2)
        assert ("anna", "typing") in team.presence(anna_store, [cid]).get(cid, [])  # type: ignore[arg-type]


async def test_a_restored_draft_is_viewing_not_typing(anna_store: Database) -> None:
    """Team review: an operator who only opened a chat with an old draft was shown as typing for
    minutes. Typing means the composer has the focus and text."""
    app = make_app(anna_store, engine=FakeEngine(anna_store))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        cid = scr.target_id
        await pilot.press("r", *"черновик")
        await pilot.press("escape")  # leave the composer: the text stays as a draft
        await settle(pilot, app, 0.2)
        scr.presence_beat()
        await settle(pilot, app, 0.2)
        assert ("anna", "viewing") in team.presence(anna_store, [cid]).get(cid, [])  # type: ignore[arg-type]


async def test_note_key_adds_a_note_shown_in_the_conversation_never_queued(anna_store: Database) -> None:
    """Team review: notes were invisible in the TUI. ``N`` turns the composer's text into an
    internal note: shown among the messages as "Note · Анна", nothing queued or sent."""
    engine = FakeEngine(anna_store)
    engine.outcome = None
    app = make_app(anna_store, engine=engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        cid = scr.target_id
        assert cid is not None
        before = [(m.id, m.state) for m in views.list_messages(anna_store, cid)]
        await pilot.press("r", *"проверить возврат", "escape", "N")
        await settle(pilot, app, 0.2)
        await pilot.press("enter")
        await settle(pilot, app, 0.4)
        assert [n.text for n in team.list_notes(anna_store, cid)] == ["проверить возврат"]
        assert [(m.id, m.state) for m in views.list_messages(anna_store, cid)] == before  # nothing queued
        assert not [m for m in views.list_messages(anna_store, cid) if m.text == "проверить возврат"]
        assert scr.composer.text == ""  # the draft became the note
        assert not views.get_draft(anna_store, cid)  # and is not restored next time
        shown = scr.conversation.rendered_text()
        assert "Note · Анна" in shown and "проверить возврат" in shown
        assert shown.index("Note · Анна") > shown.index(views.list_messages(anna_store, cid)[-1].text[:10])


async def test_mine_and_unassigned_filters(anna_store: Database) -> None:
    app = make_app(anna_store, engine=FakeEngine(anna_store))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        total = scr.chat_list.total
        cid = chat_id(anna_store, "wb2")
        team.assign(anna_store, cid, "anna")
        scr.chat_list.focus()
        await pilot.press("m")
        await settle(pilot, app, 0.3)
        assert scr.chat_list.total == 1 and scr.chat_list.current.id == cid  # type: ignore[union-attr]
        assert "mine" in str(scr.query_one("#list-pane").border_title)
        await pilot.press("b")  # unassigned: every other chat
        await settle(pilot, app, 0.3)
        assert scr.chat_list.total == total - 1
        assert scr.chat_list.filter.assigned_to is None
        await pilot.press("b")
        await settle(pilot, app, 0.3)
        assert scr.chat_list.total == total
