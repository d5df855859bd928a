"""Messages that thread workers and the sync engine post back to the UI.

The invariant (harlequin's): workers read or write the store and post one of these; only
handlers on the UI thread change widget state. Floods of change signals are coalesced
through ``can_replace`` so a busy poller never queues hundreds of reloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from chatdesk.store.team import NoteRow
    from chatdesk.store.views import ChatRow, MessageRow, StreamStatus


class ChatPageLoaded(Message):
    """One page of the chat list (``generation`` tells a stale reload from the current one)."""

    def __init__(self, generation: int, page: int, rows: list[ChatRow]) -> None:
        super().__init__()
        self.generation = generation
        self.page = page
        self.rows = rows


class ChatCountLoaded(Message):
    def __init__(self, generation: int, count: int) -> None:
        super().__init__()
        self.generation = generation
        self.count = count


class ChatHighlighted(Message):
    """The list cursor rests on a chat: show it (a peek; it does not count as reading).

    ``reason``: "user" (a key moved the cursor), "filter" (the user changed the filter) or
    "reload" (the data changed under the cursor: never a reason to change the open chat).
    """

    def __init__(self, chat: ChatRow, reason: str = "user") -> None:
        super().__init__()
        self.chat = chat
        self.reason = reason

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ChatHighlighted)


class ChatOpened(Message):
    """Enter/l on a chat: show it, focus the conversation and start the read timer."""

    def __init__(self, chat: ChatRow) -> None:
        super().__init__()
        self.chat = chat


@dataclass(frozen=True)
class Conversation:
    chat: ChatRow
    messages: list[MessageRow]
    has_more: bool
    draft: str | None  # None: keep what the composer has (a refresh, not an open)
    focus_message_id: int | None = None
    notes: list[NoteRow] = field(default_factory=list)  # team mode: internal notes (store.team.NoteRow)
    names: dict[str, str] = field(default_factory=dict)  # operator -> display name


class ConversationLoaded(Message):
    def __init__(self, conversation: Conversation) -> None:
        super().__init__()
        self.conversation = conversation


class OlderLoaded(Message):
    def __init__(self, chat_id: int, messages: list[MessageRow], has_more: bool) -> None:
        super().__init__()
        self.chat_id = chat_id
        self.messages = messages
        self.has_more = has_more


class NeedOlder(Message):
    """The conversation was scrolled to its top and has older history to load."""


class StatusLoaded(Message):
    def __init__(self, streams: list[StreamStatus], unread: int, polling: dict[int, bool]) -> None:
        super().__init__()
        self.streams = streams
        self.unread = unread
        self.polling = polling


class ChatFollowLost(Message):
    """The chat the list cursor was kept on is no longer at the cursor's page after a reload
    (it moved, or the filter no longer matches it): the screen looks it up again."""

    def __init__(self, chat_id: int) -> None:
        super().__init__()
        self.chat_id = chat_id


class DataChanged(Message):
    """The store changed (this process or another): reload what is on screen."""

    def __init__(self, chat_ids: frozenset[int] | None = None) -> None:
        super().__init__()
        self.chat_ids = chat_ids

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DataChanged) and message.chat_ids is None and self.chat_ids is None


class StoreChanged(Message):
    """(app) The store's change watch saw another connection commit: reload what is on screen."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)


class SyncEventArrived(Message):
    """A ``SyncEvent`` from the engine's thread, carried onto the UI loop."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class Notice(Message):
    """Plain words for the user from a worker (never parsed as markup)."""

    def __init__(self, text: str, *, severity: str = "information", title: str = "") -> None:
        super().__init__()
        self.text = text
        self.severity = severity
        self.title = title


class MessageQueued(Message):
    def __init__(self, chat_id: int, message_id: int) -> None:
        super().__init__()
        self.chat_id = chat_id
        self.message_id = message_id


class DraftRestored(Message):
    """A failed message was taken back into the draft of ``chat_id`` for editing."""

    def __init__(self, chat_id: int, text: str) -> None:
        super().__init__()
        self.chat_id = chat_id
        self.text = text


class JumpTo(Message):
    """Show ``chat_id`` and select the message ``message_id`` (search results, next unread)."""

    def __init__(self, chat_id: int, message_id: int | None = None) -> None:
        super().__init__()
        self.chat_id = chat_id
        self.message_id = message_id


class UnreadGrew(Message):
    """Unread rose by ``by`` while no engine event said why (another process synced)."""

    def __init__(self, by: int) -> None:
        super().__init__()
        self.by = by
