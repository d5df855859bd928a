"""Issue 13 item 2, as a person does it: a search jump, a reply typed, a poll and a list reload
meanwhile, then send: the reply reaches the buyer that was chosen, and nobody else."""

from __future__ import annotations

import threading

from chatdesk.model import ChatInfo, MessageInfo, Page
from chatdesk.screens.main import MainScreen
from chatdesk.store import views
from chatdesk.store.ingest import apply_page
from chatdesk.sync import SyncEvent
from tests.tui.conftest import NOW, FakeEngine, make_app, settle


def chat_id(db, ext: str) -> int:  # type: ignore[no-untyped-def]
    return next(c.id for c in views.list_chats(db) if c.external_id == ext)


async def test_search_jump_then_reply_reaches_the_chosen_buyer(store) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    engine.outcome = None  # leave the reply queued: the test reads where it went
    app = make_app(store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        scr = app.screen
        assert isinstance(scr, MainScreen)
        assert scr.chat_list.current.external_id == "wb2"  # the cursor starts on Глеб
        await pilot.press("ctrl+f", *"размер")
        await settle(pilot, app, 0.3)
        await pilot.press("enter", "enter")  # the hit in Борис's chat
        await settle(pilot, app)
        oz1 = chat_id(store, "oz1")
        assert scr.conversation.chat.id == oz1
        assert scr.chat_list.current is not None and scr.chat_list.current.id == oz1  # the cursor followed
        await pilot.press("r", *"Да, подойдёт")
        await settle(pilot, app)
        assert scr.composer.chat.id == oz1
        assert "Борис" in str(scr.composer.border_title)
        # A poll: Анна writes again (her chat moves to the top), the engine announces it.
        wb = views.get_chat(store, chat_id(store, "wb1")).account_id
        apply_page(
            store,
            wb,
            "chats",
            Page(
                chats=(ChatInfo("wb1", customer="Анна"),),
                messages=(MessageInfo("wb1", "wb1-9", "buyer", "Алло?", NOW),),
            ),
        )
        event = SyncEvent("synced", wb, 1, frozenset({chat_id(store, "wb1")}), ((chat_id(store, "wb1"), "Алло?"),))
        threading.Thread(target=engine.emit, args=(event,)).start()
        await settle(pilot, app, 0.4)
        # A list reload on its own (another window wrote the store).
        scr.chat_list.reload()
        await settle(pilot, app, 0.4)
        assert scr.conversation.chat.id == oz1
        assert scr.composer.chat.id == oz1
        assert scr.composer.text == "Да, подойдёт"
        assert scr.chat_list.current.id == oz1  # the cursor kept to the chosen chat
        await pilot.press("ctrl+j")
        await settle(pilot, app, 0.3)
        sent = [m for c in views.list_chats(store) for m in views.list_messages(store, c.id) if m.author == "seller"]
        mine = [m for m in sent if m.text == "Да, подойдёт"]
        assert [m.chat_id for m in mine] == [oz1], [str(n.message) for n in app._notifications]
        assert views.get_draft(store, chat_id(store, "wb2")) == ""
        assert views.get_draft(store, chat_id(store, "wb1")) == ""


async def test_a_filter_change_does_not_retarget_a_reply_being_written(store) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        scr = app.screen
        await pilot.press("j", "j", "enter", "r", *"Подойдёт", "escape", "escape")
        await settle(pilot, app)
        oz1 = chat_id(store, "oz1")
        assert scr.composer.chat.id == oz1 and scr.composer.text == "Подойдёт"
        await pilot.press("2")  # Wildberries only: Борис's Ozon chat leaves the list
        await settle(pilot, app, 0.4)
        assert scr.chat_list.current.marketplace == "wildberries"
        assert scr.conversation.chat.id == oz1 and scr.composer.chat.id == oz1
        assert scr.composer.text == "Подойдёт"


async def test_first_sync_of_an_account_is_not_news(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 13 item 12: an account's first sync brings its history: no bell, no toast; its next
    sync's messages are news, saying who wrote and where with a sanitized preview.
    (notify_command is the buyer_message hook now, run by chatdesk.hooks, not by the app.)"""
    from chatdesk.config import Config

    engine = FakeEngine(store)
    app = make_app(store, engine=engine, config=Config(timezone="UTC", bell=True))
    rang: list[bool] = []
    app.bell = lambda: rang.append(True)  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app, 0.2)
        oz1 = chat_id(store, "oz1")
        oz = views.get_chat(store, oz1).account_id
        first = SyncEvent("synced", oz, 1, frozenset({oz1}), ((oz1, "Размер подойдёт на 180 см?"),))
        threading.Thread(target=engine.emit, args=(first,)).start()
        await settle(pilot, app, 0.3)
        assert rang == []
        assert not any("new message" in str(n.message) for n in app._notifications)
        second = SyncEvent("synced", oz, 1, frozenset({oz1}), ((oz1, "А ещё \x1b[31mвопрос"),))
        threading.Thread(target=engine.emit, args=(second,)).start()
        await settle(pilot, app, 0.3)
        await settle(pilot, app, 0.3)
        assert rang == [True]
        toasts = [str(n.message) for n in app._notifications if "new message" in str(n.message)]
        assert toasts == ["1 new message — Борис · OZ ozon-main: А ещё вопрос"]


async def test_resolve_leaves_the_queue_until_the_buyer_writes_again(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 13 item 7: resolved chats leave the waiting and unread queue, show as resolved, and
    come back when the buyer writes again; a second identical check-in is refused."""
    from chatdesk.config import Config
    from chatdesk.errors import UsageError
    from chatdesk.store import followups as store_followups
    from chatdesk.store.views import ChatFilter

    config = Config(timezone="UTC", mark_read_delay=5, bell=False, seller_name="Уют")
    app = make_app(store, config=config, home=tmp_path)
    wb1 = chat_id(store, "wb1")
    async with app.run_test(size=(110, 34)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "enter", "x")
        await settle(pilot, app)
        await pilot.press("y")
        await settle(pilot, app, 0.2)
        row = views.get_chat(store, wb1)
        assert row.unread == 0 and not row.waiting
        assert wb1 not in {c.id for c in views.list_chats(store, ChatFilter(waiting=True))}
        listing = app.screen.chat_list.rendered_text()
        assert "✓r" in listing  # the resolved mark on Анна's row
        pending = store_followups.list_followups(store, chat_id=wb1, states=("pending",))
        checkin = next(f for f in pending if f.rule == "check-in")
        try:
            store_followups.add(store, wb1, checkin.due_at, checkin.text + "  ")
        except UsageError as exc:
            assert "already scheduled" in str(exc)
        else:
            raise AssertionError("a duplicate check-in was accepted")
    # The buyer writes again: back in the queue.
    wb = row.account_id
    apply_page(
        store,
        wb,
        "chats",
        Page(chats=(ChatInfo("wb1", customer="Анна"),), messages=(MessageInfo("wb1", "wb1-7", "buyer", "Ещё", NOW),)),
    )
    row = views.get_chat(store, wb1)
    assert row.waiting and row.unread == 1
    assert wb1 in {c.id for c in views.list_chats(store, ChatFilter(waiting=True))}


async def test_consecutive_messages_of_one_author_share_a_header(store) -> None:  # type: ignore[no-untyped-def]
    from tests.tui.conftest import chat

    wb = views.get_chat(store, chat_id(store, "wb1")).account_id
    chat(
        wb,
        store,
        "wb9",
        "Дарья",
        [
            ("buyer", "Здравствуйте", 30),
            ("buyer", "Есть размер S?", 29),
            ("buyer", "И цвет синий?", 28),
            ("seller", "Да, есть", 5),
            ("buyer", "Спасибо", 1),
        ],
    )
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")  # Дарья is the newest chat
        await settle(pilot, app)
        text = app.screen.conversation.rendered_text()
        assert text.count("Дарья") == 2, text  # one header for the first three, one for "Спасибо"
        assert text.count("You") == 1
        assert "Есть размер S?" in text and "И цвет синий?" in text


async def test_a_saved_draft_is_marked_in_the_list(store) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "j", "enter", "r", *"Черновик")
        await settle(pilot, app, 0.5)
        await settle(pilot, app, 0.2)
        lines = app.screen.chat_list.rendered_text().splitlines()
        assert "✎" in lines[4] and "Борис" in lines[4], lines[4]
        assert "✎" not in lines[0] and "✎" not in lines[2]


async def test_the_chosen_theme_is_remembered(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store, home=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        app.theme = "textual-light"
        await settle(pilot, app, 0.2)
    again = make_app(store, home=tmp_path)
    assert again.theme == "textual-light"
    async with again.run_test(size=(100, 30)) as pilot:
        await settle(pilot, again)
        assert again.theme == "textual-light"
