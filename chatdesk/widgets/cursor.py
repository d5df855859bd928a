"""The cursor of the line-API lists (chat list, conversation), applied OVER the row's own styles.

A row is built from styled spans (badge colours, SLA colours, muted previews). Rich's
``Segment.apply_style(style)`` puts a style *under* each segment's own, so a cursor background
shows only where a segment has none; the cursor is therefore applied as a ``post_style``. With
no colour (``NO_COLOR``) or only the 8/16 standard colours, a background may vanish or match
its neighbours, so the cursor is reverse video there: visible on every terminal.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from textual.widget import Widget

REVERSE = Style(reverse=True, bold=True)


def few_colours(widget: Widget) -> bool:
    """True when colours cannot carry a cursor: ``NO_COLOR`` or a standard (8/16 colour) terminal."""
    app = widget.app
    return bool(getattr(app, "no_color", False)) or app.console.color_system in (None, "standard", "windows")


def cursor_style(widget: Widget, component: str) -> Style:
    """The style to put over a cursor row: the component's colours, or reverse video."""
    if few_colours(widget):
        return REVERSE
    return widget.get_component_rich_style(component)


def over(segments: Iterable[Segment], style: Style) -> list[Segment]:
    """``segments`` with ``style`` applied on top of their own styles (it wins)."""
    return list(Segment.apply_style(segments, post_style=style))


def component_style(widget: Widget, component: str) -> Style:
    """A component class's colours and text style, with its colours blended the way Textual
    draws them (``partial=True`` alone leaves alpha colours such as ``$text-muted`` unblended:
    white on a light theme); the background only when the component sets one."""
    full = widget.get_component_rich_style(component, partial=False)
    part = widget.get_component_rich_style(component, partial=True)
    return Style(
        color=full.color,
        bgcolor=full.bgcolor if part.bgcolor is not None else None,
        bold=part.bold,
        italic=part.italic,
        underline=part.underline,
        reverse=part.reverse,
    )
