"""What every part of the inbox screen shares: its widgets and its state, declared once."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from textual.timer import Timer

from chatdesk.screens.base import DeskScreen
from chatdesk.widgets.chat_list import ChatList
from chatdesk.widgets.composer import Composer
from chatdesk.widgets.conversation import ConversationView

if TYPE_CHECKING:
    from chatdesk.desk import Desk
    from chatdesk.store.views import ChatRow


class InboxBase(DeskScreen[None]):
    """The inbox's state; the section classes (``Loading``, ``Drafts`` …) act on it."""

    PAGE: ClassVar[int] = 100  # messages per conversation window
    DRAFT_DEBOUNCE: ClassVar[float] = 0.3  # seconds of quiet before a draft is saved
    PREVIEW_DEBOUNCE: ClassVar[float] = 0.08  # seconds the list cursor rests before a preview loads

    def __init__(self, desk: Desk | None = None) -> None:
        super().__init__(desk)
        self.target_id: int | None = None  # the chat the conversation shows or is loading
        self._opened_id: int | None = None  # explicitly opened (Enter/l/reply): read timer runs
        self._read_timer: Timer | None = None
        self._draft_timer: Timer | None = None
        self._preview_timer: Timer | None = None
        self._presence_sent: tuple[int, str, float] | None = None  # team mode: (chat, state, monotonic) sent
        self._filter_timer: Timer | None = None
        self._draft_lock = threading.Lock()
        self._draft_seq = 0
        self._draft_written: dict[int, int] = {}
        self._pending_draft: tuple[int, str] | None = None
        self._draft_shown: dict[int, bool] = {}  # chat id -> has a saved draft (as last announced)
        self._last_unread: int | None = None
        self._hidden_id: int | None = None  # the open chat, when the list's filter hides it

    @property
    def chat_list(self) -> ChatList:
        return self.query_one(ChatList)

    @property
    def conversation(self) -> ConversationView:
        return self.query_one(ConversationView)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    if TYPE_CHECKING:  # provided by the section classes

        def show_chat(self, chat_id: int, *, opened: bool = False, focus_message: int | None = None) -> None: ...
        def flush_draft(self) -> Any: ...
        def refresh_status(self) -> None: ...
        def _update_titles(self) -> None: ...
        def follow_open_chat(self, *, say: bool = False) -> None: ...
        def _focused_chat(self) -> ChatRow | None: ...
        def _cancel_read_timer(self) -> None: ...
        def _set_unread(self, chat_id: int, unread: int) -> None: ...
        def _drop_pending_draft(self, chat_id: int) -> None: ...
        def record_block(self, chat_id: int, severity: str, codes: list[str]) -> Any: ...
        def send_text(
            self, chat: ChatRow, text: str, *, confirmed: bool = False, files: list[dict[str, Any]] | None = None
        ) -> None: ...
