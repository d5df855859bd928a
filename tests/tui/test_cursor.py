"""Issue 13 items 1 and 5: what a person sees in the chat list and the conversation, checked on
the rendered segments (styles, not words): the cursor row differs from its neighbours in colour
and with NO_COLOR, SLA and badge colours are applied, padding carries the widget's background,
and the list never loses its time column to the scrollbar."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.segment import Segment

from chatdesk.screens.main import MainScreen
from tests.tui.conftest import chat, make_app, settle

# One engine: colours and segment styles of identical rows (fixture data).
pytestmark = pytest.mark.one_engine("colours and segment styles of identical rows (fixture data)")


@pytest.fixture
def truecolor(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal with colours (the headless driver reports the 16 standard ones)."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(Console, "color_system", property(lambda _self: "truecolor"))


@pytest.fixture
def no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")


def styles(segments: list[Segment]) -> list[str]:
    return [str(s.style) for s in segments if s.text.strip()]


def row_look(lst, index: int) -> tuple[tuple[str, ...], tuple[str, ...]]:  # type: ignore[no-untyped-def]
    """The styles of both lines of a chat row, minus the badge/mark lead (it keeps its colours)."""
    y = index * 2 - int(lst.scroll_offset.y)
    first = [s for s in lst.render_line(y)][1:]
    second = [s for s in lst.render_line(y + 1)][1:]
    return tuple(str(s.style) for s in first), tuple(str(s.style) for s in second)


async def cursor_differs(store) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("j")
        await settle(pilot, app)
        scr = app.screen
        assert isinstance(scr, MainScreen)
        lst = scr.chat_list
        assert lst.cursor == 1
        cursor, above, below = row_look(lst, 1), row_look(lst, 0), row_look(lst, 2)
        for part in (0, 1):
            assert set(cursor[part]).isdisjoint(above[part]), (cursor[part], above[part])
            assert set(cursor[part]).isdisjoint(below[part]), (cursor[part], below[part])
        if app.no_color:
            assert all("reverse" in s for s in cursor[0] + cursor[1])
        # The selected message: every line of it looks different from the others, with a bar.
        await pilot.press("enter", "k")
        await settle(pilot, app)
        conv = scr.conversation
        assert conv.selected_message is not None
        lines = [list(conv.render_line(y)) for y in range(conv.size.height)]
        marked = [segs for segs in lines if segs and segs[0].text == "▌"]
        unmarked = [segs for segs in lines if segs and segs[0].text == " " and any(s.text.strip() for s in segs)]
        assert marked and unmarked
        sel_styles = {str(s.style) for segs in marked for s in segs[1:] if s.text.strip()}
        other_styles = {str(s.style) for segs in unmarked for s in segs[1:] if s.text.strip()}
        assert sel_styles.isdisjoint(other_styles), (sel_styles, other_styles)


async def test_cursor_visible_in_colour(store, truecolor) -> None:  # type: ignore[no-untyped-def]
    await cursor_differs(store)


async def test_cursor_visible_with_no_color(store, no_color) -> None:  # type: ignore[no-untyped-def]
    await cursor_differs(store)


async def test_badges_and_sla_colours_are_applied(store, truecolor) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        lst = app.screen.chat_list
        rows = {row.external_id: i for i, row in lst.loaded_rows()}

        def lead(index: int, part: int) -> Segment:
            return next(iter(lst.render_line(index * 2 + part)))

        badges = {ext: lead(i, 0).style for ext, i in rows.items()}
        assert badges["wb1"].bgcolor == badges["wb2"].bgcolor
        assert len({badges["wb1"].bgcolor, badges["oz1"].bgcolor, badges["ym1"].bgcolor}) == 3
        for style in badges.values():
            assert style.bgcolor != lst.rich_style.bgcolor
        # Глеб waits 10 min (ok), Анна 40 min (warn), Борис 200 min (late): three colours.
        ok, warn, late = (lead(rows[e], 1) for e in ("wb2", "wb1", "oz1"))
        assert ok.text.startswith("◷") and warn.text.startswith("◷") and late.text.startswith("◷")
        assert len({ok.style.color, warn.style.color, late.style.color}) == 3
        assert warn.style.color == lst.get_component_rich_style("chat-list--warn").color
        assert late.style.color == lst.get_component_rich_style("chat-list--late").color
        # No cell of a row is left without the list's background (the "black blocks").
        for y in range(8):
            for seg in lst.render_line(y):
                assert seg.style is not None and seg.style.bgcolor is not None, (y, seg)


@pytest.mark.parametrize("size", [(60, 20), (80, 24)])
async def test_list_width_leaves_the_scrollbar_alone(store, size) -> None:  # type: ignore[no-untyped-def]
    from chatdesk.store.accounts import get_account

    wb = get_account(store, "wb-main").id
    for n in range(30):  # enough chats for a vertical scrollbar
        chat(wb, store, f"more{n}", f"Покупатель {n}", [("buyer", "Здравствуйте", 60 * 24 * 3 + n)])
    app = make_app(store)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, app)
        lst = app.screen.chat_list
        lines = lst.rendered_text().splitlines()
        first = lines[0].rstrip()
        assert first.endswith("10m"), first  # the time column is whole
        assert lst.show_vertical_scrollbar
        assert lst.virtual_size.width <= lst.scrollable_content_region.width
        assert not lst.show_horizontal_scrollbar
        conv = app.screen.conversation
        assert not conv.show_horizontal_scrollbar


async def test_composer_warning_highlights_the_offending_words(store, truecolor) -> None:  # type: ignore[no-untyped-def]
    """Issue 13 item 15: the live warning shows the words that triggered it, highlighted."""
    from chatdesk.widgets.findings import WARN_STYLE

    app = make_app(store)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        app.screen.composer.input.insert("Здравствуйте! Пишите в telegram @shop_uyut, там быстрее")
        await settle(pilot, app)
        text = app.screen.composer.status_text
        marked = [text.plain[span.start : span.end] for span in text.spans if str(span.style) == WARN_STYLE]
        assert marked and any("telegram" in m or "@shop_uyut" in m for m in marked), (text.plain, text.spans)


async def test_light_theme_previews_are_readable_and_leads_keep_the_background(store, truecolor) -> None:  # type: ignore[no-untyped-def]
    """Light theme: muted text is blended like Textual draws it (not white on light grey), and
    a whitespace-only lead (a chat not waiting) carries the list's background (no black block)."""
    from tests.tui.conftest import chat as add_chat

    wb = next(c.account_id for c in views_list(store) if c.external_id == "wb1")
    add_chat(wb, store, "s1", "Сергей", [("buyer", "Привет", 100), ("seller", "Здравствуйте! Нет", 1)])
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        app.theme = "textual-light"
        await pilot.press("j")  # the cursor off Сергей's row
        await settle(pilot, app)
        lst = app.screen.chat_list
        bg = lst.rich_style.bgcolor
        lead, preview = list(lst.render_line(1))[:2]  # Сергей: the seller wrote last
        assert lead.text.strip() == "" and lead.style.bgcolor == bg
        assert preview.style.color is not None and preview.style.color.triplet != (255, 255, 255)
        luminance = sum(preview.style.color.triplet) / 3
        assert luminance < sum(bg.triplet) / 3 - 60  # visibly darker than the background


def views_list(store):  # type: ignore[no-untyped-def]
    from chatdesk.store import views

    return views.list_chats(store)


def luminance(color) -> float:  # type: ignore[no-untyped-def]
    """Relative luminance (WCAG, 0..1) of a Rich colour with a triplet."""

    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = color.get_truecolor()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a, b) -> float:  # type: ignore[no-untyped-def]
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


async def blurred_cursor_differs(store, theme: str | None) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        if theme:
            app.theme = theme
        await pilot.press("j", "enter")  # open the chat: focus leaves the list
        await settle(pilot, app)
        lst = app.screen.chat_list
        assert lst.cursor == 1 and not lst.has_focus
        cursor, above, below = row_look(lst, 1), row_look(lst, 0), row_look(lst, 2)
        for part in (0, 1):
            assert set(cursor[part]).isdisjoint(above[part]), (theme, cursor[part], above[part])
            assert set(cursor[part]).isdisjoint(below[part]), (theme, cursor[part], below[part])
        if app.no_color:
            assert all("reverse" in s or "underline" in s for s in cursor[0] + cursor[1])
        else:
            # Clearly visible: the cursor's background stands apart from the list's.
            bg = lst.rich_style.bgcolor
            cur_bg = list(lst.render_line(2))[1].style.bgcolor
            if cur_bg is None or cur_bg.triplet is None or bg.triplet is None:  # an ansi theme
                assert all("reverse" in s or "underline" in s for s in cursor[0] + cursor[1]), cursor
            else:
                assert contrast(cur_bg, bg) > 1.15, (theme, cur_bg, bg)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "ansi-light", "ansi-dark"])
async def test_blurred_cursor_visible_in_colour(store, truecolor, theme) -> None:  # type: ignore[no-untyped-def]
    """A new user's report: in ansi-light, once the conversation had focus the list's cursor vanished."""
    await blurred_cursor_differs(store, theme)


async def test_blurred_cursor_visible_with_no_color(store, no_color) -> None:  # type: ignore[no-untyped-def]
    await blurred_cursor_differs(store, None)


@pytest.mark.parametrize("theme", ["textual-light", "ansi-light"])
async def test_light_theme_rows_are_readable(store, truecolor, theme) -> None:  # type: ignore[no-untyped-def]
    """textual-light 80x24: previews readable, no black cells, SLA mark readable on the cursor."""
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        app.theme = theme
        await settle(pilot, app)
        lst = app.screen.chat_list
        for y in range(lst.size.height):
            for seg in lst.render_line(y):
                st = seg.style
                assert st is not None and st.bgcolor is not None, (y, seg)
                # "default" is the terminal's own background; anything else must not be black.
                assert st.bgcolor.is_default or st.bgcolor.get_truecolor() != (0, 0, 0), (theme, y, seg)
                if seg.text.strip() and st.color is not None and not st.color.is_default and not st.bgcolor.is_default:
                    assert contrast(st.color, st.bgcolor) >= 3.0, (theme, y, seg.text, st)
