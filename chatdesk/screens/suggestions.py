"""The suggestion picker (ctrl+s in the composer): past answers, templates and the model's
draft for the chat's latest buyer message, each with why it is offered and its rule check.

Enter puts the chosen text into the composer for editing (never sends). The model's draft
arrives later (:meth:`SuggestionPicker.add_model`) while the offline ones are already shown;
Esc cancels a pending draft. Buyer text is shown literally (no markup), offending words of a
suggestion are highlighted in the preview.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.css.scalar import Scalar
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from chatdesk.assist.suggest import Suggestion, Suggestions, topic_words
from chatdesk.sanitize import safe_text
from chatdesk.screens.dialogs import DIALOG_CSS

SOURCE = {"past": "before", "template": "template", "model": "model"}


def highlighted(s: Suggestion) -> Text:
    """The suggestion's text with each finding's span marked (warn yellow, hard red)."""
    text = Text(safe_text(s.text))
    for f in s.findings:
        if f.start is not None and f.end is not None and f.end <= len(s.text):
            text.stylize("bold black on yellow" if f.severity == "warn" else "bold white on red", f.start, f.end)
    return text


class SuggestionPicker(ModalScreen[Suggestion | None]):
    """Returns the chosen suggestion, or None (Esc)."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="SuggestionPicker")
        + "SuggestionPicker > Vertical { width: 90%; max-width: 110; }"
        + "SuggestionPicker OptionList { height: auto; max-height: 8; }"
        + "SuggestionPicker #sg-preview { height: auto; max-height: 9; }"
        + "SuggestionPicker .sg-muted { color: $text-muted; }"
        + "SuggestionPicker #sg-notices { color: $text-warning; }"
    )
    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="suggest_cancel"),
    ]

    def __init__(self, result: Suggestions, *, model_pending: str | None = None) -> None:
        super().__init__()
        self.result = result
        self.items: list[Suggestion] = list(result.items)
        self.model_pending = model_pending
        self.notices: list[str] = list(result.notices)
        self._fits = 0  # re-measures of the layout since the last change (bounded)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Suggestions: Enter edits one in the composer; nothing is sent"), classes="dialog-title")
            buyer = safe_text(self.result.buyer_text or "", single_line=True, max_len=200)
            about = topic_words(self.result.topic)
            yield Static(
                Text(f"buyer ({about}): {buyer}" if about else f"buyer: {buyer}"), id="sg-buyer", classes="sg-muted"
            )
            yield OptionList(id="sg-list")
            with VerticalScroll(id="sg-preview"):
                yield Static(id="sg-text")
                yield Static(id="sg-why", classes="sg-muted")
            yield Static(id="sg-notices")
            yield Static(Text("Enter use · ↑/↓ choose · Esc cancel"), classes="dialog-keys")

    def on_mount(self) -> None:
        self._refill()
        self.query_one(OptionList).focus()

    def _label(self, s: Suggestion) -> Text:
        first = safe_text(s.text, single_line=True, max_len=90)
        label = Text(f"{SOURCE[s.source]:>8} ", style="bold")
        label.append(first)
        if any(f.severity == "hard" for f in s.findings):
            label.append("  ✗ blocked", style="bold red")
        elif s.findings:
            label.append("  ⚠ warning", style="bold yellow")
        return label

    def _refill(self) -> None:
        options = self.query_one(OptionList)
        keep = options.highlighted
        options.clear_options()
        for i, s in enumerate(self.items):
            options.add_option(Option(self._label(s), id=str(i)))
        if self.model_pending:
            options.add_option(
                Option(
                    Text(f"   model drafting with {self.model_pending}… (Esc cancels)", style="italic"), disabled=True
                )
            )
        if self.items:
            options.highlighted = keep if keep is not None and keep < len(self.items) else 0
        notices = Text("\n".join(safe_text(n, single_line=True, max_len=200) for n in self.notices))
        self.query_one("#sg-notices", Static).update(notices)
        self._show(options.highlighted)

    def _show(self, index: int | None) -> None:
        text = self.query_one("#sg-text", Static)
        why = self.query_one("#sg-why", Static)
        if index is None or index >= len(self.items):
            text.update(Text("nothing to suggest" if not self.model_pending else ""))
            why.update("")
            return
        s = self.items[index]
        text.update(highlighted(s))
        lines = [f"why: {s.reason}"] + [f"check: {n}" for n in s.notes]
        from chatdesk import rules

        lines += rules.describe(s.findings, s.text)
        why.update(Text("\n".join(safe_text(line, single_line=True, max_len=300) for line in lines)))
        self._fits = 0
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self._fits = 0
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Share the dialog's height so the chosen suggestion, its check and its warnings show in
        full (at 80x24 too): the preview gets the lines it needs, the list what is left (at least
        2 rows; it scrolls with its cursor). Heights in cells; the dialog is at most 90% high
        (all of it below 30 rows)."""
        if not self.is_attached:
            return
        box = self.query_one(Vertical)
        options = self.query_one(OptionList)
        preview = self.query_one("#sg-preview", VerticalScroll)
        short = self.size.height < 30  # 80x24: all the height but a row, no blank spacer rows
        box.styles.max_height = self.size.height - 1 if short else "90%"
        for spacer in box.query(".dialog-title, .dialog-keys"):
            spacer.styles.margin = (0, 0, 0, 0) if short else None  # type: ignore[assignment]
        inner = (self.size.height - 2 if short else int(self.size.height * 0.9)) - box.styles.gutter.height
        fixed = sum(
            w.outer_size.height + w.styles.margin.height
            for w in box.children
            if w is not options and w is not preview and w.display
        )
        room = max(6, inner - fixed)
        need_preview = sum(w.outer_size.height for w in preview.children)
        need_list = options.option_count + options.styles.gutter.height
        list_height = max(2 + options.styles.gutter.height, min(need_list, 8, room - need_preview))
        # An exact height: "auto" measures without the scrollbar's columns and comes out a row short.
        preview_height = max(2, min(need_preview, room - list_height))
        options.styles.max_height = list_height
        if preview.styles.height != Scalar.from_number(preview_height) and self._fits < 4:
            self._fits += 1  # measure again once laid out (the wrapped lines change with it)
            preview.styles.max_height = preview_height
            preview.styles.height = preview_height
            self.call_after_refresh(self._fit)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show(event.option_index)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_index < len(self.items):
            self.dismiss(self.items[event.option_index])

    def add_model(self, s: Suggestion | None, error: str | None = None) -> None:
        """The model's draft (first in the list) or why there is none."""
        self.model_pending = None
        if s is not None:
            self.items.insert(0, s)
        if error:
            self.notices.append(f"model: {error}")
        self._refill()

    def action_cancel(self) -> None:
        self.dismiss(None)
