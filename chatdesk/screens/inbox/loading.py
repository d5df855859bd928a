"""The conversation on screen, older pages, live reloads and the status line: store reads in
thread workers, results applied on the UI loop only for the chat that is still the target."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.worker import get_current_worker

from chatdesk.messages import (
    ChatCountLoaded,
    ChatFollowLost,
    ChatHighlighted,
    ChatOpened,
    Conversation,
    ConversationLoaded,
    DataChanged,
    NeedOlder,
    OlderLoaded,
    StatusLoaded,
    UnreadGrew,
)
from chatdesk.screens.inbox.base import InboxBase
from chatdesk.widgets.header import ChatHeader
from chatdesk.widgets.status_line import StatusLine

if TYPE_CHECKING:
    pass


class Loading(InboxBase):
    # ------------------------------------------------------------------ loading

    def on_chat_count_loaded(self, _message: ChatCountLoaded) -> None:
        self._update_titles()

    def composer_busy(self) -> bool:
        """The operator is writing: the composer has focus or text (then only they retarget it)."""
        composer = self.composer
        return composer.input.has_focus or bool(composer.text.strip()) or bool(composer.files)

    def on_chat_highlighted(self, message: ChatHighlighted) -> None:
        # Nothing but the user changes the open chat: a reload (poll, another window, a send)
        # never does; a filter change does not while a reply is being written.
        if message.reason == "reload" and self.target_id is not None:
            return
        if message.reason == "filter" and self.target_id is not None:
            return  # the open chat stays open; follow_open_chat puts the cursor on it (or says it's hidden)
        if self._preview_timer is not None:
            self._preview_timer.stop()
            self._preview_timer = None
        if message.chat.id == self.target_id:
            return
        chat_id = message.chat.id
        self._preview_timer = self.set_timer(self.PREVIEW_DEBOUNCE, lambda: self.show_chat(chat_id))

    def on_chat_opened(self, message: ChatOpened) -> None:
        self.show_chat(message.chat.id, opened=True)
        self.conversation.focus()

    def show_chat(self, chat_id: int, *, opened: bool = False, focus_message: int | None = None) -> None:
        if chat_id != self.target_id:
            self.flush_draft()
            self._cancel_read_timer()
            self._opened_id = None
        self.target_id = chat_id
        if opened:
            self._opened_id = chat_id
        self._load(
            chat_id,
            with_draft=self.composer.chat is None or self.composer.chat.id != chat_id,
            focus_message=focus_message,
        )

    def refresh_conversation(self) -> None:
        if self.target_id is not None:
            self._load(
                self.target_id,
                with_draft=self.composer.chat is None or self.composer.chat.id != self.target_id,
                focus_message=None,
            )

    @work(thread=True, exclusive=True, group="conversation", exit_on_error=False)
    def _load(self, chat_id: int, *, with_draft: bool, focus_message: int | None) -> None:
        from chatdesk.store import team, views

        db = self.desk.db
        chat = views.get_chat(db, chat_id)
        if chat is None:
            return
        limit = self.PAGE
        if focus_message is not None:
            target = views.get_message(db, focus_message)
            if target is not None:
                limit = max(self.PAGE, views.count_messages_from(db, chat_id, target.created_at, target.id) + 5)
        messages = views.list_messages(db, chat_id, limit=limit + 1)
        has_more = len(messages) > limit
        if has_more:
            messages = messages[1:]
        draft = views.get_draft(db, chat_id) if with_draft else None
        notes: list[team.NoteRow] = []
        names: dict[str, str] = {}
        if db.operator is not None:  # team mode
            chat = _with_team(db, chat, seen=max((m.id for m in messages), default=0) if with_draft else None)
            notes, names = team.list_notes(db, chat_id), team.display_names(db)
        if get_current_worker().is_cancelled:
            return
        self.post_message(
            ConversationLoaded(Conversation(chat, messages, has_more, draft, focus_message, notes, names))
        )

    # Team mode presence: "typing" means a keystroke in this chat's composer within this many
    # seconds (then "viewing" again); a state is re-sent every PRESENCE_BEAT seconds (it
    # expires after store.team.PRESENCE_TTL) and a change is sent at the next PRESENCE_CHECK.
    TYPING_SECONDS: ClassVar[float] = 10.0
    PRESENCE_BEAT: ClassVar[float] = 10.0
    PRESENCE_CHECK: ClassVar[float] = 2.0

    def presence_state(self) -> str:
        """ "typing" (the composer of the open chat has the focus, text, and a keystroke within
        :attr:`TYPING_SECONDS` — a draft restored from an earlier session is not typing) or
        "viewing"."""
        composer = self.composer
        edited = composer.edited_at
        composing = (
            composer.chat is not None
            and composer.chat.id == self.target_id
            and composer.input.has_focus
            and bool(composer.text.strip())
            and edited is not None
            and (self.desk.clock() - edited).total_seconds() <= self.TYPING_SECONDS
        )
        return "typing" if composing else "viewing"

    def presence_beat(self) -> None:
        """Team mode: keep the open chat's presence alive (every :attr:`PRESENCE_BEAT` s, and
        at once when it changes: another chat, typing stopped); leave the chat shown before."""
        if self.desk.db.operator is None or self.target_id is None:
            return
        state = self.presence_state()
        now = time.monotonic()
        sent = self._presence_sent
        if sent is not None and sent[:2] == (self.target_id, state) and now - sent[2] < self.PRESENCE_BEAT:
            return
        self._presence_sent = (self.target_id, state, now)
        self._beat(self.target_id, state, sent[0] if sent is not None and sent[0] != self.target_id else None)

    @work(thread=True, exclusive=True, group="presence", exit_on_error=False)
    def _beat(self, chat_id: int, state: str, left: int | None = None) -> None:
        from chatdesk.store import team

        db = self.desk.db
        if db.operator is not None:
            if left is not None:
                self.desk.attempt(lambda: team.leave(db, left, db.operator or ""))
            self.desk.attempt(lambda: team.heartbeat(db, chat_id, db.operator or "", state))

    def leave_presence(self) -> Any:
        """(quit) Clear this window's presence at once, not after the expiry: a thread worker
        to await, or None when there is nothing to clear."""
        sent = self._presence_sent
        db = self.desk.db
        if sent is None or db.operator is None:
            return None
        self._presence_sent = None
        chat_id, operator = sent[0], db.operator

        def leave() -> None:
            from chatdesk.store import team

            self.desk.attempt(lambda: team.leave(db, chat_id, operator))

        return self.run_worker(leave, thread=True, group="presence-leave", exit_on_error=False)

    def on_conversation_loaded(self, message: ConversationLoaded) -> None:
        conv = message.conversation
        if conv.chat.id != self.target_id:
            return
        new_chat = self.conversation.chat is None or self.conversation.chat.id != conv.chat.id
        self.conversation.show(
            conv.chat, conv.messages, conv.has_more, keep_position=not new_chat, notes=conv.notes, names=conv.names
        )
        self.query_one(ChatHeader).show(conv.chat)
        if self.composer.chat is None or self.composer.chat.id != conv.chat.id:
            self.composer.set_chat(conv.chat, conv.draft or "")
        else:
            self.composer.chat = conv.chat
            self.composer.update_status()
        if conv.focus_message_id is not None:
            self.call_after_refresh(self.conversation.select_message, conv.focus_message_id)
        if self._opened_id == conv.chat.id and conv.chat.unread and self._read_timer is None:
            delay = self.desk.config.mark_read_delay
            chat_id = conv.chat.id
            self._read_timer = self.set_timer(delay, lambda: self._mark_read(chat_id))
        self._update_titles()

    def on_need_older(self, _message: NeedOlder) -> None:
        conv = self.conversation
        if conv.chat is None or not conv.messages:
            return
        first = conv.messages[0]
        self._load_older(conv.chat.id, (first.created_at, first.id))

    @work(thread=True, exclusive=True, group="older", exit_on_error=False)
    def _load_older(self, chat_id: int, before: Any) -> None:
        from chatdesk.store import views

        rows = views.list_messages(self.desk.db, chat_id, before=before, limit=self.PAGE + 1)
        has_more = len(rows) > self.PAGE
        self.post_message(OlderLoaded(chat_id, rows[1:] if has_more else rows, has_more))

    def on_older_loaded(self, message: OlderLoaded) -> None:
        if self.conversation.chat is not None and self.conversation.chat.id == message.chat_id:
            self.conversation.prepend(message.messages, message.has_more)
            self._update_titles()

    def on_chat_follow_lost(self, message: ChatFollowLost) -> None:
        if message.chat_id == self.target_id:
            self.follow_open_chat()  # the cursor goes to it, or the list says it is hidden

    def on_data_changed(self, _message: DataChanged) -> None:
        self.chat_list.reload()
        if self._hidden_id is not None and self._hidden_id == self.target_id:
            self.follow_open_chat()  # new data may bring the open chat into this view
        self.refresh_conversation()
        self.refresh_status()

    def refresh_status(self) -> None:
        self._load_status()

    @work(thread=True, exclusive=True, group="status", exit_on_error=False)
    def _load_status(self) -> None:
        from chatdesk.store import views

        desk = self.desk
        streams = views.sync_status(desk.db)
        unread = views.total_unread(desk.db)
        polling = {s.account_id: desk.is_polling(s.account_id) for s in streams}
        self.post_message(StatusLoaded(streams, unread, polling))

    def on_status_loaded(self, message: StatusLoaded) -> None:
        self.query_one(StatusLine).show(
            message.streams, message.unread, message.polling, self.desk.recent_errors, self.desk.sync_notes
        )
        if self._last_unread is not None and message.unread > self._last_unread:
            self.post_message(UnreadGrew(message.unread - self._last_unread))
        self._last_unread = message.unread


def _with_team(db, chat, *, seen: int | None):  # type: ignore[no-untyped-def]
    """Team mode, in the loading worker: record that this operator opened the chat (``seen``:
    the newest message id shown, on an explicit open) and is viewing it; add who else is here."""
    import dataclasses

    from chatdesk.errors import ChatdeskError
    from chatdesk.store import team

    me = db.operator
    try:
        if seen:  # an explicit open; later refreshes leave presence to the 10 s heartbeat
            team.mark_seen(db, chat.id, me, seen)
            team.heartbeat(db, chat.id, me, "viewing")
        names = team.display_names(db)
        here = team.presence(db, [chat.id]).get(chat.id, [])
    except ChatdeskError:  # presence is a nicety: the conversation still opens
        return chat
    others = tuple((names.get(o, o), st) for o, st in here if o != me)
    assignee = names.get(chat.assigned_to, chat.assigned_to) if chat.assigned_to else None
    return dataclasses.replace(chat, present=others, assigned_name=assignee)
