"""The cursor of the line-API lists (chat list, conversation), applied OVER the row's own styles.

A row is built from styled spans (badge colours, SLA colours, muted previews). Rich's
``Segment.apply_style(style)`` puts a style *under* each segment's own, so a cursor background
shows only where a segment has none; the cursor is therefore applied as a ``post_style``. With
no colour (``NO_COLOR``) or only the 8/16 standard colours, a background may vanish or match
its neighbours, so the cursor is reverse video there: visible on every terminal.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.widget import Widget

REVERSE = Style(reverse=True, bold=True)
UNDERLINE = Style(underline=True, bold=True)  # the cursor of a list without focus, without colours


def few_colours(widget: Widget) -> bool:
    """True when colours cannot carry a cursor: ``NO_COLOR`` or a standard (8/16 colour) terminal."""
    app = widget.app
    return bool(getattr(app, "no_color", False)) or app.console.color_system in (None, "standard", "windows")


def cursor_style(widget: Widget, component: str, *, focused: bool = True) -> Style:
    """The style to put over a cursor row: the component's colours, or, when colours cannot
    carry it (``NO_COLOR``, 8/16 colours, or a theme whose cursor background is the terminal's
    default or the widget's own, as in ``ansi-light``), reverse video for a focused widget and
    bold underline for one without focus (dimmer, still visible on every terminal)."""
    fallback = REVERSE if focused else UNDERLINE
    if few_colours(widget):
        return fallback
    style = widget.get_component_rich_style(component)
    bg = style.bgcolor
    if bg is None or bg.is_default or bg == widget.rich_style.bgcolor:
        return fallback
    return style


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


def luminance(color: Color) -> float:
    """Relative luminance 0..1 of a colour (WCAG 2.x definition; standard colours as Rich's
    default terminal theme draws them)."""

    def channel(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = color.get_truecolor()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: Color, b: Color) -> float:
    """WCAG contrast ratio 1..21 of two colours (3 is the minimum for large or bold text)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def readable_on(segments: Iterable[Segment], cursor: Style, minimum: float = 3.0) -> list[Segment]:
    """``segments`` on the cursor's background, each keeping its own colour where it stays
    readable there (contrast >= ``minimum``) and taking the cursor's foreground where not:
    a green/red SLA mark on a dark-blue light-theme cursor would vanish otherwise."""
    bg = cursor.bgcolor
    out: list[Segment] = []
    for seg in segments:
        style = seg.style or Style()
        color = style.color
        visible = bg is None or color is None or color.is_default or bg.is_default or contrast(color, bg) >= minimum
        if not visible and cursor.color is not None:
            color = cursor.color
        out.append(Segment(seg.text, style + Style(color=color, bgcolor=bg), seg.control))
    return out
