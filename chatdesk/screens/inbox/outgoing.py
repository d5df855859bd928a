"""Acting on a selected message: retry, "it arrived", edit a failed one, and its attachments
(download, open, copy the link)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work

from chatdesk.desk import error_words
from chatdesk.messages import (
    DraftRestored,
)
from chatdesk.sanitize import safe_text
from chatdesk.screens.dialogs import ChoiceDialog, PickDialog, PromptDialog
from chatdesk.screens.inbox.base import InboxBase
from chatdesk.store.views import MessageRow

if TYPE_CHECKING:
    from chatdesk.model import Attachment


class Outgoing(InboxBase):
    # ------------------------------------------------------------------ outgoing message actions

    def _pick_outgoing(self, states: tuple[str, ...]) -> MessageRow | None:
        conv = self.conversation
        msg = conv.selected_message
        if msg is not None and msg.author == "seller" and msg.state in states:
            return msg
        for m in reversed(conv.messages):
            if m.author == "seller" and m.state in states:
                return m
        self.desk.say(f"no {' or '.join(states)} message here", severity="warning")
        return None

    def action_retry(self) -> None:
        msg = self._pick_outgoing(("failed", "unknown"))
        if msg is None:
            return
        if msg.state != "unknown":
            self._outbox_call("requeue", msg, "queued again")
            return
        # Not confirmed: it may have reached the buyer. Ask, and offer "it arrived" right here.
        found = msg

        def chosen(choice: str | None) -> None:
            if choice == "requeue":
                self._outbox_call("requeue", found, "queued again")
            elif choice == "confirm_sent":
                self._outbox_call("confirm_sent", found, "marked as sent")

        body = Text(safe_text(found.text, max_len=400))
        body.append(
            "\n\nThe marketplace did not confirm this message; it may have arrived. "
            "Check the chat on the marketplace before sending it again.",
            "dim",
        )
        choices = [("C", "it arrived: mark it sent", "confirm_sent"), ("R", "send it again", "requeue")]
        self.app.push_screen(ChoiceDialog("Send it again?", body, choices), chosen)

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

        desk = self.desk
        ok, _ = desk.attempt(lambda: getattr(outbox, name)(desk.db, msg.id))
        if ok:
            desk.say(done)
            if name == "requeue":
                desk.deliver_now()
            self.desk.changed(frozenset({msg.chat_id}))

    @work(thread=True, group="outbox", exit_on_error=False)
    def _withdraw(self, msg: MessageRow) -> None:
        from chatdesk.store import outbox

        desk = self.desk
        with self._draft_lock:
            ok, text = desk.attempt(lambda: outbox.withdraw(desk.db, msg.id))
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
        self.desk.changed(frozenset({message.chat_id}))

    # ------------------------------------------------------------------ attachments

    def _with_attachment(self, then: Any) -> None:
        conv = self.conversation
        msg = conv.selected_message
        if msg is None or not msg.attachments:
            msg = next((m for m in reversed(conv.messages) if m.attachments), None)
        if msg is None:
            self.desk.say("no attachment here (select a message with j/k)", severity="warning")
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

            default = str(self.desk.downloads_dir)
            self.app.push_screen(PromptDialog(f"Save {att.name} to folder:", default), chosen)

        self._with_attachment(ask)

    def action_open_attachment(self) -> None:
        self._with_attachment(lambda msg, att: self._download(msg.chat_id, att, self.desk.downloads_dir, True))

    def action_copy_link(self) -> None:
        def copy(_msg: MessageRow, att: Attachment) -> None:
            if not att.url:
                self.desk.say("this file has no link; d downloads it", severity="warning")
                return
            self.app.copy_to_clipboard(safe_text(att.url, single_line=True))
            self.desk.say("link copied to the clipboard (OSC 52)")

        self._with_attachment(copy)

    @work(thread=True, group="download", exit_on_error=False)
    def _download(self, chat_id: int, att: Attachment, folder: Path, open_it: bool) -> None:
        from chatdesk.usecases import accounts

        desk = self.desk
        ok, path = desk.attempt(
            lambda: accounts.download_attachment(
                desk.db, desk.require_secrets(), chat_id, att, folder, **desk.actions_kwargs()
            )
        )
        if not ok:
            return
        if not open_it:
            desk.say(f"saved to {path}")
            return
        from chatdesk.usecases.attachments import open_with_system

        # Opened by its verified content type, never by the buyer's file name alone.
        ok, said = desk.attempt(lambda: open_with_system(path))
        if ok:
            desk.say(said)

    # ------------------------------------------------------------------ the message's text

    def _selected_or_last(self) -> MessageRow | None:
        conv = self.conversation
        msg = conv.selected_message or (conv.messages[-1] if conv.messages else None)
        if msg is None:
            self.desk.say("no message here (open a chat, select one with j/k)", severity="warning")
        return msg

    def action_copy_text(self) -> None:
        msg = self._selected_or_last()
        if msg is None:
            return
        self.app.copy_to_clipboard(safe_text(msg.text))
        self.desk.say(f"message text copied to the clipboard (OSC 52, {len(msg.text)} characters)")

    def action_pipe_message(self) -> None:
        msg = self._selected_or_last()
        if msg is None:
            return
        found = msg

        def chosen(command: str | None) -> None:
            if command and command.strip():
                self._pipe(found.text, command.strip())

        self.app.push_screen(
            PromptDialog(
                "Pipe the message text to a command (no shell; stdin gets the text):", placeholder="e.g. wc -w"
            ),
            chosen,
        )

    PIPE_TIMEOUT: float = 30.0  # seconds a piped command may run

    @work(thread=True, group="pipe", exit_on_error=False)
    def _pipe(self, text: str, command: str) -> None:
        import shlex

        try:
            argv = shlex.split(command)
        except ValueError as exc:
            self.desk.say(f"cannot read the command: {exc}", severity="error")
            return
        try:
            done = subprocess.run(
                argv,
                input=safe_text(text).encode("utf-8"),
                capture_output=True,
                timeout=self.PIPE_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self.desk.say(f"{argv[0]}: {error_words(exc)}", severity="error")
            return
        out = safe_text(done.stdout.decode("utf-8", "replace"), single_line=True, max_len=200)
        if done.returncode != 0:
            err = safe_text(done.stderr.decode("utf-8", "replace"), single_line=True, max_len=200)
            self.desk.say(
                f"{argv[0]} exited with code {done.returncode}" + (f": {err}" if err else ""), severity="warning"
            )
        else:
            self.desk.say(f"{argv[0]}: " + (out or "done"))
