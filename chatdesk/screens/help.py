"""Help (``?``): every binding with the keys in effect after the user's remapping."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from chatdesk.keymap import KEYS, SCOPES, keys_in_effect

NOTES = (
    "Composer: Enter inserts a newline; ctrl+j sends. Esc leaves the composer; the draft is saved as you type.",
    "E writes the reply in $EDITOR, then asks: y send, e edit again, n cancel.",
    "A chat counts as read after it stays open a few seconds (mark_read_delay) or when you reply;"
    " moving the cursor only previews it. M also tells the marketplace.",
    "ctrl+p opens the command palette with every action. Remap keys in the [keymap] table of config.toml"
    ' (binding id = "keys").',
)


KEY_COLUMN = 16  # cells for the keys before the description


def help_text(keymap: dict[str, str], config_path: str) -> Text:
    text = Text()
    for scope, title in SCOPES.items():
        text.append(f"{title}\n", "bold underline")
        for key in (k for k in KEYS if k.scope == scope):
            keys = keys_in_effect(key, keymap)
            if len(keys) > KEY_COLUMN - 3:  # long key names get their own line, never run on
                text.append(f"  {keys}\n", "bold")
                text.append(" " * (KEY_COLUMN + 2))
            else:
                text.append(f"  {keys:<{KEY_COLUMN}}", "bold")
            text.append(f"{key.description}")
            text.append(f"  ({key.id})\n", "dim")
        text.append("\n")
    text.append("Notes\n", "bold underline")
    for note in NOTES:
        text.append(f"  • {note}\n")
    text.append(f"  • Config file: {config_path}\n")
    return text


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 110; height: 90%; border: thick $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help_close"),
        Binding("j,down", "scroll(1)", "Down", show=False, id="help_down"),
        Binding("k,up", "scroll(-1)", "Up", show=False, id="help_up"),
    ]

    def __init__(self, keymap: dict[str, str], config_path: str) -> None:
        super().__init__()
        self._text = help_text(keymap, config_path)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys (Esc closes)"
            yield Static(self._text)

    def action_scroll(self, delta: int) -> None:
        self.query_one(VerticalScroll).scroll_relative(y=delta, animate=False)
