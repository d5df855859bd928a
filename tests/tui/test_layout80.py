"""UX report at 80x24: the demo hint toast must go away quickly; footer and status line
must not show broken words at 80 and 60 columns."""

from __future__ import annotations

import pytest

from chatdesk.app import DEMO_HINT_SECONDS
from tests.tui.conftest import make_app, settle

# One engine: footer and status words at a width; nothing engine-specific is read.
pytestmark = pytest.mark.one_engine("footer and status words at a width; nothing engine-specific is read")


async def test_demo_hint_toast_goes_within_six_seconds(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store, home=tmp_path, demo_hint="Demo: press ? for keys.")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        notes = [n for n in app._notifications if n.title == "demo"]
        assert notes and all(n.timeout <= 6 for n in notes)
    assert DEMO_HINT_SECONDS <= 6


async def _bottom_lines(store, tmp_path, width: int) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    app = make_app(store, home=tmp_path)
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        await pilot.press("escape")
        await settle(pilot, app)
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
    return lines[-2].rstrip(), lines[-1].rstrip()


@pytest.mark.parametrize("width", [80, 60])
async def test_footer_and_status_have_no_broken_words(store, tmp_path, width: int) -> None:  # type: ignore[no-untyped-def]
    """UX report 13: at 80 columns the footer read 's syn▏^p palettes' and the status line ended in a bare 'here'."""
    status, footer = await _bottom_lines(store, tmp_path, width)
    assert "palettes" not in footer and not footer.endswith(("syn", "sy")), footer
    assert footer.rstrip().endswith("^p palette"), footer
    words = footer.split("▏")[0].split()
    # keys and descriptions come in pairs of whole words ("s sync"), never a cut one
    assert all(w in KNOWN_FOOTER_WORDS or len(w) == 1 or w.startswith("^") for w in words), footer
    assert status.split("│")[-1].strip() in {"sync: here", "sync: other", "sync: off"}, status


KNOWN_FOOTER_WORDS = {
    "open",
    "help",
    "quit",
    "reply",
    "next",
    "unread",
    "follow-up",
    "sync",
    "accounts",
    "retry",
    "edit",
    "palette",
    "search",
    "enter",
    "send",
    "template",
    "attach",
    "leave",
    "filter",
}
