"""The template picker: type to fuzzy-filter, Enter inserts the filled-in template.

Templates are plain files in ``<data dir>/templates`` (see ``chatdesk.templates``); broken
ones are listed with their error instead of silently missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from chatdesk import templates
from chatdesk.sanitize import safe_text
from chatdesk.screens.dialogs import DIALOG_CSS


class TemplatePicker(ModalScreen[str | None]):
    """Returns the rendered text of the chosen template, or None."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="TemplatePicker")
        + "TemplatePicker OptionList { height: auto; max-height: 12; }"
        + "TemplatePicker #tpl-preview { color: $text-muted; }"
    )
    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="template_cancel"),
        Binding("down", "move(1)", "Next", show=False, id="template_down"),
        Binding("up", "move(-1)", "Previous", show=False, id="template_up"),
    ]

    def __init__(self, found: list[templates.Template], errors: list[str], values: Mapping[str, str | None]) -> None:
        super().__init__()
        self._all = found
        self._errors = errors
        self._values = values
        self._shown: list[templates.Template] = list(found)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Insert a template (type to filter, Enter to insert)"), classes="dialog-title")
            yield Input(placeholder="name or words", id="tpl-query")
            yield OptionList(id="tpl-list")
            yield Static(id="tpl-preview")
            for err in self._errors:
                yield Static(Text(f"broken: {safe_text(err, single_line=True)}", style="red"))
            yield Static(Text("Enter insert · ↑/↓ choose · Esc cancel"), classes="dialog-keys")

    def on_mount(self) -> None:
        self._refill("")

    def _refill(self, query: str) -> None:
        self._shown = templates.fuzzy_filter(self._all, query) if query else list(self._all)
        options = self.query_one("#tpl-list", OptionList)
        options.clear_options()
        options.add_options(
            [
                Option(Text(f"{t.name}  ", style="bold") + Text(safe_text(t.description, single_line=True)))
                for t in self._shown
            ]
        )
        if self._shown:
            options.highlighted = 0
        self._preview()

    def _preview(self) -> None:
        options = self.query_one("#tpl-list", OptionList)
        index = options.highlighted
        preview = self.query_one("#tpl-preview", Static)
        if index is None or index >= len(self._shown):
            preview.update(Text("no template matches" if self._all else "no templates yet"))
            return
        preview.update(Text(safe_text(templates.render(self._shown[index], self._values))))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._refill(event.value)

    def on_option_list_option_highlighted(self, _event: OptionList.OptionHighlighted) -> None:
        self._preview()

    def action_move(self, delta: int) -> None:
        options = self.query_one("#tpl-list", OptionList)
        if self._shown:
            options.highlighted = max(0, min(len(self._shown) - 1, (options.highlighted or 0) + delta))

    def _choose(self, index: int | None) -> None:
        if index is not None and index < len(self._shown):
            self.dismiss(templates.render(self._shown[index], self._values))

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._choose(self.query_one("#tpl-list", OptionList).highlighted)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option_index)

    def action_cancel(self) -> None:
        self.dismiss(None)
