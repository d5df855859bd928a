"""Help (``?``): every binding with the keys in effect after the user's remapping."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
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
    "Chat list marks: ◷22h = how long the buyer has waited for your reply (green, yellow, red by your SLA);"
    " ⇥25h in a shaded box = time left in the marketplace's reply window (Ozon: 48 h), red in the last 6 h,"
    " ⇥0 once closed.",
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


def help_tables(keymap: dict[str, str], config_path: str) -> Group:
    """What the help screen renders: per scope a three-column table (keys | what | id), so
    long key names wrap in their own column and never run into the description."""
    parts: list[Any] = []
    for scope, title in SCOPES.items():
        parts.append(Text(title, "bold underline"))
        table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        table.add_column("keys", style="bold", no_wrap=False, max_width=KEY_COLUMN, min_width=6)
        table.add_column("what", ratio=1)
        table.add_column("id", style="dim", no_wrap=True)
        for key in (k for k in KEYS if k.scope == scope):
            table.add_row(Text(keys_in_effect(key, keymap)), Text(key.description), Text(key.id))
        parts.extend((table, Text("")))
    notes = Text("Notes\n", "bold underline")
    for note in NOTES:
        notes.append(f"  • {note}\n")
    notes.append(f"  • Config file: {config_path}\n")
    parts.append(notes)
    return Group(*parts)


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
        self._text = help_text(keymap, config_path)  # the same words as plain text (tests, copy)
        self._tables = help_tables(keymap, config_path)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys (Esc closes)"
            yield Static(self._tables)

    def action_scroll(self, delta: int) -> None:
        self.query_one(VerticalScroll).scroll_relative(y=delta, animate=False)
