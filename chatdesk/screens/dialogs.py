"""Small modal dialogs, all keyboard-first; any text they show is passed as Text, never markup."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from chatdesk.sanitize import safe_content, safe_text

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 70%; min-width: 40; max-width: 100; height: auto; max-height: 90%;
    border: thick $accent; background: $surface; padding: 0 1;
}}
{name} .dialog-title {{ text-style: bold; margin-bottom: 1; }}
{name} .dialog-keys {{ color: $text-muted; margin-top: 1; }}
"""


class ConfirmDialog(ModalScreen[bool]):
    """Yes/no. ``y``/Enter confirms, ``n``/Esc declines."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmDialog")
    BINDINGS: ClassVar = [
        Binding("y,enter", "answer(True)", "Yes", id="dialog_yes"),
        Binding("n,escape", "answer(False)", "No", id="dialog_no"),
    ]

    def __init__(self, title: str, body: str | Text = "", *, yes: str = "yes") -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_content(self._title), classes="dialog-title")
            if self._body:
                body = self._body if isinstance(self._body, Text) else Text(safe_text(self._body))
                yield Static(body)
            yield Static(Text(f"y / Enter: {self._yes}    n / Esc: cancel"), classes="dialog-keys")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class ReviewDialog(ModalScreen[str]):
    """aerc's review step after $EDITOR: send, edit again, or cancel (the draft is kept)."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="ReviewDialog")
        + """
    ReviewDialog VerticalScroll { height: auto; max-height: 14; border: round $panel; }
    ReviewDialog .-hard { color: $text-error; }
    ReviewDialog .-warn { color: $text-warning; }
    """
    )
    BINDINGS: ClassVar = [
        Binding("y,s", "choose('send')", "Send", id="review_send"),
        Binding("e", "choose('edit')", "Edit again", id="review_edit"),
        Binding("n,q,escape", "choose('cancel')", "Cancel", id="review_cancel"),
    ]

    def __init__(self, text: str, counter: str, findings: list[tuple[str, str]]) -> None:
        super().__init__()
        self._text = text
        self._counter = counter
        self._findings = findings  # (severity, plain words)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Review the reply ({self._counter} characters)"), classes="dialog-title")
            with VerticalScroll():
                yield Static(safe_content(self._text or "(empty)"))
            for severity, words in self._findings:
                yield Static(Text(f"{'blocked' if severity == 'hard' else 'warning'}: {words}"), classes=f"-{severity}")
            yield Static(
                Text("y send    e edit again    n / Esc cancel (text stays in the draft)"), classes="dialog-keys"
            )

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


class PromptDialog(ModalScreen[str | None]):
    """One line of input (e.g. the folder to save an attachment in)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PromptDialog")
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="prompt_cancel")]

    def __init__(self, title: str, value: str = "") -> None:
        super().__init__()
        self._title = title
        self._value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_content(self._title), classes="dialog-title")
            yield Input(self._value, id="prompt-input")
            yield Static(Text("Enter: OK    Esc: cancel"), classes="dialog-keys")

    def on_mount(self) -> None:
        field = self.query_one("#prompt-input", Input)
        field.focus()
        field.cursor_position = len(field.value)  # typing continues the suggested value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickDialog(ModalScreen[int | None]):
    """Pick one of several items (e.g. which attachment); returns its index."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PickDialog") + "PickDialog OptionList { height: auto; max-height: 12; }"
    BINDINGS: ClassVar = [Binding("escape,q", "cancel", "Cancel", id="pick_cancel")]

    def __init__(self, title: str, items: list[str]) -> None:
        super().__init__()
        self._title = title
        self._items = items

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_content(self._title), classes="dialog-title")
            yield OptionList(*[Option(safe_content(item, single_line=True)) for item in self._items])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def action_cancel(self) -> None:
        self.dismiss(None)
