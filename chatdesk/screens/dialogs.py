"""Small modal dialogs, all keyboard-first; any text they show is passed as Text, never markup."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from chatdesk.keymap import bindings
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
    """Yes/no. ``y`` confirms, ``n``/Esc declines; Enter confirms only when the action is safe.

    With ``destructive=True`` (sending a flagged reply, deleting an account, sending a
    follow-up now) Enter declines: the action needs its explicit key (``y``, or ``key``).
    """

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmDialog") + "ConfirmDialog .-destructive { color: $text-warning; }"
    BINDINGS: ClassVar = [
        Binding("y", "answer(True)", "Yes", id="dialog_yes"),
        Binding("enter", "enter", "Default", id="dialog_enter", show=False),
        Binding("n,escape", "answer(False)", "No", id="dialog_no"),
    ]

    def __init__(
        self, title: str, body: str | Text = "", *, yes: str = "yes", destructive: bool = False, key: str = "y"
    ) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._yes = yes
        self._destructive = destructive
        self._key = key

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_content(self._title), classes="dialog-title")
            if self._body:
                body = self._body if isinstance(self._body, Text) else Text(safe_text(self._body))
                yield Static(body)
            if self._destructive:
                keys = f"{self._key}: {self._yes}    Enter / n / Esc: cancel"
                yield Static(Text(keys), classes="dialog-keys -destructive")
            else:
                yield Static(Text(f"y / Enter: {self._yes}    n / Esc: cancel"), classes="dialog-keys")

    def on_key(self, event: events.Key) -> None:
        if self._key != "y" and event.key == self._key:
            event.stop()
            self.dismiss(True)

    def action_enter(self) -> None:
        self.dismiss(not self._destructive)

    def action_answer(self, value: bool) -> None:
        if value and self._key != "y":
            return  # only the dialog's own key confirms
        self.dismiss(value)


class ChoiceDialog(ModalScreen[str | None]):
    """Several explicit answers, each on its own key; Enter and Esc cancel (returns ``None``).

    ``choices``: (key, words, value) — e.g. ("R", "send it again", "requeue").
    """

    DEFAULT_CSS = DIALOG_CSS.format(name="ChoiceDialog")
    BINDINGS: ClassVar = [Binding("escape,enter", "cancel", "Cancel", id="choice_cancel")]

    def __init__(self, title: str, body: str | Text, choices: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._choices = choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_content(self._title), classes="dialog-title")
            if self._body:
                yield Static(self._body if isinstance(self._body, Text) else Text(safe_text(self._body)))
            lines = [f"{key}: {words}" for key, words, _value in self._choices]
            lines.append("Enter / Esc: cancel")
            yield Static(Text("\n".join(lines)), classes="dialog-keys")

    def on_key(self, event: events.Key) -> None:
        for key, _words, value in self._choices:
            if event.key == key or event.character == key:
                event.stop()
                self.dismiss(value)
                return

    def action_cancel(self) -> None:
        self.dismiss(None)


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
    BINDINGS: ClassVar = bindings("review")

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


class PathSuggester(Suggester):
    """Completes the last part of a typed path from the folder's entries (read in a thread, so
    a slow or network folder never blocks the UI); ``~`` is expanded only for looking."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        return await asyncio.to_thread(complete_path, value)


def complete_path(value: str) -> str | None:
    """``value`` extended to the first entry of its folder that starts with its last part
    (folders end with ``/``); ``None`` when nothing matches."""
    folder_part, _sep, stem = value.rpartition("/")
    folder = Path(os.path.expanduser(folder_part + "/" if _sep else "."))
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None
    for name in names:
        if name.startswith(stem) and name != stem and (stem.startswith(".") or not name.startswith(".")):
            suffix = "/" if (folder / name).is_dir() else ""
            return (folder_part + "/" if _sep else "") + name + suffix
    return None


class PromptDialog(ModalScreen[str | None]):
    """One line of input (e.g. the folder to save an attachment in); ``paths=True`` completes
    file paths as you type (→ or End accepts the suggestion)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PromptDialog")
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="prompt_cancel")]

    def __init__(self, title: str, value: str = "", *, paths: bool = False, placeholder: str = "") -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._paths = paths
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_content(self._title), classes="dialog-title")
            suggester = PathSuggester() if self._paths else None
            yield Input(self._value, placeholder=self._placeholder, suggester=suggester, id="prompt-input")
            keys = (
                "Enter: OK    → / End: accept the completion    Esc: cancel"
                if self._paths
                else "Enter: OK    Esc: cancel"
            )
            yield Static(Text(keys), classes="dialog-keys")

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


class ReviewChoice(ModalScreen[str | None]):
    """Team mode: the chat changed since you looked. ``a`` sends anyway; Enter/Esc cancel (a
    buyer-facing action never defaults to Enter)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ReviewChoice")
    BINDINGS: ClassVar = [
        Binding("a", "answer('send')", "Send anyway", id="review_send_anyway"),
        Binding("enter,escape,n", "answer(None)", "Cancel", id="review_cancel"),
    ]

    def __init__(self, title: str, body: Text) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(safe_content(self._title), classes="dialog-title")
            yield Static(self._body)
            yield Static(Text("a: send anyway    Enter / Esc: cancel and review"), classes="dialog-keys")

    def action_answer(self, value: str | None) -> None:
        self.dismiss(value)


class PassphraseDialog(ModalScreen[str | None]):
    """The file keyring's passphrase, asked once before anything needs the keyring.

    Enter unlocks; Esc quits (chatdesk does not start without its keys). ``error`` shows why
    the previous try failed."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PassphraseDialog") + "PassphraseDialog .-error { color: $text-error; }"
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Quit", id="passphrase_cancel")]

    def __init__(self, path: str, error: str = "") -> None:
        super().__init__()
        self._path = path
        self._error = error

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Unlock the chatdesk keyring"), classes="dialog-title")
            yield Static(Text(f"Passphrase of the encrypted file keyring ({safe_text(self._path, single_line=True)}):"))
            yield Input(password=True, id="passphrase-input")
            if self._error:
                yield Static(Text(safe_text(self._error, single_line=True)), classes="-error")
            yield Static(Text("Enter: unlock    Esc: quit (or set CHATDESK_KEYRING_PASSPHRASE)"), classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#passphrase-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value:
            self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
