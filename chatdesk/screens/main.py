"""The inbox: chat list | conversation + composer, a status line and the footer.

Threading (harlequin's invariant): every store/keyring/network call is a thread worker that
posts a message from ``chatdesk.messages``; handlers here own all widget state. Loads of "the
chat on screen" share one exclusive group, so moving on cancels a stale load; results for a
chat that is no longer the target are dropped.

Read state is the operator's: the list cursor only *previews* a chat; Enter/l opens it, and an
opened chat is marked read locally after ``mark_read_delay`` seconds (or on reply). ``M`` is the
only thing that touches the marketplace's own read marker.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, TextArea
from textual.worker import get_current_worker

from chatdesk.connectors import LABELS
from chatdesk.keymap import bindings
from chatdesk.messages import (
    ChatCountLoaded,
    ChatHighlighted,
    ChatOpened,
    Conversation,
    ConversationLoaded,
    DataChanged,
    DraftRestored,
    JumpTo,
    MessageQueued,
    NeedOlder,
    OlderLoaded,
    StatusLoaded,
)
from chatdesk.sanitize import safe_text
from chatdesk.screens.dialogs import ConfirmDialog, PickDialog, PromptDialog, ReviewDialog
from chatdesk.screens.followup_actions import FollowUpActions
from chatdesk.store.views import ChatFilter, ChatRow, MessageRow
from chatdesk.widgets.chat_list import ChatList
from chatdesk.widgets.composer import Composer, ComposerInput, check_rules, text_limit
from chatdesk.widgets.conversation import ConversationView
from chatdesk.widgets.header import ChatHeader
from chatdesk.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from chatdesk.app import ChatdeskApp
    from chatdesk.model import Attachment

PAGE = 100  # messages per conversation window
DRAFT_DEBOUNCE = 0.3
PREVIEW_DEBOUNCE = 0.08
STATUS_CYCLE = {None: "open", "open": "closed", "closed": None}


class UnreadFound(Message):
    def __init__(self, index: int | None) -> None:
        super().__init__()
        self.index = index


class MainScreen(FollowUpActions, Screen[None]):
    BINDINGS: ClassVar = bindings("main")
    AUTO_FOCUS = "ChatList"

    def __init__(self) -> None:
        super().__init__()
        self.target_id: int | None = None  # the chat the conversation shows or is loading
        self._opened_id: int | None = None  # explicitly opened (Enter/l/reply): read timer runs
        self._read_timer: Timer | None = None
        self._draft_timer: Timer | None = None
        self._preview_timer: Timer | None = None
        self._filter_timer: Timer | None = None
        self._draft_lock = threading.Lock()
        self._draft_seq = 0
        self._draft_written: dict[int, int] = {}
        self._pending_draft: tuple[int, str] | None = None
        self._last_unread: int | None = None

    @property
    def chatdesk(self) -> ChatdeskApp:
        return cast("ChatdeskApp", self.app)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        app = self.chatdesk
        db = app.db
        cfg = app.config
        from chatdesk.store import views

        with Horizontal(id="panes"):
            with Vertical(id="list-pane"):
                yield Input(placeholder="filter: name, order, text…", id="filter-input")
                yield ChatList(
                    lambda flt, offset, limit: views.list_chats(db, flt, offset=offset, limit=limit),
                    lambda flt: views.count_chats(db, flt),
                    clock=app.clock,
                    sla=(cfg.sla_warn_minutes, cfg.sla_late_minutes),
                    id="chat-list",
                )
            with Vertical(id="chat-pane"):
                yield ChatHeader(id="chat-header")
                yield ConversationView(tz=cfg.tz, id="conversation")
                yield Composer(id="composer")
        yield StatusLine(app.clock, id="status-line")
        yield Footer()

    @property
    def chat_list(self) -> ChatList:
        return self.query_one(ChatList)

    @property
    def conversation(self) -> ConversationView:
        return self.query_one(ConversationView)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    def on_mount(self) -> None:
        self.chat_list.filter = ChatFilter(stable_order=self.chatdesk.config.stable_order)
        self.query_one(ChatHeader).show(None)
        self.composer.set_chat(None, "")
        self._update_titles()
        self.chat_list.reload()
        self.refresh_status()
        self.set_interval(5, self.refresh_status)

    def _update_titles(self) -> None:
        flt = self.chat_list.filter
        parts = [f"Chats {self.chat_list.total}"]
        if flt.marketplace:
            parts.append(LABELS.get(flt.marketplace, flt.marketplace))
        if flt.unread:
            parts.append("unread")
        if flt.waiting:
            parts.append("waiting")
        if flt.status:
            parts.append(flt.status)
        if flt.text:
            parts.append(f"“{safe_text(flt.text, single_line=True, max_len=20)}”")
        pane = self.query_one("#list-pane")
        pane.border_title = " · ".join(parts)
        pane.border_subtitle = "1-4 U w o /"
        chat = self.conversation.chat
        self.query_one("#chat-pane").border_title = (
            "Conversation"
            if chat is None
            else (
                f"Conversation · {len(self.conversation.messages)} loaded"
                + (" · more above" if self.conversation.has_more else "")
            )
        )

    # ------------------------------------------------------------------ loading

    def on_chat_count_loaded(self, _message: ChatCountLoaded) -> None:
        self._update_titles()

    def on_chat_highlighted(self, message: ChatHighlighted) -> None:
        if self._preview_timer is not None:
            self._preview_timer.stop()
            self._preview_timer = None
        if message.chat.id == self.target_id:
            return
        chat_id = message.chat.id
        self._preview_timer = self.set_timer(PREVIEW_DEBOUNCE, lambda: self.show_chat(chat_id))

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
        from chatdesk.store import views

        db = self.chatdesk.db
        chat = views.get_chat(db, chat_id)
        if chat is None:
            return
        limit = PAGE
        if focus_message is not None:
            target = views.get_message(db, focus_message)
            if target is not None:
                limit = max(PAGE, views.count_messages_from(db, chat_id, target.created_at, target.id) + 5)
        messages = views.list_messages(db, chat_id, limit=limit + 1)
        has_more = len(messages) > limit
        if has_more:
            messages = messages[1:]
        draft = views.get_draft(db, chat_id) if with_draft else None
        if get_current_worker().is_cancelled:
            return
        self.post_message(ConversationLoaded(Conversation(chat, messages, has_more, draft, focus_message)))

    def on_conversation_loaded(self, message: ConversationLoaded) -> None:
        conv = message.conversation
        if conv.chat.id != self.target_id:
            return
        new_chat = self.conversation.chat is None or self.conversation.chat.id != conv.chat.id
        self.conversation.show(conv.chat, conv.messages, conv.has_more, keep_position=not new_chat)
        self.query_one(ChatHeader).show(conv.chat)
        if self.composer.chat is None or self.composer.chat.id != conv.chat.id:
            self.composer.set_chat(conv.chat, conv.draft or "")
        else:
            self.composer.chat = conv.chat
            self.composer.update_status()
        if conv.focus_message_id is not None:
            self.call_after_refresh(self.conversation.select_message, conv.focus_message_id)
        if self._opened_id == conv.chat.id and conv.chat.unread and self._read_timer is None:
            delay = self.chatdesk.config.mark_read_delay
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

        rows = views.list_messages(self.chatdesk.db, chat_id, before=before, limit=PAGE + 1)
        has_more = len(rows) > PAGE
        self.post_message(OlderLoaded(chat_id, rows[1:] if has_more else rows, has_more))

    def on_older_loaded(self, message: OlderLoaded) -> None:
        if self.conversation.chat is not None and self.conversation.chat.id == message.chat_id:
            self.conversation.prepend(message.messages, message.has_more)
            self._update_titles()

    def on_data_changed(self, _message: DataChanged) -> None:
        self.chat_list.reload()
        self.refresh_conversation()
        self.refresh_status()

    def refresh_status(self) -> None:
        self._load_status()

    @work(thread=True, exclusive=True, group="status", exit_on_error=False)
    def _load_status(self) -> None:
        from chatdesk.store import views

        app = self.chatdesk
        streams = views.sync_status(app.db)
        unread = views.total_unread(app.db)
        polling = {s.account_id: app.is_polling(s.account_id) for s in streams}
        self.post_message(StatusLoaded(streams, unread, polling))

    def on_status_loaded(self, message: StatusLoaded) -> None:
        self.query_one(StatusLine).show(message.streams, message.unread, message.polling)
        if self._last_unread is not None and message.unread > self._last_unread:
            self.chatdesk.unread_grew(message.unread - self._last_unread)
        self._last_unread = message.unread

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

        ok, _ = self.chatdesk.attempt(lambda: views.set_unread(self.chatdesk.db, chat_id, unread))
        if ok:
            self.post_message(DataChanged(frozenset({chat_id})))

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

    def action_mark_read_remote(self) -> None:
        chat = self._focused_chat()
        if chat is not None:
            self._mark_read_remote(chat)

    @work(thread=True, group="remote", exit_on_error=False)
    def _mark_read_remote(self, chat: ChatRow) -> None:
        from chatdesk import actions
        from chatdesk.store import views

        app = self.chatdesk
        ok, _ = app.attempt(lambda: actions.mark_read_remote(app.db, app.require_secrets(), chat.id))
        if ok:
            app.attempt(lambda: views.set_unread(app.db, chat.id, 0))
            app.say(f"marked read on {LABELS.get(chat.marketplace, chat.marketplace)} too")
            self.post_message(DataChanged(frozenset({chat.id})))

    # ------------------------------------------------------------------ drafts

    @on(TextArea.Changed)
    def _composer_changed(self, event: TextArea.Changed) -> None:
        chat = self.composer.chat
        if chat is None:
            return
        self._pending_draft = (chat.id, self.composer.text)
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(DRAFT_DEBOUNCE, self.flush_draft)

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
            self.chatdesk.attempt(lambda: views.save_draft(self.chatdesk.db, chat_id, text))

    def _drop_pending_draft(self, chat_id: int) -> None:
        if self._pending_draft and self._pending_draft[0] == chat_id:
            self._pending_draft = None
            if self._draft_timer is not None:
                self._draft_timer.stop()
                self._draft_timer = None
        self._draft_seq += 1
        with self._draft_lock:
            self._draft_written[chat_id] = self._draft_seq

    # ------------------------------------------------------------------ sending

    def action_reply(self) -> None:
        if self.conversation.chat is None or (
            self.chat_list.current is not None
            and self.chat_list.current.id != self.target_id
            and self.focused is self.chat_list
        ):
            current = self.chat_list.current
            if current is None:
                self.chatdesk.say("no chat to reply to")
                return
            self.show_chat(current.id, opened=True)
        else:
            self._opened_id = self.target_id
        self.composer.input.disabled = False
        self.composer.input.focus()

    def action_send(self) -> None:
        chat = self.composer.chat
        if chat is None:
            return
        self.send_text(chat, self.composer.text, files=self.composer.files)

    def action_attach(self) -> None:
        chat = self.composer.chat
        if chat is None:
            self.chatdesk.say("open a chat first")
            return

        def chosen(path: str | None) -> None:
            if path is None:
                return
            if not path.strip():
                self.composer.set_files([])
                return
            self._add_attachment(chat.id, path.strip())

        self.app.push_screen(PromptDialog("Attach a file (path; empty removes the attachments)", "~/"), chosen)

    @work(thread=True, group="attach", exit_on_error=False)
    def _add_attachment(self, chat_id: int, path: str) -> None:
        from chatdesk.sending import file_specs

        ok, specs = self.chatdesk.attempt(lambda: file_specs([Path(path).expanduser()]))
        if ok and specs:
            self.app.call_from_thread(self._attached, chat_id, specs[0])

    def _attached(self, chat_id: int, spec: dict[str, Any]) -> None:
        if self.composer.chat is not None and self.composer.chat.id == chat_id:
            self.composer.set_files([*self.composer.files, spec])

    def send_text(
        self, chat: ChatRow, text: str, *, confirmed: bool = False, files: list[dict[str, Any]] | None = None
    ) -> None:
        text = text.strip("\n")
        files = list(files or [])
        if not text.strip() and not files:
            self.chatdesk.say("nothing to send: the message is empty", severity="warning")
            return
        findings = check_rules(text, chat, files)
        hard = [f for f in findings if f.severity == "hard"]
        warn = [f for f in findings if f.severity == "warn"]
        if hard:
            self.chatdesk.say("not sent: " + "; ".join(f.reason for f in hard), severity="error")
            return
        if warn and not confirmed:
            from chatdesk import rules

            lines = dict.fromkeys(rules.describe(warn, text))  # quotes the offending words, once each
            body = Text("\n".join(f"• {line}" for line in lines))
            body.append("\n\nThe marketplace may block this message. Send it anyway?")

            def done(yes: bool | None) -> None:
                if yes:
                    self.send_text(chat, text, confirmed=True, files=files)

            self.app.push_screen(ConfirmDialog("Warnings", body, yes="send anyway"), done)
            return
        self._drop_pending_draft(chat.id)
        self._enqueue(chat, text, sorted({f.code for f in warn}), files)

    @work(thread=True, group="send", exit_on_error=False)
    def _enqueue(self, chat: ChatRow, text: str, overrides: list[str], files: list[dict[str, Any]]) -> None:
        from chatdesk.connectors import connector_class
        from chatdesk.sending import split_parts
        from chatdesk.store import outbox

        app = self.chatdesk
        chat_id = chat.id
        parts = split_parts(connector_class(chat.marketplace).limits.get(chat.kind), text, files)

        def queue() -> int:
            ids = [outbox.enqueue(app.db, chat_id, t, files=f, overrides=overrides or None) for t, f in parts]
            return ids[-1]

        with self._draft_lock:
            ok, message_id = app.attempt(queue)
        if not ok:
            return
        self.post_message(MessageQueued(chat_id, message_id))
        app.deliver_now()

    def on_message_queued(self, message: MessageQueued) -> None:
        if self.composer.chat is not None and self.composer.chat.id == message.chat_id:
            self.composer.files = []
            self.composer.set_text("")
        if self._opened_id == message.chat_id:
            self._cancel_read_timer()
        self.post_message(DataChanged(frozenset({message.chat_id})))

    # ------------------------------------------------------------------ $EDITOR

    def action_editor(self) -> None:
        if self.composer.chat is None:
            current = self.chat_list.current
            if current is None:
                self.chatdesk.say("open a chat first")
                return
            self.show_chat(current.id, opened=True)
            self.chatdesk.say("opening the chat; press E again")
            return
        self.run_editor(self.composer.chat, self.composer.text)

    def run_editor(self, chat: ChatRow, text: str) -> None:
        edited = self._edit_in_editor(text)
        if edited is None:
            return
        if self.composer.chat is not None and self.composer.chat.id == chat.id:
            self.composer.set_text(edited)
            self._pending_draft = (chat.id, edited)
            self.flush_draft()
        findings = check_rules(edited, chat) if edited.strip() else []
        counter = f"{len(edited)}/{text_limit(chat.marketplace, chat.kind)}"
        shown = [(f.severity, f.reason) for f in findings]

        def done(choice: str | None) -> None:
            if choice == "send":
                self.send_text(chat, edited, confirmed=True, files=self.composer.files)
            elif choice == "edit":
                self.run_editor(chat, edited)

        self.app.push_screen(ReviewDialog(edited, counter, shown), done)

    def _edit_in_editor(self, text: str) -> str | None:
        """Run $VISUAL/$EDITOR on the text with the terminal handed over (``App.suspend``)."""
        from textual.app import SuspendNotSupported

        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        fd, name = tempfile.mkstemp(prefix="chatdesk-", suffix=".txt")
        path = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            argv = [*shlex.split(editor), str(path)]
            try:
                with self.app.suspend():
                    result = subprocess.run(argv, check=False)
            except SuspendNotSupported:  # headless (tests) or a terminal that cannot hand over
                result = subprocess.run(argv, check=False, stdin=subprocess.DEVNULL, capture_output=True)
            if result.returncode != 0:
                self.chatdesk.say(
                    f"the editor exited with code {result.returncode}; the draft is unchanged", severity="warning"
                )
                return None
            edited = path.read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            self.chatdesk.say(f"cannot run the editor {editor!r}: {exc}", severity="error")
            return None
        finally:
            path.unlink(missing_ok=True)
        return edited[:-1] if edited.endswith("\n") else edited

    # ------------------------------------------------------------------ outgoing message actions

    def _pick_outgoing(self, states: tuple[str, ...]) -> MessageRow | None:
        conv = self.conversation
        msg = conv.selected_message
        if msg is not None and msg.author == "seller" and msg.state in states:
            return msg
        for m in reversed(conv.messages):
            if m.author == "seller" and m.state in states:
                return m
        self.chatdesk.say(f"no {' or '.join(states)} message here", severity="warning")
        return None

    def action_retry(self) -> None:
        msg = self._pick_outgoing(("failed", "unknown"))
        if msg is not None:
            self._outbox_call("requeue", msg, "queued again")

    def action_confirm_arrived(self) -> None:
        msg = self._pick_outgoing(("unknown",))
        if msg is not None:
            self._outbox_call("confirm_sent", msg, "marked as sent")

    def action_edit_failed(self) -> None:
        msg = self._pick_outgoing(("failed", "unknown", "queued"))
        if msg is not None:
            self._withdraw(msg)

    @work(thread=True, group="outbox", exit_on_error=False)
    def _outbox_call(self, name: str, msg: MessageRow, done: str) -> None:
        from chatdesk.store import outbox

        app = self.chatdesk
        ok, _ = app.attempt(lambda: getattr(outbox, name)(app.db, msg.id))
        if ok:
            app.say(done)
            if name == "requeue":
                app.deliver_now()
            self.post_message(DataChanged(frozenset({msg.chat_id})))

    @work(thread=True, group="outbox", exit_on_error=False)
    def _withdraw(self, msg: MessageRow) -> None:
        from chatdesk.store import outbox

        app = self.chatdesk
        with self._draft_lock:
            ok, text = app.attempt(lambda: outbox.withdraw(app.db, msg.id))
        if ok:
            self.post_message(DraftRestored(msg.chat_id, text))

    def on_draft_restored(self, message: DraftRestored) -> None:
        if self.composer.chat is not None and self.composer.chat.id == message.chat_id:
            old = self.composer.text
            text = message.text + (f"\n\n{old}" if old.strip() and old.strip() != message.text.strip() else "")
            self.composer.set_text(text)
            self._pending_draft = (message.chat_id, text)
            self.flush_draft()
            self.composer.input.focus()
        self.post_message(DataChanged(frozenset({message.chat_id})))

    # ------------------------------------------------------------------ attachments

    def _with_attachment(self, then: Any) -> None:
        conv = self.conversation
        msg = conv.selected_message
        if msg is None or not msg.attachments:
            msg = next((m for m in reversed(conv.messages) if m.attachments), None)
        if msg is None:
            self.chatdesk.say("no attachment here (select a message with j/k)", severity="warning")
            return
        found = msg
        if len(found.attachments) == 1:
            then(found, found.attachments[0])
            return

        def picked(index: int | None) -> None:
            if index is not None:
                then(found, found.attachments[index])

        self.app.push_screen(PickDialog("Which file?", [a.name for a in found.attachments]), picked)

    def action_download(self) -> None:
        def ask(msg: MessageRow, att: Attachment) -> None:
            def chosen(folder: str | None) -> None:
                if folder:
                    self._download(msg.chat_id, att, Path(folder).expanduser(), False)

            default = str(self.chatdesk.downloads_dir)
            self.app.push_screen(PromptDialog(f"Save {att.name} to folder:", default), chosen)

        self._with_attachment(ask)

    def action_open_attachment(self) -> None:
        self._with_attachment(lambda msg, att: self._download(msg.chat_id, att, self.chatdesk.downloads_dir, True))

    def action_copy_link(self) -> None:
        def copy(_msg: MessageRow, att: Attachment) -> None:
            if not att.url:
                self.chatdesk.say("this file has no link; d downloads it", severity="warning")
                return
            self.app.copy_to_clipboard(safe_text(att.url, single_line=True))
            self.chatdesk.say("link copied to the clipboard (OSC 52)")

        self._with_attachment(copy)

    @work(thread=True, group="download", exit_on_error=False)
    def _download(self, chat_id: int, att: Attachment, folder: Path, open_it: bool) -> None:
        from chatdesk import actions

        app = self.chatdesk
        ok, path = app.attempt(lambda: actions.download_attachment(app.db, app.require_secrets(), chat_id, att, folder))
        if not ok:
            return
        opener = shutil.which("xdg-open") or shutil.which("open")
        if open_it and opener:
            try:
                subprocess.Popen(
                    [opener, str(path)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                app.say(f"opened {path.name}")
                return
            except OSError as exc:
                app.say(f"cannot open {path.name}: {exc}", severity="warning")
        app.say(f"saved to {path}" + ("" if opener or not open_it else " (no system opener here)"))

    # ------------------------------------------------------------------ navigation and filters

    def action_focus_pane(self, delta: int) -> None:
        panes = [self.chat_list, self.conversation, self.composer.input]
        panes = [p for p in panes if not p.disabled]
        focused = self.focused
        index = next((i for i, p in enumerate(panes) if p is focused), -1)
        panes[(index + delta) % len(panes)].focus()

    def action_back(self) -> None:
        if self.focused is self.composer.input:
            self.conversation.focus()
        else:
            self.chat_list.focus()

    def action_next_unread(self) -> None:
        self._find_unread(self.chat_list.filter, self.chat_list.cursor)

    @work(thread=True, exclusive=True, group="next-unread", exit_on_error=False)
    def _find_unread(self, flt: ChatFilter, start: int) -> None:
        from chatdesk.store import views

        db = self.chatdesk.db
        total = views.count_chats(db, flt)
        for begin, end in ((start + 1, total), (0, start + 1)):
            offset = begin
            while offset < end:
                rows = views.list_chats(db, flt, offset=offset, limit=min(200, end - offset))
                if not rows:
                    break
                for i, row in enumerate(rows):
                    if row.unread:
                        self.post_message(UnreadFound(offset + i))
                        return
                offset += len(rows)
        self.post_message(UnreadFound(None))

    def on_unread_found(self, message: UnreadFound) -> None:
        if message.index is None:
            self.chatdesk.say(
                "no unread chats"
                + (
                    " in this filter"
                    if self.chat_list.filter != ChatFilter(stable_order=self.chatdesk.config.stable_order)
                    else ""
                )
            )
            return
        self.chat_list.move_to(message.index)
        self.chat_list.focus()

    def _set_filter(self, **changes: Any) -> None:
        from dataclasses import replace

        self.chat_list.set_filter(replace(self.chat_list.filter, **changes))
        self._update_titles()

    def action_marketplace(self, marketplace: str) -> None:
        self._set_filter(marketplace=marketplace or None)

    def action_filter_unread(self) -> None:
        self._set_filter(unread=not self.chat_list.filter.unread)

    def action_filter_waiting(self) -> None:
        self._set_filter(waiting=not self.chat_list.filter.waiting)

    def action_filter_status(self) -> None:
        self._set_filter(status=STATUS_CYCLE[self.chat_list.filter.status])

    def action_filter_text(self) -> None:
        box = self.query_one("#filter-input", Input)
        box.add_class("-shown")
        box.focus()

    @on(Input.Changed, "#filter-input")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        value = event.value.strip() or None
        self._filter_timer = self.set_timer(0.2, lambda: self._set_filter(text=value))

    @on(Input.Submitted, "#filter-input")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.remove_class("-shown")
        self.chat_list.focus()

    def key_escape(self) -> None:
        box = self.query_one("#filter-input", Input)
        if box.has_focus:
            box.value = ""
            box.remove_class("-shown")
            self._set_filter(text=None)
            self.chat_list.focus()

    def action_search(self) -> None:
        from chatdesk.screens.search import SearchScreen

        def done(hit: tuple[int, int] | None) -> None:
            if hit:
                self.post_message(JumpTo(*hit))

        self.app.push_screen(SearchScreen(), done)

    def on_jump_to(self, message: JumpTo) -> None:
        self.show_chat(message.chat_id, focus_message=message.message_id)
        self.conversation.focus()

    def action_sync(self) -> None:
        self.chatdesk.sync_now(None)

    def action_accounts(self) -> None:
        from chatdesk.screens.accounts import AccountsScreen

        self.app.push_screen(AccountsScreen(), lambda _r: self.post_message(DataChanged()))

    def action_help(self) -> None:
        from chatdesk.screens.help import HelpScreen

        app = self.chatdesk
        self.app.push_screen(HelpScreen(app.keymap, str(app.config_path)))

    async def action_quit(self) -> None:
        await self.app.action_quit()
