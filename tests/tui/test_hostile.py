"""The hostile corpus renders literally in the chat list, the conversation, the header and the
notifications, and no escape/C1/OSC byte reaches the terminal output."""

from __future__ import annotations

from datetime import timedelta

from chatdesk.model import Attachment, ChatInfo, MessageInfo, Page
from chatdesk.screens.main import MainScreen
from chatdesk.store.accounts import add_account
from chatdesk.store.db import Database
from chatdesk.store.ingest import apply_page
from tests.tui.conftest import NOW, make_app, settle
from tests.tui.hostile_corpus import CORPUS, FORBIDDEN


def hostile_store(url: str) -> Database:
    db = Database(url)
    acc = add_account(db, "wb", "wildberries").id
    for i, (raw, _shown) in enumerate(CORPUS):
        ext = f"h{i}"
        apply_page(
            db,
            acc,
            "chats",
            Page(
                chats=(ChatInfo(ext, customer=raw[:40], context={"nmID": raw[:20]}),),
                messages=(
                    MessageInfo(
                        ext, f"{ext}-m", "buyer", raw, NOW - timedelta(minutes=i), (Attachment(f"{raw[:30]}.pdf", 10),)
                    ),
                ),
            ),
        )
    return db


def assert_clean(text: str) -> None:
    for bad in FORBIDDEN:
        assert bad not in text, repr(bad)


async def test_hostile_text_renders_literally_without_escapes(store_url: str) -> None:
    db = hostile_store(store_url)
    app = make_app(db)
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(pilot, app)
        scr = app.screen
        assert isinstance(scr, MainScreen) and app.is_running
        listing = scr.chat_list.rendered_text()
        conv_texts = []
        for i, (_raw, shown) in enumerate(CORPUS):
            scr.chat_list.move_to(i)
            await settle(pilot, app)
            conv = scr.conversation.rendered_text()
            conv_texts.append(conv)
            assert shown in conv, (shown, conv)
            assert_clean(conv)
            header = str(scr.query_one("#chat-header").render())
            assert_clean(header)
        assert "[@click=app.quit]" in listing and "[/foo]" in listing
        assert_clean(listing)
        # Whatever reaches the terminal: every strip the compositor would write.
        screen_text = "\n".join(strip.text for strip in scr._compositor.render_strips())
        assert_clean(screen_text)
        for strip in scr._compositor.render_strips():
            for segment in strip:
                assert_clean(segment.text)
        # Notifications are plain text too.
        for raw, _shown in CORPUS:
            app.say(raw)
        await settle(pilot, app)
        assert app.is_running
        assert_clean(app.export_screenshot())
    db.close()
