"""Replying: focus the composer, attach, check the rules, confirm warnings, queue through the
outbox; ``E`` writes the reply in $EDITOR and asks to review it."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work

from chatdesk.messages import (
    MessageQueued,
)
from chatdesk.screens.dialogs import ConfirmDialog, PromptDialog, ReviewChoice, ReviewDialog
from chatdesk.screens.inbox.base import InboxBase
from chatdesk.store.views import ChatRow
from chatdesk.widgets.composer import check_rules, text_limit

if TYPE_CHECKING:
    pass


class Sending(InboxBase):
    # ------------------------------------------------------------------ sending

    def action_reply(self) -> None:
        if self.conversation.chat is None or (
            self.chat_list.current is not None
            and self.chat_list.current.id != self.target_id
            and self.focused is self.chat_list
        ):
            current = self.chat_list.current
            if current is None:
                self.desk.say("no chat to reply to")
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
        self.send_text(chat, self.composer.text, files=self.composer.files, basis=self.composer.basis)

    def action_attach(self) -> None:
        chat = self.composer.chat
        if chat is None:
            self.desk.say("open a chat first")
            return

        def chosen(path: str | None) -> None:
            if path is None:
                return
            if not path.strip():
                self.composer.set_files([])
                return
            self._add_attachment(chat.id, path.strip())

        prompt = PromptDialog(
            "Attach a file (path; empty removes the attachments)",
            paths=True,
            placeholder="/path/to/file or ~/file (completes as you type)",
        )
        self.app.push_screen(prompt, chosen)

    @work(thread=True, group="attach", exit_on_error=False)
    def _add_attachment(self, chat_id: int, path: str) -> None:
        from chatdesk.usecases.replies import file_specs

        ok, specs = self.desk.attempt(lambda: file_specs([Path(path).expanduser()]))
        if ok and specs:
            self.app.call_from_thread(self._attached, chat_id, specs[0])

    def _attached(self, chat_id: int, spec: dict[str, Any]) -> None:
        if self.composer.chat is not None and self.composer.chat.id == chat_id:
            self.composer.set_files([*self.composer.files, spec])

    def send_text(
        self,
        chat: ChatRow,
        text: str,
        *,
        confirmed: bool = False,
        files: list[dict[str, Any]] | None = None,
        basis: int | None = None,
    ) -> None:
        """Rule-check and queue a reply (through :func:`replies.queue_reply`, off the UI loop).
        ``basis``: the buyer message a suggestion in the text answers (the send-time check)."""
        text = text.strip("\n")
        files = list(files or [])
        if not text.strip() and not files:
            self.desk.say("nothing to send: the message is empty", severity="warning")
            return
        findings = check_rules(text, chat, files, self.desk.clock())
        hard = [f for f in findings if f.severity == "hard"]
        warn = [f for f in findings if f.severity == "warn"]
        if hard:
            self.desk.say("not sent: " + "; ".join(f.reason for f in hard), severity="error")
            self.record_block(chat.id, "hard", [f.code for f in hard])  # for the report
            return
        if warn and not confirmed:
            from chatdesk import rules

            lines = dict.fromkeys(rules.describe(warn, text))  # quotes the offending words, once each
            body = Text("\n".join(f"• {line}" for line in lines))
            body.append("\n\nThe marketplace may block this message. Send it anyway?")

            def done(yes: bool | None) -> None:
                if yes:
                    self.send_text(chat, text, confirmed=True, files=files, basis=basis)
                else:
                    self.record_block(chat.id, "warn", [f.code for f in warn])  # for the report

            self.app.push_screen(ConfirmDialog("Warnings", body, yes="send anyway", destructive=True), done)
            return
        self._drop_pending_draft(chat.id)
        self._enqueue(chat, text, sorted({f.code for f in warn}), files, basis=basis)

    @work(thread=True, group="send", exit_on_error=False)
    def _enqueue(
        self,
        chat: ChatRow,
        text: str,
        overrides: list[str],
        files: list[dict[str, Any]],
        anyway: bool = False,
        basis: int | None = None,
    ) -> None:
        from chatdesk.usecases import replies, team

        desk = self.desk
        chat_id = chat.id

        def queue() -> replies.QueuedReply | team.ReviewNeeded:
            """The use case the CLI's send uses too: check, one outbox row per marketplace
            request, the draft cleared in the same transaction."""
            try:
                return replies.queue_reply(
                    desk.db,
                    chat_id,
                    text,
                    files,
                    force=bool(overrides),
                    anyway=anyway,
                    now=desk.clock(),
                    basis=basis,
                )
            except team.ReviewNeeded as exc:  # team mode: the buyer or another operator wrote
                team.seen(desk.db, chat_id)  # the dialog shows them: reviewed either way
                return exc

        with self._draft_lock:
            ok, queued = desk.attempt(queue)
        if not ok:
            return
        if isinstance(queued, team.ReviewNeeded):
            self.app.call_from_thread(self._review_before_send, chat, text, overrides, files, queued)
            return
        message_id = queued.message_ids[-1]
        self.post_message(MessageQueued(chat_id, message_id))
        desk.deliver_now()

    def _review_before_send(
        self, chat: ChatRow, text: str, overrides: list[str], files: list[dict[str, Any]], exc: Exception
    ) -> None:
        """Show what arrived meanwhile; only an explicit key sends anyway (Enter cancels)."""
        from chatdesk.sanitize import safe_text

        if self.composer.chat is not None and self.composer.chat.id == chat.id:
            self.composer.basis = None  # reviewed: the suggestion's question is no longer news

        changes = getattr(exc, "changes", [])
        names = getattr(exc, "names", {})
        body = Text()
        for c in changes[-5:]:
            who = "buyer" if c.author == "buyer" else names.get(c.operator or "", c.operator or "seller")
            body.append("• " + safe_text(str(who), single_line=True, max_len=40) + ": ", style="bold")
            body.append(safe_text(" ".join(str(c.text).split())[:200], single_line=True) + "\n")
        body.append("\nSend yours anyway?")

        def done(choice: str | None) -> None:
            if choice == "send":
                self._enqueue(chat, text, overrides, files, anyway=True)
            else:
                self.desk.say("not sent: review the new messages; your text is still in the composer")
                self.refresh_conversation()

        self.app.push_screen(ReviewChoice(str(exc), body), done)

    def on_message_queued(self, message: MessageQueued) -> None:
        if self.composer.chat is not None and self.composer.chat.id == message.chat_id:
            self.composer.files = []
            self.composer.basis = None
            self.composer.set_text("")
        if self._opened_id == message.chat_id:
            self._cancel_read_timer()
        self.desk.changed(frozenset({message.chat_id}))

    # ------------------------------------------------------------------ $EDITOR

    def action_editor(self) -> None:
        if self.composer.chat is None:
            current = self.chat_list.current
            if current is None:
                self.desk.say("open a chat first")
                return
            self.show_chat(current.id, opened=True)
            self.desk.say("opening the chat; press E again")
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
        findings = check_rules(edited, chat, now=self.desk.clock()) if edited.strip() else []
        counter = f"{len(edited)}/{text_limit(chat.marketplace, chat.kind)}"
        shown = [(f.severity, f.reason) for f in findings]

        def done(choice: str | None) -> None:
            if choice == "send":
                self.send_text(chat, edited, confirmed=True, files=self.composer.files, basis=self.composer.basis)
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
                self.desk.say(
                    f"the editor exited with code {result.returncode}; the draft is unchanged", severity="warning"
                )
                return None
            edited = path.read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            self.desk.say(f"cannot run the editor {editor!r}: {exc}", severity="error")
            return None
        finally:
            path.unlink(missing_ok=True)
        return edited[:-1] if edited.endswith("\n") else edited
