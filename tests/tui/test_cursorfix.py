"""Fresh-eyes findings (brief ``cursorfix``): the list cursor is on the chat that is open, by any
route (the stats screen's jump, the topic filter); when a filter hides the open chat the list's
frame says so and no row is highlighted; the active topic filter is named with the key that
clears it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdesk.assist import topics
from chatdesk.screens.main import MainScreen
from chatdesk.screens.stats import StatsScreen, TopicPicker
from chatdesk.store import topics as store_topics
from chatdesk.store import views
from chatdesk.store.db import Database
from tests.tui.conftest import make_app, seed, settle
from tests.tui.test_assist_tui import add_history


@pytest.fixture
def tagged_store(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    add_history(db, seed(db))
    store_topics.tag_pending(db, lambda t: topics.classify(t).code, version=topics.VERSION)
    yield db
    db.close()


def chat_id(db: Database, ext: str) -> int:
    return next(c.id for c in views.list_chats(db) if c.external_id == ext)


async def open_with_keys(pilot, app, db: Database, ext: str) -> MainScreen:  # type: ignore[no-untyped-def]
    """Move the list cursor to ``ext`` with j and open it with Enter, as a person does."""
    await settle(pilot, app, 0.3)
    screen = app.screen
    assert isinstance(screen, MainScreen)
    target = chat_id(db, ext)
    for _ in range(10):
        current = screen.chat_list.current
        if current is not None and current.id == target:
            break
        await pilot.press("j")
        await settle(pilot, app)
    await pilot.press("enter")
    await settle(pilot, app, 0.2)
    assert screen.conversation.chat is not None and screen.conversation.chat.id == target
    return screen


async def pick_topic(pilot, app, code: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("t")
    await settle(pilot, app)
    assert isinstance(app.screen, TopicPicker)
    app.screen.dismiss(code)
    await settle(pilot, app, 0.3)


def frame(screen: MainScreen) -> tuple[str, str]:
    pane = screen.query_one("#list-pane")
    return str(pane.border_title), str(pane.border_subtitle)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_stats_jump_moves_the_list_cursor_onto_the_opened_chat(tagged_store, size) -> None:  # type: ignore[no-untyped-def]
    """Finding 1a: stats → a product → a message → Enter opened that chat, but the list still
    highlighted the chat open before (wb2, at the top)."""
    db = tagged_store
    app = make_app(db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, app, 0.3)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert screen.chat_list.current.external_id == "wb2"
        await pilot.press("I")
        await settle(pilot, app, 0.5)
        assert isinstance(app.screen, StatsScreen)
        oz1 = chat_id(db, "oz1")
        message = views.list_messages(db, oz1)[-1]
        app.screen.dismiss((oz1, message.id))  # what Enter on a message in its picker does
        await settle(pilot, app, 0.4)
        assert screen.conversation.chat.id == oz1 and screen.composer.chat.id == oz1
        assert screen.chat_list.current is not None and screen.chat_list.current.id == oz1
        assert not screen.chat_list.detached  # and it is drawn there
        assert "open chat not in" not in frame(screen)[1]


async def test_a_stats_jump_to_a_chat_the_filter_hides_says_so(tagged_store) -> None:  # type: ignore[no-untyped-def]
    db = tagged_store
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, 0.3)
        screen = app.screen
        await pilot.press("2")  # Wildberries only
        await settle(pilot, app, 0.3)
        await pilot.press("I")
        await settle(pilot, app, 0.5)
        oz1 = chat_id(db, "oz1")
        app.screen.dismiss((oz1, views.list_messages(db, oz1)[-1].id))
        await settle(pilot, app, 0.4)
        assert screen.conversation.chat.id == oz1
        assert screen.chat_list.detached  # no Wildberries row pretends to be Борис's chat
        assert frame(screen)[1] == "open chat not in view"  # 80 columns: the short wording
        await pilot.press("1")  # all marketplaces: the cursor comes back onto the open chat
        await settle(pilot, app, 0.4)
        assert screen.chat_list.current.id == oz1 and not screen.chat_list.detached
        assert "open chat" not in frame(screen)[1]


async def test_a_topic_filter_that_hides_the_open_chat_says_so(tagged_store) -> None:  # type: ignore[no-untyped-def]
    """Finding 1b: after ``t`` the cursor sat on another chat while the open one stayed, with
    nothing on screen explaining it. Also with a reply being written (the tester's case)."""
    db = tagged_store
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_with_keys(pilot, app, db, "wb1")
        wb1 = chat_id(db, "wb1")
        await pilot.press("r", *"Едет", "escape")
        await settle(pilot, app)
        await pick_topic(pilot, app, "defect")  # only Глеб's "Вот фото брака"
        assert [screen.chat_list.row(i).external_id for i in range(screen.chat_list.total)] == ["wb2"]
        assert screen.conversation.chat.id == wb1 and screen.composer.chat.id == wb1
        assert screen.composer.text == "Едет"
        assert screen.chat_list.detached  # Глеб's row is not highlighted as if it were open
        title, foot = frame(screen)
        assert "topic брак" in title
        assert foot == "open chat not in view"  # 80 columns: the short wording that fits
        await pilot.press("escape")  # back to the list
        await settle(pilot, app)
        await pilot.press("enter")  # on a hidden cursor: shows it first, opens nothing unseen
        await settle(pilot, app, 0.2)
        assert not screen.chat_list.detached
        assert screen.composer.chat.id == wb1 or screen.composer.text == ""
        await pick_topic(pilot, app, "")  # any topic
        assert "topic" not in frame(screen)[0]


async def test_a_topic_filter_keeps_the_open_chat_and_moves_the_cursor_onto_it(tagged_store) -> None:  # type: ignore[no-untyped-def]
    db = tagged_store
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_with_keys(pilot, app, db, "oz-old")  # Дина's size question, 2 days ago
        old = chat_id(db, "oz-old")
        await pick_topic(pilot, app, "size")  # Борис (newer) first, then Дина
        ids = [screen.chat_list.row(i).id for i in range(screen.chat_list.total)]
        assert ids == [chat_id(db, "oz1"), old]
        await settle(pilot, app, 0.3)  # past the preview debounce: nothing retargets
        assert screen.conversation.chat.id == old
        assert screen.chat_list.current.id == old and not screen.chat_list.detached
        title, foot = frame(screen)
        assert "topic размер" in title and foot == "clear: t→any topic"


async def test_the_frame_names_the_keys_that_clear_each_filter(tagged_store) -> None:  # type: ignore[no-untyped-def]
    app = make_app(tagged_store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, 0.3)
        screen = app.screen
        assert frame(screen)[1] == "1-4 U w o /"
        await pilot.press("3", "w")
        await settle(pilot, app, 0.3)
        # Глеб's chat (shown since start) stays open; Ozon + waiting does not list it
        foot = frame(screen)[1]
        assert foot.startswith("open chat not in") and foot.endswith(" · clear: 1 w")
        await pilot.press("j")  # the user moves: the cursor shows, that chat opens
        await settle(pilot, app, 0.3)
        assert frame(screen)[1] == "clear: 1 w"
        assert screen.conversation.chat.id == screen.chat_list.current.id


async def test_waited_and_window_marks_differ_in_glyph_and_colour(tagged_store) -> None:  # type: ignore[no-untyped-def]
    """Finding 3: ``◷22h ◔25h`` side by side looked alike. The waiting time keeps ◷ as plain
    coloured text; the reply window is ⇥ on a shaded box; the help screen explains both."""
    from chatdesk.screens.help import NOTES

    app = make_app(tagged_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, 0.3)
        screen = app.screen
        chat_list = screen.chat_list
        index = next(i for i in range(chat_list.total) if chat_list.row(i).external_id == "oz1")
        chat_list.move_to(index + 1)  # the cursor elsewhere: the row in its own colours
        await settle(pilot, app, 0.2)
        y = index * 2 + 1 - int(chat_list.scroll_offset.y)
        segments = list(chat_list.render_line(y))
        text = "".join(s.text for s in segments)
        assert "◷ 3h ⇥44h" in text
        waited = next(s for s in segments if "◷" in s.text)
        window = next(s for s in segments if "⇥" in s.text)
        base = chat_list.rich_style.bgcolor
        assert waited.style.bgcolor == base  # plain text on the list
        assert window.style.bgcolor is not None and window.style.bgcolor != base  # a box
        assert window.style.color != waited.style.color or window.style.bgcolor != waited.style.bgcolor
    help_notes = " ".join(NOTES)
    assert "◷" in help_notes and "⇥" in help_notes and "reply window" in help_notes


def test_the_foot_takes_the_longest_wording_that_fits() -> None:
    from chatdesk.screens.main import _foot

    assert _foot(True, ["t→any topic"], 60) == "open chat not in this view · clear: t→any topic"
    assert _foot(True, ["t→any topic"], 34) == "open chat not in view · clear: t"
    assert _foot(True, ["1", "t→any topic"], 22) == "open chat not in view"
    assert _foot(False, ["t→any topic"], 22) == "clear: t→any topic"
    assert _foot(False, [], 22) == ""


# ---------------------------------------------------------------------- snapshots


def _then(*steps):  # type: ignore[no-untyped-def]
    """run_before for snap_compare: each step is a key or an ``async (pilot, app)`` callable."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        await settle(pilot, app, 0.3)
        for step in steps:
            if isinstance(step, str):
                await pilot.press(step)
            else:
                await step(pilot, app)
            await settle(pilot, app, 0.3)
        for widget in app.query("TextArea, Input"):
            widget.cursor_blink = False
        app.clear_notifications()
        await settle(pilot, app)

    return run_before


def _dismiss_with(value):  # type: ignore[no-untyped-def]
    async def step(pilot, app) -> None:  # type: ignore[no-untyped-def]
        app.screen.dismiss(value(app) if callable(value) else value)

    return step


def test_snapshot_topic_filter_hides_the_open_chat_80x24(snap_compare, tagged_store) -> None:  # type: ignore[no-untyped-def]
    """The list shows "topic брак" and "open chat not in view"; Глеб's row is not highlighted."""
    app = make_app(tagged_store)
    steps = _then("j", "enter", "t", _dismiss_with("defect"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps)


def test_snapshot_stats_jump_moves_the_cursor_120x40(snap_compare, tagged_store) -> None:  # type: ignore[no-untyped-def]
    """After a jump from the stats screen the cursor row is Борис's chat, the one open."""
    db = tagged_store
    oz1 = chat_id(db, "oz1")
    target = (oz1, views.list_messages(db, oz1)[-1].id)
    app = make_app(db)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_then("I", _dismiss_with(target)))


# ---------------------------------------------------------------------- finding 4: 80x24 fits


def _lines_needed(widget, text) -> int:  # type: ignore[no-untyped-def]
    from rich.text import Text

    plain = Text(text.plain if hasattr(text, "plain") else str(text))
    return len(plain.wrap(widget.app.console, widget.content_region.width))


async def test_the_closed_window_line_is_not_cut_at_80x24(tagged_store) -> None:  # type: ignore[no-untyped-def]
    """Ozon's "blocked: the reply window closed …" line was cut at "48 h of" (two lines)."""
    app = make_app(tagged_store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_with_keys(pilot, app, tagged_store, "oz-old")  # the buyer wrote 50 h ago
        await pilot.press("r")
        await settle(pilot, app)
        status = screen.composer.query_one("#composer-status")
        text = screen.composer.status_text
        assert "once the buyer does" in text.plain
        assert status.content_region.height >= _lines_needed(status, text)


async def test_a_toast_does_not_cover_the_composer_line(tagged_store) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets._toast import Toast

    app = make_app(tagged_store)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await open_with_keys(pilot, app, tagged_store, "oz-old")
        await pilot.press("r")
        app.notify("finding suggestions… and a long second line to wrap the toast")
        await settle(pilot, app, 0.2)
        status = screen.composer.query_one("#composer-status")
        toasts = list(app.screen.query(Toast))
        assert toasts
        for toast in toasts:
            assert not toast.region.overlaps(status.region), (toast.region, status.region)
            assert not toast.region.overlaps(screen.composer.region)


async def test_the_suggestion_picker_shows_every_warning_at_80x24(tagged_store) -> None:  # type: ignore[no-untyped-def]
    """The picker's warnings were cut behind a scrollbar at 80x24."""
    from textual.containers import VerticalScroll

    from chatdesk import rules
    from chatdesk.assist.suggest import Suggestion, Suggestions
    from chatdesk.screens.suggestions import SuggestionPicker

    text = "Борис, пишите в WhatsApp +7 999 123-45-67 или на почту shop@example.ru, скидка 50% завтра"
    findings = tuple(rules.check(text, marketplace="ozon"))
    assert len(findings) >= 2
    items = tuple(
        Suggestion("past", f"{text} ({i})", f"you answered «вопрос {i}» on 08.03.2026", findings=findings)
        for i in range(6)
    )
    result = Suggestions(1, 1, "Размер подойдёт на 180 см?", items, notices=("model: no endpoint configured",))
    app = make_app(tagged_store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, 0.3)
        picker = SuggestionPicker(result)
        app.push_screen(picker)
        await settle(pilot, app, 0.3)
        preview = picker.query_one("#sg-preview", VerticalScroll)
        assert preview.max_scroll_y == 0, "the warnings are cut behind a scrollbar"
        box = picker.query_one("Vertical")
        assert box.max_scroll_y == 0 and box.region.height <= 24
        keys = picker.query_one(".dialog-keys")
        assert keys.region.bottom <= box.region.bottom  # the keys line is on screen


async def test_new_data_that_takes_the_open_chat_out_of_a_text_filter_says_so(tagged_store) -> None:  # type: ignore[no-untyped-def]
    """Fresh eyes round 2: with `/поставка в размере` on, the open chat got a new message, left
    the filter ("Chats 0") and the list said nothing; now the frame says the open chat is not in
    view and no row pretends to be it."""
    from datetime import UTC, datetime

    from chatdesk.messages import DataChanged
    from chatdesk.model import MessageInfo, Page
    from chatdesk.store.ingest import apply_page

    db = tagged_store
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_with_keys(pilot, app, db, "wb2")
        wb2 = chat_id(db, "wb2")
        preview = views.get_chat(db, wb2).preview  # type: ignore[union-attr]
        await pilot.press("escape")
        await settle(pilot, app)
        await pilot.press("/", *preview.split()[-1], "enter")
        await settle(pilot, app, 0.3)
        assert [screen.chat_list.row(i).id for i in range(screen.chat_list.total)] == [wb2]  # type: ignore[union-attr]
        assert not screen.chat_list.detached
        account = views.get_chat(db, wb2).account_id  # type: ignore[union-attr]
        later = datetime(2030, 1, 1, tzinfo=UTC)
        apply_page(db, account, "chats", Page(messages=(MessageInfo("wb2", "zz-new", "buyer", "Хорошо", later),)))
        screen.post_message(DataChanged())
        await settle(pilot, app, 0.3)
        await settle(pilot, app, 0.3)
        assert screen.conversation.chat is not None and screen.conversation.chat.id == wb2  # still open
        assert screen.chat_list.total == 0  # the filter matched the preview, which moved on
        assert screen.chat_list.detached
        assert "open chat not in" in frame(screen)[1]
