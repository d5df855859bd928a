"""Issue 14 in the inbox: ctrl+s suggestions land in the composer (rule-checked; dropped if the
chat changed meanwhile), the topic tag and filter, the window countdown, the stats screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatdesk.assist import topics
from chatdesk.model import ChatInfo, MessageInfo, Page
from chatdesk.screens.main import MainScreen
from chatdesk.screens.stats import StatsScreen, TopicPicker
from chatdesk.screens.suggestions import SuggestionPicker
from chatdesk.store import topics as store_topics
from chatdesk.store import views
from chatdesk.store.db import Database
from chatdesk.store.ingest import apply_page
from tests.tui.conftest import at, make_app, seed, settle


def add_history(db: Database, accounts: dict[str, int]) -> None:
    """A past size question answered by the seller, in another Ozon chat."""
    apply_page(
        db,
        accounts["ozon"],
        "chats",
        Page(
            chats=(ChatInfo("oz-old", customer="Дина"),),
            messages=(
                MessageInfo("oz-old", "o1", "buyer", "Какой размер брать на 175 см?", at(3000)),
                MessageInfo("oz-old", "o2", "seller", "Дина, на 175 см берите L.", at(2990)),
            ),
        ),
    )
    store_topics.tag_pending(db, lambda t: topics.classify(t).code, version=topics.VERSION)


@pytest.fixture
def assist_db(store_url: str) -> Iterator[Database]:
    """The seeded store plus one answered past question, on each engine (the flow tests)."""
    db = Database(store_url)
    add_history(db, seed(db))
    yield db
    db.close()


@pytest.fixture
def assist_store(sqlite_url: str) -> Iterator[Database]:
    """The same data on SQLite only, for the SVG snapshots and colour checks: pure rendering of
    data that the flow tests above (and tests/assist) read and write on both engines; and an SVG
    snapshot's file name would carry the engine."""
    db = Database(sqlite_url)
    add_history(db, seed(db))
    yield db
    db.close()


def chat_id(db: Database, ext: str) -> int:
    return next(c.id for c in views.list_chats(db) if c.external_id == ext)


async def open_composer(pilot, app, db: Database, ext: str) -> MainScreen:  # type: ignore[no-untyped-def]
    await settle(pilot, app, 0.3)
    screen = app.screen
    assert isinstance(screen, MainScreen)
    target = chat_id(db, ext)
    for _ in range(10):  # move the list cursor to the chat, open it, reply (as a person would)
        current = screen.chat_list.current
        if current is not None and current.id == target:
            break
        await pilot.press("j")
        await settle(pilot, app)
    await pilot.press("enter")
    await settle(pilot, app)
    await pilot.press("r")
    await settle(pilot, app)
    assert screen.composer.chat is not None and screen.composer.chat.external_id == ext
    return screen


async def test_ctrl_s_puts_a_readdressed_past_answer_into_the_composer(assist_db) -> None:  # type: ignore[no-untyped-def]
    app = make_app(assist_db)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_composer(pilot, app, assist_db, "oz1")
        await pilot.press("ctrl+s")
        await settle(pilot, app, 0.3)
        assert isinstance(app.screen, SuggestionPicker)
        first = app.screen.items[0]
        assert first.source == "past" and "Какой размер брать на 175 см?" in first.reason
        await pilot.press("enter")
        await settle(pilot, app, 0.3)
        assert screen.composer.text == "Борис, на 175 см берите L."
        assert screen.composer.chat is not None and screen.composer.chat.external_id == "oz1"
        assert views.list_messages(assist_db, chat_id(assist_db, "oz1"))[-1].author == "buyer"  # not sent


async def test_a_suggestion_is_dropped_when_the_buyer_wrote_meanwhile(assist_db) -> None:  # type: ignore[no-untyped-def]
    app = make_app(assist_db)
    said: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_composer(pilot, app, assist_db, "oz1")
        app.desk._say = lambda text, severity: said.append(text)  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(pilot, app, 0.3)
        assert isinstance(app.screen, SuggestionPicker)
        oz = next(
            a
            for a in __import__("chatdesk.store.accounts", fromlist=["x"]).list_accounts(assist_db)
            if a.marketplace == "ozon"
        )
        apply_page(assist_db, oz.id, "chats", Page(messages=(MessageInfo("oz1", "new", "buyer", "Ау?", at(1)),)))
        await pilot.press("enter")
        await settle(pilot, app, 0.3)
        assert screen.composer.text == ""
        assert any("suggestion dropped: the buyer wrote again" in s for s in said)


async def test_topic_tag_filter_and_window_countdown(assist_db) -> None:  # type: ignore[no-untyped-def]
    app = make_app(assist_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, 0.3)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        text = screen.chat_list.rendered_text()
        # Ozon's window closes 48 h after the buyer's message of 200 min ago; then the topic tag
        assert "◷ 3h ⇥44h размер Размер подойдёт" in text
        assert "◷10m брак Вот фото брака" in text  # WB chats have no window
        await pilot.press("t")
        await settle(pilot, app)
        assert isinstance(app.screen, TopicPicker)
        app.screen.dismiss("defect")
        await settle(pilot, app, 0.3)
        shown = [screen.chat_list.row(i).external_id for i in range(screen.chat_list.total)]
        assert shown == ["wb2"]  # "Вот фото брака"


async def test_stats_screen_shows_the_period(assist_db) -> None:  # type: ignore[no-untyped-def]
    app = make_app(assist_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app, 0.3)
        await pilot.press("I")
        await settle(pilot, app, 0.5)
        assert isinstance(app.screen, StatsScreen)
        summary = str(app.screen.query_one("#st-summary").render())
        assert "buyer messages in" in summary and "waiting now" in summary
        await pilot.press("r")
        await pilot.press("p")
        await settle(pilot, app)
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, MainScreen)


# ---------------------------------------------------------------------- snapshots (80x24, fixed data and clock)


def _prepare(*keys: str, before=None, until=None):  # type: ignore[no-untyped-def]
    """``until(app)``: wait (up to 5 s) for it before the picture, e.g. for a worker's result."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        await settle(pilot, app, 0.3)
        if before is not None:
            await before(pilot, app)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, app, 0.3)
        await settle(pilot, app, 0.8)  # the draft (saved after a debounce) and its list marker settle
        for _ in range(50):
            if until is None or until(app):
                break
            await pilot.pause(0.1)
        # No blinking text cursor in a picture: a focused text area shows it steadily. Every
        # screen of the stack, not only the active one (a modal may still be closing).
        for screen in app.screen_stack:
            for widget in screen.query("TextArea, Input"):
                widget.cursor_blink = False
        app.clear_notifications()
        await settle(pilot, app)

    return run_before


def test_snapshot_suggestions_80x24(snap_compare, assist_store) -> None:  # type: ignore[no-untyped-def]
    async def to_composer(pilot, app) -> None:  # type: ignore[no-untyped-def]
        await open_composer(pilot, app, assist_store, "oz1")

    assert snap_compare(
        make_app(assist_store), terminal_size=(80, 24), run_before=_prepare("ctrl+s", before=to_composer)
    )


def test_snapshot_suggestion_in_composer_80x24(snap_compare, assist_store) -> None:  # type: ignore[no-untyped-def]
    async def to_composer(pilot, app) -> None:  # type: ignore[no-untyped-def]
        await open_composer(pilot, app, assist_store, "oz1")

    def inserted(app) -> bool:  # type: ignore[no-untyped-def]
        screen = app.screen
        return isinstance(screen, MainScreen) and bool(screen.composer.text) and screen.composer.input.has_focus

    app = make_app(assist_store)
    assert snap_compare(
        app, terminal_size=(80, 24), run_before=_prepare("ctrl+s", "enter", before=to_composer, until=inserted)
    )


def test_snapshot_stats_80x24(snap_compare, assist_store) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(assist_store), terminal_size=(80, 24), run_before=_prepare("I"))


async def _light(pilot, app) -> None:  # type: ignore[no-untyped-def]
    app.theme = "textual-light"
    await settle(pilot, app)


def test_snapshot_stats_light_80x24(snap_compare, assist_store) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(assist_store), terminal_size=(80, 24), run_before=_prepare("I", before=_light))


def test_snapshot_stats_light_120x40(snap_compare, assist_store) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(assist_store), terminal_size=(120, 40), run_before=_prepare("I", before=_light))


def test_snapshot_list_with_topics_and_countdown_120x40(snap_compare, assist_store) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_app(assist_store), terminal_size=(120, 40), run_before=_prepare())


def _luminance(color) -> float:  # type: ignore[no-untyped-def]
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = color.get_truecolor()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a, b) -> float:  # type: ignore[no-untyped-def]
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_stats_screen_is_readable_in_each_theme(assist_store, monkeypatch, theme, size) -> None:  # type: ignore[no-untyped-def]
    """Every visible character of the stats screen (summary, plot, products on fire) has
    an explicit background of the theme and reads against it (contrast >= 3, WCAG large text),
    the app's shared footer aside,
    as the composited screen shows it; the summary and plot are whole (nothing cut)."""
    from rich.console import Console

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(Console, "color_system", property(lambda _self: "truecolor"))
    app = make_app(assist_store)
    async with app.run_test(size=size) as pilot:
        app.theme = theme
        await settle(pilot, app, 0.3)
        await pilot.press("I")
        await settle(pilot, app, 0.5)
        screen = app.screen
        assert isinstance(screen, StatsScreen) and screen.by_day is not None
        strips = screen._compositor.render_strips()
        footer_y = screen.query_one("Footer").region.y  # the app's shared footer: not this screen's
        text = ["".join(seg.text for seg in strip) for strip in strips]
        assert any("waiting now" in line for line in text) and any("Esc back" in line for line in text)
        assert any("Buyer messages per day" in line for line in text)
        for y, strip in enumerate(strips[:footer_y]):
            for seg in strip:
                st = seg.style
                if not any(ch.isalnum() for ch in seg.text) or st is None or "reverse" in str(st):
                    continue
                assert st.bgcolor is not None and not st.bgcolor.is_default, (theme, y, seg.text)
                assert st.color is not None and not st.color.is_default, (theme, y, seg.text)
                assert _contrast(st.color, st.bgcolor) >= 3.0, (theme, y, seg.text, str(st))


def test_stats_counts_agree_in_number() -> None:
    """fuanswer item 2: the stats screen said "1 problems"."""
    from chatdesk.assist.report import FireRow
    from chatdesk.screens.stats import counted, fire_label

    one = FireRow("P1", "Платье", 1, 0, {"defect": (1, 0)}, (7,))
    assert fire_label(one).plain.startswith("Платье: 1 problem (before 0) · ")
    assert "1 problems" not in fire_label(one).plain
    assert fire_label(FireRow("P2", "Куртка", 3, 1, {"size": (3, 1)}, (1, 2, 3))).plain.startswith(
        "Куртка: 3 problems (before 1)"
    )
    assert [counted(n, "chat") for n in (0, 1, 2, 21)] == ["0 chats", "1 chat", "2 chats", "21 chats"]
    assert counted(1, "buyer message") == "1 buyer message"


async def test_a_suggestion_replaces_the_draft_and_ctrl_z_brings_it_back(assist_db) -> None:  # type: ignore[no-untyped-def]
    """Seen on the demo: taking a suggestion appended it to the draft (text doubled, 165/1000)."""
    app = make_app(assist_db)
    said: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_composer(pilot, app, assist_db, "oz1")
        app.desk._say = lambda text, severity: said.append(text)  # type: ignore[attr-defined]
        await pilot.press(*"Добрый день")
        await settle(pilot, app)
        assert screen.composer.text == "Добрый день"
        await pilot.press("ctrl+s")
        await settle(pilot, app, 0.3)
        assert isinstance(app.screen, SuggestionPicker)
        await pilot.press("enter")
        await settle(pilot, app, 0.3)
        assert screen.composer.text == "Борис, на 175 см берите L."
        assert str(screen.composer.status_text).startswith(f"{len('Борис, на 175 см берите L.')}/")
        assert "replaced your draft — ctrl+z brings it back" in said
        await pilot.press("ctrl+z")
        await settle(pilot, app)
        assert screen.composer.text == "Добрый день"
        await pilot.press("ctrl+y")
        await settle(pilot, app)
        assert screen.composer.text == "Борис, на 175 см берите L."


async def test_an_empty_composer_just_gets_the_suggestion(assist_db) -> None:  # type: ignore[no-untyped-def]
    app = make_app(assist_db)
    said: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_composer(pilot, app, assist_db, "oz1")
        app.desk._say = lambda text, severity: said.append(text)  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(pilot, app, 0.3)
        await pilot.press("enter")
        await settle(pilot, app, 0.3)
        assert screen.composer.text == "Борис, на 175 см берите L."
        assert not any("replaced" in s for s in said)


async def test_no_finding_suggestions_toast_stays_over_the_open_picker(assist_db) -> None:  # type: ignore[no-untyped-def]
    """Seen on the demo at 80x24: the "finding suggestions…" toast covered the picker's key line."""
    app = make_app(assist_db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_composer(pilot, app, assist_db, "oz1")
        await pilot.press("ctrl+s")
        await settle(pilot, app, 0.3)
        assert isinstance(app.screen, SuggestionPicker)
        toasts = [str(n.message) for n in app._notifications]
        assert not any("finding suggestions" in t for t in toasts), toasts
        assert screen.composer.activity == ""
        assert "finding suggestions" not in str(screen.composer.status_text)
