"""The reply composer: a multi-line TextArea, a used/limit counter and live rule findings.

Enter inserts a newline (buyers get paragraphs); sending is an explicit key (ctrl+j, shown in
the footer) because ctrl+enter is indistinguishable from enter in most terminals. Findings from
``chatdesk.rules`` show as you type: hard ones block the send key, warnings need a second
explicit confirmation (the override is recorded with the message).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static, TextArea

from chatdesk.keymap import bindings
from chatdesk.sanitize import safe_text
from chatdesk.store.views import ChatRow
from chatdesk.widgets.findings import excerpt


def text_limit(marketplace: str, kind: str) -> int:
    """The marketplace's maximum message length, from the rule table."""
    from chatdesk.rules import limits_for

    return limits_for(marketplace, kind).max_text


def check_rules(
    text: str, chat: ChatRow, files: list[dict[str, Any]] | None = None, now: datetime | None = None
) -> list[Any]:
    """Findings for ``text`` (and attached ``files``) in ``chat`` sent at ``now`` (aware UTC;
    default the wall clock): ``rules.check_chat``, so the reply window is a hard limit."""
    from chatdesk import rules
    from chatdesk.model import FileSpec

    infos = [FileSpec.from_dict(f) for f in files or []]  # a malformed spec checks as an empty file
    return rules.check_chat(text, chat, files=infos, now=now)


def window_left(chat: ChatRow, now: datetime | None = None) -> timedelta | None:
    """How long the marketplace still accepts a reply in ``chat`` (negative: closed; ``None``: no
    window). Source: ``rules.reply_window_closes`` (``marketplaces.<id>.reply_window``)."""
    from chatdesk import rules

    closes = rules.reply_window_closes(chat.marketplace, chat.kind, chat.last_buyer_at)
    if closes is None:
        return None
    return closes - (now or datetime.now(UTC))


def span_words(delta: timedelta) -> str:
    from chatdesk import rules

    return rules.span_words(delta)


def recipient(chat: ChatRow | None) -> str:
    """Whose chat a reply typed here goes to, as the composer's title shows it."""
    if chat is None:
        return ""
    from chatdesk.usecases.titles import chat_title
    from chatdesk.widgets.chat_list import BADGES

    badge = BADGES.get(chat.marketplace, chat.marketplace)
    who = safe_text(chat_title(chat), single_line=True, max_len=40)
    return f"Reply to {who} · {badge} {safe_text(chat.account, single_line=True, max_len=24)}"


class ComposerInput(TextArea):
    BINDINGS: ClassVar = bindings("composer")


class Composer(Vertical):
    """Holds the draft of the shown chat; the screen saves it (debounced) and sends it."""

    DEFAULT_CSS = """
    Composer { height: auto; border-title-color: $text-muted; }
    Composer:focus-within { border-title-color: $text; border-title-style: bold; }
    Composer ComposerInput { height: auto; min-height: 3; max-height: 8; border: none; padding: 0 1; }
    Composer #composer-status { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    Composer #composer-status.-hard { color: $text-error; }
    Composer #composer-status.-warn { color: $text-warning; }
    """

    def __init__(self, id: str | None = None, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(id=id)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))  # the desk's clock
        self.chat: ChatRow | None = None
        self.findings: list[Any] = []
        self.files: list[dict[str, Any]] = []  # attachments of the reply being written
        self.status_text = Text()  # what the status line under the composer shows
        self._loaded: str | None = None  # text set by the program: its Changed is not an edit
        self.edited_at: datetime | None = None  # the operator's last keystroke in this chat (the clock's time)
        # The buyer message (row id) a suggestion put into this reply answers: the send-time
        # check stops the reply if the buyer or someone else wrote after it. None: typed.
        self.basis: int | None = None
        # Work under way for this composer ("finding suggestions…"), shown in the status line
        # instead of a toast that would cover a dialog opened over it. "" when none.
        self.activity = ""

    def compose(self) -> ComposeResult:
        yield ComposerInput(id="composer-input", soft_wrap=True, tab_behavior="focus", show_line_numbers=False)
        yield Static(id="composer-status", markup=False)

    @property
    def input(self) -> ComposerInput:
        return self.query_one(ComposerInput)

    @property
    def text(self) -> str:
        return self.input.text

    def set_chat(self, chat: ChatRow | None, draft: str | None) -> None:
        if chat is None or self.chat is None or chat.id != self.chat.id:
            self.files = []
            self.edited_at = None
            self.basis = None
        self.chat = chat
        if draft is not None:
            self.set_text(draft)
        self.input.disabled = chat is None
        self.border_title = Content(recipient(chat))  # Content: a buyer's name is never markup
        self.update_status()

    def set_files(self, files: list[dict[str, Any]]) -> None:
        self.files = list(files)
        self.update_status()

    def set_text(self, text: str) -> None:
        self._loaded = text
        self.input.load_text(text)
        self.input.move_cursor(self.input.document.end)
        self.update_status()

    def set_activity(self, text: str) -> None:
        """Show ``text`` (plain words, "" to clear) in the status line while work runs."""
        self.activity = text
        self.update_status()

    def replace_text(self, text: str) -> bool:
        """Put ``text`` in place of the whole draft as one undoable edit (ctrl+z brings the
        draft back), cursor at the end. Returns True when a non-blank draft was replaced."""
        area = self.input
        had_draft = bool(self.text.strip())
        if not self.text:
            area.load_text(text)  # not set_text: this is an edit, saved as the chat's draft
        else:
            area.history.checkpoint()  # the replacement is its own undo step, apart from typing
            area.replace(text, (0, 0), area.document.end)
            area.history.checkpoint()
        area.move_cursor(area.document.end)
        self.update_status()
        return had_draft

    def update_status(self) -> None:
        status = self.query_one("#composer-status", Static)
        status.remove_class("-hard", "-warn")
        if self.chat is None:
            self.findings = []
            status.update("open a chat to reply")
            return
        text = self.text
        now = self.clock()
        limit = text_limit(self.chat.marketplace, self.chat.kind)
        if text.strip() or self.files:
            self.findings = check_rules(text, self.chat, self.files, now)
        else:  # nothing typed yet: only a closed reply window is worth saying (before typing)
            self.findings = [f for f in check_rules(" ", self.chat, now=now) if f.code == "window_closed"]
        line = Text(f"{len(text)}/{limit}")
        left = window_left(self.chat, now)
        if left is not None and left > timedelta(0):
            # The countdown to the marketplace's reply window (Ozon: 48 h after the buyer wrote).
            line.append(f"  ⇥ window closes in {span_words(left)}", "bold" if left < timedelta(hours=6) else "")
        if self.files:
            line.append("  📎 " + ", ".join(safe_text(f["name"], single_line=True) for f in self.files))
        if self.activity:
            line.append("  " + self.activity, "italic")
        hard = [f for f in self.findings if f.severity == "hard"]
        warn = [f for f in self.findings if f.severity == "warn"]
        if hard or warn:
            shown = hard[0] if hard else warn[0]
            status.add_class("-hard" if hard else "-warn")
            line.append("  blocked: " if hard else "  warning: ")
            words = excerpt(text, shown)  # the offending words, highlighted in place
            if words is not None:
                line.append_text(words)
                line.append(" — ")
            line.append(shown.reason)
            more = len(hard) - 1 if hard else len(warn) - 1
            if more > 0:
                line.append(f" (+{more})")
        elif self.activity:
            pass  # the key hints return when the work is done
        elif self.chat.kind == "question":
            line.append("  ^j publish the answer · WB lets you edit an answer only once, within 60 days")
        else:
            line.append("  ^j send · Enter newline · Esc leave")
        self.status_text = line
        status.update(line)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self._loaded is not None and self.text == self._loaded:
            self._loaded = None
            event.stop()
            return
        self._loaded = None
        self.edited_at = self.clock()  # a real edit: team mode's "typing" lasts ~10 s after it
        self.update_status()
