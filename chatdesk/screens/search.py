"""Search (ctrl+f): full-text search over every message; Enter jumps to the message in its chat."""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from chatdesk.keymap import bindings
from chatdesk.sanitize import safe_text
from chatdesk.screens.base import DeskModal
from chatdesk.screens.dialogs import DIALOG_CSS
from chatdesk.store.views import ChatRow, MessageRow
from chatdesk.usecases.titles import chat_title
from chatdesk.widgets.chat_list import BADGES

if TYPE_CHECKING:
    from chatdesk.desk import Desk


class SearchResults(Message):
    def __init__(self, query: str, hits: list[tuple[MessageRow, ChatRow]]) -> None:
        super().__init__()
        self.query = query
        self.hits = hits


def hit_prompt(msg: MessageRow, chat: ChatRow, tz: tzinfo) -> Text:
    when = msg.created_at.astimezone(tz).strftime("%d.%m %H:%M")
    text = Text()
    text.append(f"{BADGES.get(chat.marketplace, '??')} ", "bold")
    text.append(chat_title(chat)[:30], "bold")
    text.append(f"  {when}\n", "dim")
    text.append(safe_text(msg.text, single_line=True, max_len=200))
    return text


class SearchScreen(DeskModal[tuple[int, int] | None]):
    """Returns (chat id, message id) of the chosen hit."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="SearchScreen")
        + """
    SearchScreen > Vertical { height: 80%; }
    SearchScreen OptionList { height: 1fr; }
    """
    )
    BINDINGS: ClassVar = bindings("search")

    def __init__(self, desk: Desk | None = None) -> None:
        super().__init__(desk)
        self._hits: list[tuple[MessageRow, ChatRow]] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Search messages (all words; the last one as a prefix)"), classes="dialog-title")
            yield Input(placeholder="type to search…", id="search-input")
            yield OptionList(id="search-results")
            yield Static(Text("Enter/↓ to the results · Enter opens · Esc closes"), classes="dialog-keys")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._search(event.value)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_results()

    def action_results(self) -> None:
        results = self.query_one(OptionList)
        if results.option_count:
            results.focus()
            results.highlighted = 0

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search(self, query: str) -> None:
        from chatdesk.store import fts, views

        desk = self.desk
        ok, hits = desk.attempt(lambda: fts.search_ids(desk.db, query, limit=50))
        if not ok:
            return
        messages = {m.id: m for m in views.messages_by_ids(desk.db, [h[0] for h in hits])}
        chats = {c.id: c for c in views.list_chats_by_ids(desk.db, sorted({h[1] for h in hits}))}
        rows = [(messages[m], chats[c]) for m, c in hits if m in messages and c in chats]
        self.post_message(SearchResults(query, rows))

    def on_search_results(self, message: SearchResults) -> None:
        if message.query != self.query_one(Input).value:
            return
        self._hits = message.hits
        results = self.query_one(OptionList)
        results.clear_options()
        tz = self.desk.config.tz
        results.add_options([Option(hit_prompt(m, c, tz)) for m, c in message.hits])
        results.border_title = f"{len(message.hits)} found"

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        msg, chat = self._hits[event.option_index]
        self.dismiss((chat.id, msg.id))

    def action_cancel(self) -> None:
        self.dismiss(None)
