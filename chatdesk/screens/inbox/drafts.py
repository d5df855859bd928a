"""Drafts are saved as you type (debounced), on chat switch and before quit; saves may finish
out of order, so a sequence number keeps an older text from winning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.widgets import TextArea

from chatdesk.screens.inbox.base import InboxBase

if TYPE_CHECKING:
    pass


class Drafts(InboxBase):
    # ------------------------------------------------------------------ drafts

    @on(TextArea.Changed)
    def _composer_changed(self, event: TextArea.Changed) -> None:
        chat = self.composer.chat
        if chat is None:
            return
        self._pending_draft = (chat.id, self.composer.text)
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(self.DRAFT_DEBOUNCE, self.flush_draft)

    def flush_draft(self) -> Any:
        """Save the pending draft now (chat switch, quit); returns the worker, if any."""
        if self._draft_timer is not None:
            self._draft_timer.stop()
            self._draft_timer = None
        if self._pending_draft is None:
            return None
        chat_id, text = self._pending_draft
        self._pending_draft = None
        self._draft_seq += 1
        return self._save_draft(chat_id, text, self._draft_seq)

    @work(thread=True, group="draft", exit_on_error=False)
    def _save_draft(self, chat_id: int, text: str, seq: int) -> None:
        from chatdesk.store import views

        with self._draft_lock:  # saves may run out of order: never let an older text win
            if seq < self._draft_written.get(chat_id, 0):
                return
            self._draft_written[chat_id] = seq
            ok, _ = self.desk.attempt(lambda: views.save_draft(self.desk.db, chat_id, text))
        if ok and self._draft_shown.get(chat_id) != bool(text):
            # The list's ✎ mark changes only when a draft appears or goes: reload just then.
            self._draft_shown[chat_id] = bool(text)
            self.desk.changed(frozenset({chat_id}))

    def _drop_pending_draft(self, chat_id: int) -> None:
        if self._pending_draft and self._pending_draft[0] == chat_id:
            self._pending_draft = None
            if self._draft_timer is not None:
                self._draft_timer.stop()
                self._draft_timer = None
        self._draft_seq += 1
        with self._draft_lock:
            self._draft_written[chat_id] = self._draft_seq
