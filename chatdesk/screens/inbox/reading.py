"""Read state is the operator's: an opened chat is marked read after ``mark_read_delay``; ``u``
toggles it locally, ``M`` also tells the marketplace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from chatdesk.connectors import LABELS
from chatdesk.screens.inbox.base import InboxBase
from chatdesk.store.views import ChatRow
from chatdesk.widgets.composer import ComposerInput
from chatdesk.widgets.conversation import ConversationView

if TYPE_CHECKING:
    pass


class ReadState(InboxBase):
    # ------------------------------------------------------------------ read state

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.stop()
            self._read_timer = None

    def _mark_read(self, chat_id: int) -> None:
        self._read_timer = None
        if self.target_id == chat_id and self._opened_id == chat_id:
            self._set_unread(chat_id, 0)

    @work(thread=True, group="unread", exit_on_error=False)
    def _set_unread(self, chat_id: int, unread: int) -> None:
        from chatdesk.store import views

        ok, _ = self.desk.attempt(lambda: views.set_unread(self.desk.db, chat_id, unread))
        if ok:
            self.desk.changed(frozenset({chat_id}))

    def _focused_chat(self) -> ChatRow | None:
        """The chat keys act on: the conversation's when it or the composer has focus, else the cursor's."""
        focused = self.focused
        if isinstance(focused, ConversationView | ComposerInput) and self.conversation.chat is not None:
            return self.conversation.chat
        return self.chat_list.current or self.conversation.chat

    def action_toggle_unread(self) -> None:
        chat = self._focused_chat()
        if chat is None:
            return
        if chat.id == self._opened_id:
            self._cancel_read_timer()
            self._opened_id = None  # the operator decided: no timer overrides it
        self._set_unread(chat.id, 0 if chat.unread else 1)

    def action_assign_me(self) -> None:
        """Team mode: take the chat (assign it to me), or give it back if it is mine."""
        chat = self._focused_chat()
        if chat is None:
            return
        if self.desk.db.operator is None:
            self.desk.say('assignment needs an operator name: CHATDESK_OPERATOR or operator = "…" in config.toml')
            return
        self._assign(chat, None if chat.assigned_to == self.desk.db.operator else self.desk.db.operator)

    @work(thread=True, group="assign", exit_on_error=False)
    def _assign(self, chat: ChatRow, operator: str | None) -> None:
        from chatdesk.store import team

        desk = self.desk
        ok, _ = desk.attempt(lambda: team.assign(desk.db, chat.id, operator))
        if ok:
            desk.say("assigned to you" if operator else "unassigned")
            desk.changed(frozenset({chat.id}))

    def action_note(self) -> None:
        """Team mode: add an internal note to the open chat (``N``). A prompt opens with the
        composer's text, if any; the note is stored apart from messages and never queued or sent.
        """
        chat = self.conversation.chat
        if chat is None:
            return
        if self.desk.db.operator is None:
            self.desk.say('notes need an operator name: CHATDESK_OPERATOR or operator = "…" in config.toml')
            return
        from chatdesk.screens.dialogs import PromptDialog

        composed = self.composer.text if self.composer.chat is not None and self.composer.chat.id == chat.id else ""

        def done(text: str | None) -> None:
            if text and text.strip():
                if composed.strip() and text == composed:
                    self.composer.set_text("")  # the draft became the note: clear the saved one too
                    self._pending_draft = (chat.id, "")
                    self.flush_draft()
                self._add_note(chat.id, text)

        self.app.push_screen(
            PromptDialog("Internal note — the team sees it, the buyer never does", composed, placeholder="note"),
            done,
        )

    @work(thread=True, group="note", exit_on_error=False)
    def _add_note(self, chat_id: int, text: str) -> None:
        from chatdesk.store import team

        desk = self.desk
        ok, _ = desk.attempt(lambda: team.add_note(desk.db, chat_id, text, desk.db.operator))
        if ok:
            desk.say("note added (not sent to the buyer)")
            desk.changed(frozenset({chat_id}))

    def action_mark_read_remote(self) -> None:
        chat = self._focused_chat()
        if chat is not None:
            self._mark_read_remote(chat)

    @work(thread=True, group="remote", exit_on_error=False)
    def _mark_read_remote(self, chat: ChatRow) -> None:
        from chatdesk.store import views
        from chatdesk.usecases import accounts

        desk = self.desk
        ok, _ = desk.attempt(
            lambda: accounts.mark_read_remote(desk.db, desk.require_secrets(), chat.id, **desk.actions_kwargs())
        )
        if ok:
            desk.attempt(lambda: views.set_unread(desk.db, chat.id, 0))
            desk.say(f"marked read on {LABELS.get(chat.marketplace, chat.marketplace)} too")
            self.desk.changed(frozenset({chat.id}))
