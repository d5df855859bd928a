"""A footer that shows only the keys that fit, whole, beside the command-palette key.

Textual's compact ``Footer`` lets keys run under the docked ``^p palette`` key at narrow widths,
so an 80-column terminal read "s syn▏^p palettes" (UX report 13). Here the keys that would not
fit whole are hidden, in binding order, and come back when the terminal grows.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


def _estimated_width(widget: Widget) -> int:
    """Cells a compact footer item takes: key, a space, its description, a space."""
    if isinstance(widget, FooterKey):
        return cell_len(widget.key_display) + 1 + cell_len(widget.description) + 1
    return max(widget.outer_size.width, 12)


class FittedFooter(Footer):
    """``Footer`` whose keys never show cut: what does not fit whole is hidden."""

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        width = self.size.width
        if width <= 0:
            return
        palette = [c for c in self.children if c.has_class("-command-palette")]
        room = width - sum(_estimated_width(c) for c in palette) - 1
        used = 0
        for child in self.children:
            if child in palette:
                continue
            used += _estimated_width(child)
            child.display = used <= room

    async def recompose(self) -> None:
        await super().recompose()
        self._fit()
