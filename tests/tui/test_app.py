"""Pilot tests of every inbox flow: open, reply (sent/failed/retry/edit), $EDITOR, filters, next
unread, drafts across switches and restarts, live arrival, accounts, help, search, keymap."""

from __future__ import annotations

import stat
import sys
import threading
from pathlib import Path

import pytest

from chatdesk.config import Config
from chatdesk.model import MessageInfo, Page
from chatdesk.screens.accounts import AccountsScreen
from chatdesk.screens.dialogs import ConfirmDialog, ReviewDialog
from chatdesk.screens.help import HelpScreen
from chatdesk.screens.main import MainScreen
from chatdesk.store import views
from chatdesk.store.ingest import apply_page
from chatdesk.sync import SyncEvent
from tests.tui.conftest import NOW, FakeEngine, make_app, settle


def main(app) -> MainScreen:  # type: ignore[no-untyped-def]
    assert isinstance(app.screen, MainScreen)
    return app.screen


def chat_id(db, ext: str) -> int:  # type: ignore[no-untyped-def]
    return next(c.id for c in views.list_chats(db) if c.external_id == ext)


async def test_list_order_and_open_chat(store) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store, config=Config(timezone="UTC", mark_read_delay=1.0))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        text = scr.chat_list.rendered_text()
        assert [line.split()[1] for line in text.splitlines()[0:8:2]] == ["Глеб", "Анна", "Борис", "Вера"]
        assert "WB" in text and "OZ" in text and "YM" in text
        await pilot.press("j")  # preview follows the cursor
        await settle(pilot, app)
        assert scr.conversation.chat.external_id == "wb1"
        assert "Спасибо, а когда будет?" in scr.conversation.rendered_text()
        header = str(scr.query_one("#chat-header").render())
        assert "product 88412006 · size M · 1 990 ₽" in header and "nmID" not in header
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.focused is scr.conversation
        assert views.get_chat(store, chat_id(store, "wb1")).unread == 1  # not read yet: delay
        await settle(pilot, app, 1.1)
        assert views.get_chat(store, chat_id(store, "wb1")).unread == 0  # read after mark_read_delay


async def test_peeking_does_not_mark_read(store) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "j")
        await settle(pilot, app, 0.6)
        assert main(app).conversation.chat.external_id == "oz1"
        assert views.get_chat(store, chat_id(store, "oz1")).unread == 1
        await pilot.press("u")  # toggle: unread -> read
        await settle(pilot, app)
        assert views.get_chat(store, chat_id(store, "oz1")).unread == 0
        await pilot.press("u")
        await settle(pilot, app)
        assert views.get_chat(store, chat_id(store, "oz1")).unread == 1


async def test_reply_sent(store) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    app = make_app(store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        await settle(pilot, app)
        scr = main(app)
        assert app.focused is scr.composer.input
        scr.composer.input.insert("Добрый день")
        await pilot.press("enter")  # newline, not send
        await pilot.press(*"ok")
        assert scr.composer.text == "Добрый день\nok"
        await pilot.press("ctrl+j")
        await settle(pilot, app, 0.3)
        await settle(pilot, app)
        msgs = views.list_messages(store, chat_id(store, "wb2"))
        assert msgs[-1].text == "Добрый день\nok" and msgs[-1].state == "sent"
        assert scr.composer.text == ""
        assert views.get_draft(store, chat_id(store, "wb2")) == ""
        assert "sent" in [line for line in scr.conversation.rendered_text().splitlines() if "You" in line][-1]
        assert views.get_chat(store, chat_id(store, "wb2")).unread == 0  # replying is reading


async def test_reply_failed_then_retry_and_edit(store) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    engine.outcome = "WB: the chat [b]is closed[/b]"
    app = make_app(store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        await pilot.press("r", *"привет", "ctrl+j")
        await settle(pilot, app, 0.3)
        await settle(pilot, app)
        out = scr.conversation.rendered_text()
        assert "FAILED" in out and "WB: the chat [b]is closed[/b]" in out  # the reason, literally
        await pilot.press("escape")  # composer -> conversation
        assert app.focused is scr.conversation
        engine.outcome = "sent"
        await pilot.press("R")
        await settle(pilot, app, 0.3)
        await settle(pilot, app)
        assert views.list_messages(store, chat_id(store, "wb2"))[-1].state == "sent"

        engine.outcome = "rejected"
        await pilot.press("r", *"второй", "ctrl+j")
        await settle(pilot, app, 0.3)
        await settle(pilot, app)
        assert views.list_messages(store, chat_id(store, "wb2"))[-1].state == "failed"
        await pilot.press("escape", "e")  # edit: the text comes back into the draft
        await settle(pilot, app)
        assert scr.composer.text == "второй"
        assert app.focused is scr.composer.input
        assert all(m.text != "второй" for m in views.list_messages(store, chat_id(store, "wb2")))
        assert views.get_draft(store, chat_id(store, "wb2")) == "второй"


async def test_rules_warning_needs_confirmation(store) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    engine.outcome = None
    app = make_app(store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        main(app).composer.input.insert("пишите в telegram @shop")
        await pilot.press("ctrl+j")
        await settle(pilot, app)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(pilot, app)
        assert views.list_messages(store, chat_id(store, "wb2"))[-1].author == "buyer"
        await pilot.press("ctrl+j")
        await settle(pilot, app)
        await pilot.press("y")
        await settle(pilot, app)
        last = views.list_messages(store, chat_id(store, "wb2"))[-1]
        assert last.author == "seller" and last.state == "queued"


@pytest.fixture
def fake_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "fake-editor"
    script.write_text(
        f"#!{sys.executable}\nimport sys\n"
        "p = sys.argv[1]\nold = open(p, encoding='utf-8').read()\n"
        "open(p, 'w', encoding='utf-8').write(old + 'из редактора\\n')\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", str(script))
    monkeypatch.delenv("VISUAL", raising=False)
    return script


async def test_editor_compose_review_send(store, fake_editor) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    app = make_app(store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("r", *"Текст ", "escape", "E")
        await settle(pilot, app)
        assert isinstance(app.screen, ReviewDialog)
        assert main_screen_text(app) == "Текст из редактора"
        await pilot.press("e")  # edit again: the editor appends once more
        await settle(pilot, app)
        assert isinstance(app.screen, ReviewDialog)
        await pilot.press("y")
        await settle(pilot, app, 0.3)
        await settle(pilot, app)
        last = views.list_messages(store, chat_id(store, "wb2"))[-1]
        assert last.text == "Текст из редактораиз редактора" and last.state == "sent"


def main_screen_text(app) -> str:  # type: ignore[no-untyped-def]
    return next(s for s in app.screen_stack if isinstance(s, MainScreen)).composer.text


async def test_filters(store) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        lst = main(app).chat_list
        assert lst.total == 4
        for key, expected in (("2", 2), ("3", 1), ("4", 1), ("1", 4)):
            await pilot.press(key)
            await settle(pilot, app)
            assert lst.total == expected, key
        await pilot.press("3")
        await settle(pilot, app)
        assert lst.current.marketplace == "ozon"
        await pilot.press("1", "U")  # unread only: ym1 was answered
        await settle(pilot, app)
        assert lst.total == 3
        await pilot.press("U", "w")  # waiting for reply
        await settle(pilot, app)
        assert {r.external_id for _i, r in lst.loaded_rows()} == {"wb1", "wb2", "oz1"}
        await pilot.press("w", "o")  # open only
        await settle(pilot, app)
        assert lst.total == 3
        await pilot.press("o")  # closed only
        await settle(pilot, app)
        assert lst.total == 1 and lst.current.external_id == "ym1"
        await pilot.press("o", "slash", *"4567")  # order number
        await settle(pilot, app, 0.4)
        assert lst.total == 1 and lst.current.customer == "Борис"
        assert "4567" in main(app).query_one("#list-pane").border_title
        await pilot.press("escape")
        await settle(pilot, app, 0.3)
        assert lst.total == 4 and app.focused is lst


async def test_next_unread(store) -> None:  # type: ignore[no-untyped-def]
    views.set_unread(store, chat_id(store, "wb1"), 0)
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        lst = main(app).chat_list
        await pilot.press("n")
        await settle(pilot, app)
        assert lst.current.external_id == "oz1"  # wb1 is read: skipped
        await pilot.press("n")
        await settle(pilot, app)
        assert lst.current.external_id == "wb2"  # wraps around


async def test_draft_survives_switch_and_restart(store) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        await pilot.press("r", *"черновик", "escape", "h", "j")  # to the list, next chat
        await settle(pilot, app)
        assert scr.conversation.chat.external_id == "wb1"
        assert scr.composer.text == ""
        assert views.get_draft(store, chat_id(store, "wb2")) == "черновик"
        await pilot.press("k")
        await settle(pilot, app)
        assert scr.composer.text == "черновик"
        await pilot.press("r", *" ещё")
        await pilot.press("escape", "h", "q")  # quit right away: the pending draft is flushed
    assert views.get_draft(store, chat_id(store, "wb2")) == "черновик ещё"
    app2 = make_app(store)
    async with app2.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app2)
        assert main(app2).composer.text == "черновик ещё"


async def test_live_arrival_from_another_writer(store) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    app = make_app(store, config=Config(timezone="UTC", bell=True))
    app.bell = lambda: calls.append("bell")  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app, 0.5)  # the watcher has its baseline

        def write() -> None:
            acc = next(c.account_id for c in views.list_chats(store) if c.external_id == "oz1")
            msg = MessageInfo("oz1", "oz1-new", "buyer", "Алло, вы тут?", NOW)
            apply_page(store, acc, "chats", Page(messages=(msg,)))

        t = threading.Thread(target=write)
        t.start()
        t.join()
        await settle(pilot, app, 0.5)
        await settle(pilot, app)
        lst = main(app).chat_list
        assert lst.row(0).external_id == "oz1" and lst.row(0).unread == 2
        assert "Алло, вы тут?" in lst.rendered_text()
        assert calls == ["bell"]


async def test_engine_event_rings_and_leaves_notify_command_to_the_hooks(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """notify_command is the buyer_message hook (tests/assist/test_hooks.py): the app no longer
    runs it per sync event (that announced history and repeated across processes)."""
    out = tmp_path / "argv.txt"
    script = tmp_path / "notify.py"
    script.write_text("import sys, json\nopen(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))\n")
    from chatdesk.store.schema import SyncState

    with store.write() as s:  # wb-main synced before: what arrives now is news
        s.add(SyncState(account_id=1, stream="chats", last_success_at=NOW))
    engine = FakeEngine(store)
    config = Config(timezone="UTC", bell=True, notify_command=(sys.executable, str(script), str(out)))
    app = make_app(store, engine=engine, config=config)
    rang: list[bool] = []
    app.bell = lambda: rang.append(True)  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        hostile = "новое [@click=app.quit]x[/] \x1b]52;c;QQ==\x07 сообщение\n$(id)"
        ev = SyncEvent("synced", 1, 1, frozenset({chat_id(store, "wb1")}), ((1, hostile),))
        threading.Thread(target=engine.emit, args=(ev,)).start()
        await settle(pilot, app, 0.3)
        await settle(pilot, app, 0.3)
        assert rang == [True]
        assert not out.exists()
        assert app.is_running  # the markup did not quit the app


async def test_accounts_screen(store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from chatdesk.secrets import MemorySecrets
    from chatdesk.usecases import accounts as actions

    secrets = MemorySecrets()
    monkeypatch.setattr(actions, "test_account", lambda db, s, name: f"ok: {name} answers")
    engine = FakeEngine(store)
    app = make_app(store, secrets=secrets, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("a")
        await settle(pilot, app)
        scr = app.screen
        assert isinstance(scr, AccountsScreen)
        assert [a.name for a in scr.accounts] == ["ozon-main", "wb-main", "ym-main"]
        await pilot.press("a")
        await settle(pilot, app)
        await pilot.press("tab", *"wb-second", "tab", *"secret-token", "tab", "tab", "enter")
        await settle(pilot, app, 0.3)
        assert "wb-second" in [a.name for a in scr.accounts]
        assert secrets.get("wb-second") == "secret-token"
        assert engine.synced  # a new account syncs at once
        await pilot.press("t")
        await settle(pilot, app)
        assert any("answers" in str(n.message) for n in app._notifications)
        table = scr.query_one("DataTable")
        table.move_cursor(row=[a.name for a in scr.accounts].index("wb-second"))
        await pilot.press("d")
        await settle(pilot, app)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot, app, 0.3)
        assert "wb-second" not in [a.name for a in scr.accounts]
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, MainScreen)


async def test_help_lists_every_binding(store) -> None:  # type: ignore[no-untyped-def]
    from chatdesk.keymap import KEYS

    app = make_app(store, config=Config(timezone="UTC", keymap={"next_unread": "N"}))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        await settle(pilot, app)
        assert isinstance(app.screen, HelpScreen)
        text = app.screen._text.plain
        for key in KEYS:
            assert key.description in text and f"({key.id})" in text
        assert "N" in next(line for line in text.splitlines() if "(next_unread)" in line)
        assert "Enter inserts a newline" in text
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, MainScreen)


async def test_keymap_remaps_and_palette_offers_actions(store) -> None:  # type: ignore[no-untyped-def]
    from chatdesk.app import ChatdeskCommands

    views.set_unread(store, chat_id(store, "wb1"), 0)
    app = make_app(store, config=Config(timezone="UTC", keymap={"next_unread": "N", "nope": "x"}))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        lst = main(app).chat_list
        await pilot.press("n")  # no longer bound
        await settle(pilot, app)
        assert lst.cursor == 0
        await pilot.press("N")
        await settle(pilot, app)
        assert lst.current.external_id == "oz1"
        assert any("nope" in str(n.message) for n in app._notifications)
        entries = ChatdeskCommands(app.screen)._entries()
        descriptions = {e[0] for e in entries}
        assert {"Reply: focus the composer", "Sync now", "Send", "Next chat"} <= descriptions


async def test_search_jumps_to_message(store) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+f", *"размер")
        await settle(pilot, app, 0.3)
        await pilot.press("enter", "enter")
        await settle(pilot, app)
        conv = main(app).conversation
        assert conv.chat.external_id == "oz1"
        assert conv.selected_message.text.startswith("Размер подойдёт")


async def test_attachment_copy_link(store) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert "[📎 photo.jpg 2 KB]" in main(app).conversation.rendered_text()
        await pilot.press("y")
        assert copied == ["https://example.test/photo.jpg"]


async def test_mark_read_on_marketplace_is_explicit(store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from chatdesk.secrets import MemorySecrets
    from chatdesk.usecases import accounts as actions

    calls: list[int] = []
    monkeypatch.setattr(actions, "mark_read_remote", lambda db, secrets, cid: calls.append(cid))
    app = make_app(store, secrets=MemorySecrets())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "enter")
        await settle(pilot, app, 0.5)
        assert calls == []  # opening and reading never touch the marketplace
        await pilot.press("M")
        await settle(pilot, app)
        assert calls == [chat_id(store, "wb1")]


async def test_sync_key_and_status_line(store) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    app = make_app(store, engine=engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("s")
        assert engine.synced == [None]
        status = main(app).query_one("#status-line").text
        assert "3 unread" in status
        assert "syncing here" in status and "not synced yet" in status


def test_run_app_stops_the_engine_however_it_ends(store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from chatdesk import app as app_module

    engine = FakeEngine(store)

    def crash(self) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module.ChatdeskApp, "run", crash)
    with pytest.raises(RuntimeError):
        app_module.run_app(store, config=Config(), engine=engine)
    assert engine.stopped


async def test_engine_starts_after_the_first_paint(store) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    app = make_app(store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app, 0.1)
        assert engine.started


CHATS = 1_000


async def test_many_chats_and_a_long_chat_open_by_pages(store_url: str) -> None:
    """Only the visible page of chats and the newest window of messages are read.
    (1,000 here to keep the suite fast; ``bench`` measures 10,000.)"""
    import time

    from chatdesk.model import ChatInfo
    from chatdesk.store.accounts import add_account
    from chatdesk.store.db import Database

    db = Database(store_url)
    acc = add_account(db, "wb", "wildberries").id
    chats = tuple(ChatInfo(f"c{i}", customer=f"buyer {i}") for i in range(CHATS))
    msgs = tuple(MessageInfo(f"c{i}", f"m{i}", "buyer", f"text {i}", NOW) for i in range(CHATS))
    long_chat = tuple(MessageInfo("c0", f"long{i}", "buyer", f"line {i}", NOW) for i in range(CHATS))
    apply_page(db, acc, "chats", Page(chats=chats, messages=msgs + long_chat))
    app = make_app(db)
    started = time.perf_counter()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        lst = main(app).chat_list
        assert lst.total == CHATS
        await pilot.press("G")
        await settle(pilot, app)
        assert lst.cursor == CHATS - 1 and lst.current.external_id == "c0"  # same time: newest id first
        conv = main(app).conversation
        assert conv.chat.external_id == "c0" and len(conv.messages) == 100 and conv.has_more
        conv.scroll_home(animate=False)  # older history loads on scrolling up
        await settle(pilot, app)
        assert len(conv.messages) == 200
    assert time.perf_counter() - started < 10
    db.close()


async def test_attach_a_file_then_send(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from chatdesk.screens.dialogs import PromptDialog
    from chatdesk.store import outbox

    photo = tmp_path / "чек.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    engine = FakeEngine(store)
    engine.outcome = None  # leave it queued: we look at what was queued
    app = make_app(store, engine=engine)
    async with app.run_test(size=(110, 34)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "enter")
        await settle(pilot, app)
        await pilot.press("r")
        await pilot.press("ctrl+o")
        await settle(pilot, app)
        assert isinstance(app.screen, PromptDialog)
        app.screen.query_one("#prompt-input").value = str(photo)
        await pilot.press("enter")
        await settle(pilot, app)
        scr = main(app)
        assert [f["name"] for f in scr.composer.files] == ["чек.png"]
        assert "чек.png" in str(scr.query_one("#composer-status").render())
        await pilot.press(*"Фото чека")
        await pilot.press("ctrl+j")
        await settle(pilot, app)
        jobs = outbox.claim_due(store, views.get_chat(store, chat_id(store, "wb1")).account_id, "t")
        assert [(j.text, [f["name"] for f in j.files]) for j in jobs] == [("Фото чека", ["чек.png"])]
        assert scr.composer.files == []


async def test_attachment_of_a_forbidden_type_blocks_sending(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = tmp_path / "price.docx"
    doc.write_bytes(b"x" * 10)
    app = make_app(store, engine=FakeEngine(store))
    async with app.run_test(size=(110, 34)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "enter")
        await settle(pilot, app)
        await pilot.press("r", "ctrl+o")
        await settle(pilot, app)
        app.screen.query_one("#prompt-input").value = str(doc)
        await pilot.press("enter")
        await settle(pilot, app)
        scr = main(app)
        assert "blocked" in str(scr.query_one("#composer-status").render())


@pytest.mark.parametrize("blink", [True, False])
async def test_cursor_blink_setting_reaches_the_focused_field(store, blink: bool) -> None:  # type: ignore[no-untyped-def]
    """config ``cursor_blink = false`` keeps text cursors still (slow SSH links, screen readers)."""
    from textual.widgets import TextArea

    app = make_app(store, config=Config(timezone="UTC", cursor_blink=blink))
    app.cursor_blink = blink  # make_app turns blinking off for snapshots; this test sets it itself
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")  # open the chat
        await settle(pilot, app)
        app.screen.query_one("#composer-input").focus()
        await settle(pilot, app)
        focused = app.focused
        assert isinstance(focused, TextArea)
        assert focused.cursor_blink is blink
