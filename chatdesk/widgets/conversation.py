"""The conversation: a line-API ScrollView over the loaded window of a chat's messages.

A chat opens on its newest page (``views.list_messages(limit=N)``); scrolling to the top asks
for the page before it. Each message is wrapped once per (message, state, width) and cached,
so a 10,000-message chat opens as fast as a 10-message one and a live refresh re-wraps only
what changed. Every piece of buyer text goes through ``safe_text`` into a Rich ``Text``:
never markup, never an escape byte.
"""

from __future__ import annotations

from datetime import timedelta, tzinfo
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from chatdesk.keymap import bindings
from chatdesk.messages import NeedOlder
from chatdesk.sanitize import safe_text
from chatdesk.store.team import NoteRow
from chatdesk.store.views import ChatRow, MessageRow
from chatdesk.widgets.cursor import component_style, cursor_style, over

GUTTER = 1  # the column left of every line that marks the selected message

STATE_LABELS = {
    "queued": "queued",
    "sending": "sending…",
    "sent": "sent",
    "failed": "FAILED",
    "unknown": "not confirmed",
}


def human_size(size: int | None) -> str:
    if not size:
        return ""
    scaled = float(size)
    for unit in ("B", "KB", "MB"):
        if scaled < 1024:
            return f" {scaled:.0f} {unit}"
        scaled /= 1024
    return f" {scaled:.0f} GB"


def seller_label(msg: MessageRow, me: str | None) -> str:
    """Who a seller message is shown as: "You" for this window's own replies (solo: every reply
    without an operator); in team mode another operator's display name ("Анна"), and "seller"
    for a reply without an operator (the marketplace portal, solo chatdesk). Sanitized."""
    if msg.operator is None:
        return "seller" if me else "You"
    if msg.operator == me:
        return "You"
    return safe_text(msg.operator_name or msg.operator, single_line=True, max_len=40) or "seller"


class ConversationView(ScrollView, can_focus=True):
    """Messages of one chat; ``selected`` is the message retry/edit/attachment keys act on."""

    BINDINGS: ClassVar = bindings("conversation")
    COMPONENT_CLASSES: ClassVar = {
        "conversation--buyer",
        "conversation--seller",
        "conversation--marketplace",
        "conversation--muted",
        "conversation--failed",
        "conversation--pending",
        "conversation--attachment",
        "conversation--selected",
        "conversation--selected-blurred",
        "conversation--gutter",
        "conversation--note",
    }
    DEFAULT_CSS = """
    ConversationView { background: $surface; }
    ConversationView > .conversation--buyer { color: $text-accent; text-style: bold; }
    ConversationView > .conversation--seller { color: $text-success; text-style: bold; }
    ConversationView > .conversation--marketplace { color: $text-warning; text-style: bold; }
    ConversationView > .conversation--muted { color: $text-muted; }
    ConversationView > .conversation--failed { color: $text-error; text-style: bold; }
    ConversationView > .conversation--pending { color: $text-warning; }
    ConversationView > .conversation--attachment { color: $text-primary; text-style: underline; }
    ConversationView { overflow-x: hidden; }
    ConversationView > .conversation--selected { background: $primary 35%; }
    ConversationView > .conversation--selected-blurred { background: $primary 15%; }
    ConversationView > .conversation--gutter { color: $accent; text-style: bold; }
    ConversationView > .conversation--note { color: $text-secondary; text-style: italic; }
    """

    selected: reactive[int | None] = reactive(None, init=False)

    def __init__(self, *, tz: tzinfo, id: str | None = None, me: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        # Team mode: the operator this window acts for; only their own replies say "You".
        self.me = me
        self.chat: ChatRow | None = None
        self.messages: list[MessageRow] = []
        self.notes: list[NoteRow] = []  # team mode: internal notes, shown among the messages
        self.operator_names: dict[str, str] = {}  # operator -> display name, for the notes' headers
        self.has_more = False
        self.loading_older = False
        self._blocks: LRUCache[tuple[object, ...], list[Strip]] = LRUCache(4096)
        self._lines: list[tuple[int, Strip]] = []  # (message index or -1, strip)
        self._first_line: list[int] = []

    # ------------------------------------------------------------------ data

    def show(
        self,
        chat: ChatRow,
        messages: list[MessageRow],
        has_more: bool,
        *,
        keep_position: bool,
        notes: list[NoteRow] | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        """Show ``messages`` (the newest window) and the chat's internal ``notes`` among them in
        time order; a refresh of the same chat keeps the view."""
        notes = notes or []
        same = self.chat is not None and self.chat.id == chat.id
        at_bottom = self.scroll_offset.y >= self.max_scroll_y - 1
        selected_id = self.selected_message.id if (same and self.selected_message) else None
        if same and keep_position and messages == self.messages and chat == self.chat and notes == self.notes:
            return
        self.notes = notes
        self.operator_names = names or {}
        if same and keep_position and self.messages and len(messages) < len(self.messages):
            # A refresh reads the newest page only: keep the older history already loaded.
            oldest_new = (messages[0].created_at, messages[0].id) if messages else None
            older = [m for m in self.messages if oldest_new is None or (m.created_at, m.id) < oldest_new]
            messages = older + messages
            has_more = self.has_more
        self.chat = chat
        self.messages = messages
        self.has_more = has_more
        self.loading_older = False
        self._relayout()
        index = next((i for i, m in enumerate(messages) if m.id == selected_id), None)
        self.set_reactive(ConversationView.selected, index)
        if not same or not keep_position or at_bottom:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def clear(self) -> None:
        self.chat = None
        self.messages = []
        self.notes = []
        self.has_more = False
        self.set_reactive(ConversationView.selected, None)
        self._relayout()

    def prepend(self, messages: list[MessageRow], has_more: bool) -> None:
        known = {m.id for m in self.messages}
        fresh = [m for m in messages if m.id not in known]
        before = len(self._lines)
        selected_id = self.selected_message.id if self.selected_message else None
        self.messages = fresh + self.messages
        self.has_more = has_more
        self.loading_older = False
        self._relayout()
        if selected_id is not None:
            self.set_reactive(ConversationView.selected, self.index_of(selected_id))
        self.scroll_to(y=self.scroll_offset.y + len(self._lines) - before, animate=False, immediate=True)

    def index_of(self, message_id: int) -> int | None:
        return next((i for i, m in enumerate(self.messages) if m.id == message_id), None)

    @property
    def selected_message(self) -> MessageRow | None:
        if self.selected is None or not 0 <= self.selected < len(self.messages):
            return None
        return self.messages[self.selected]

    # ------------------------------------------------------------------ layout

    def _width(self) -> int:
        """Cells a line may use: the widget minus its scrollbar column and the cursor gutter."""
        # The scrollbar's column is kept free whether or not it shows, so a message wrapped
        # before the scrollbar appeared still fits after.
        return max(10, self.size.width - self.styles.scrollbar_size_vertical - GUTTER)

    def _relayout(self) -> None:
        width = self._width()
        lines: list[tuple[int, Strip]] = []
        first: list[int] = []
        prev_day = None
        prev: MessageRow | None = None
        if self.has_more:
            lines.append((-1, self._center("↑ older messages load when you scroll up", width)))
        oldest = self.messages[0].created_at if (self.has_more and self.messages) else None
        notes = [n for n in self.notes if oldest is None or n.created_at >= oldest]  # older ones: with their page
        for i, msg in enumerate([*self.messages, None]):
            while notes and (msg is None or notes[0].created_at <= msg.created_at):
                note = notes.pop(0)
                day = note.created_at.astimezone(self.tz).date()
                if day != prev_day:
                    lines.append((-1, self._center(f" {day.strftime('%a %d %b %Y')} ", width, fill="─")))
                    prev_day = day
                elif prev is not None or lines:
                    lines.append((-1, Strip.blank(0)))
                lines.extend((-1, strip) for strip in self._render_note(note, width))
                prev = None  # the next message gets its own header
            if msg is None:
                break
            day = msg.created_at.astimezone(self.tz).date()
            if day != prev_day:
                lines.append((-1, self._center(f" {day.strftime('%a %d %b %Y')} ", width, fill="─")))
                prev_day = day
                prev = None
            grouped = prev is not None and self._continues(prev, msg)
            if prev is not None and not grouped:
                lines.append((-1, Strip.blank(0)))  # a blank line between authors (or pauses)
            first.append(len(lines))
            key = (msg, width, self.chat.customer if self.chat else None, grouped)
            block = self._blocks.get(key)
            if block is None:
                block = self._render_message(msg, width, grouped=grouped)
                self._blocks[key] = block
            lines.extend((i, strip) for strip in block)
            prev = msg
        self._lines = lines
        self._first_line = first
        self.virtual_size = Size(width + GUTTER, len(lines))
        self.refresh()

    def _style(self, name: str) -> Style:
        return component_style(self, f"conversation--{name}")

    def _center(self, label: str, width: int, fill: str = " ") -> Strip:
        text = Text(label.center(width, fill)[:width], style=self._style("muted"))
        return Strip(list(text.render(self.app.console)), width)

    GROUP_GAP: ClassVar[timedelta] = timedelta(minutes=10)  # one author's messages closer than this share a header

    def _continues(self, prev: MessageRow, msg: MessageRow) -> bool:
        """``msg`` goes under ``prev``'s header: same author (and, in team mode, the same
        operator), within GROUP_GAP, and neither carries a delivery state worth its own header
        (queued, failed, not confirmed)."""
        plain = ("received", "sent")
        return (
            prev.author == msg.author
            and prev.operator == msg.operator
            and msg.created_at - prev.created_at < self.GROUP_GAP
            and prev.state in plain
            and msg.state in plain
        )

    def _render_note(self, note: NoteRow, width: int) -> list[Strip]:
        """An internal note: "Note · Анна  14:05" and its text, italic in the note colour; never
        a delivery state (a note is never sent)."""
        style = self._style("note")
        names = self.operator_names
        who = names.get(note.operator or "", note.operator or "") if note.operator else ""
        head = Text("Note", style)
        if who:
            head.append(f" · {safe_text(who, single_line=True, max_len=40)}", style)
        head.append(f"  {note.created_at.astimezone(self.tz).strftime('%H:%M')}", self._style("muted"))
        strips = [head, *Text(safe_text(note.text), style=style, end="").wrap(self.app.console, max(4, width - 4))]
        out: list[Strip] = []
        for line in strips:
            prefix = Text("▎ ", style)
            prefix.append_text(line)
            prefix.truncate(width, overflow="ellipsis")
            out.append(Strip(list(prefix.render(self.app.console)), prefix.cell_len))
        return out

    def _render_message(self, msg: MessageRow, width: int, *, grouped: bool = False) -> list[Strip]:
        console = self.app.console
        head = Text()
        if msg.author == "buyer":
            name = safe_text(self.chat.customer, single_line=True, max_len=40) if self.chat else ""
            head.append(name or "Buyer", self._style("buyer"))
        elif msg.author == "seller":
            head.append(seller_label(msg, self.me), self._style("seller"))
        else:
            head.append("Marketplace", self._style("marketplace"))
        head.append(f"  {msg.created_at.astimezone(self.tz).strftime('%H:%M')}", self._style("muted"))
        if msg.author == "seller" and msg.state != "received":
            label = STATE_LABELS.get(msg.state, msg.state)
            style = {"failed": "failed", "unknown": "failed", "sent": "muted"}.get(msg.state, "pending")
            head.append(f"  {label}", self._style(style))
            if msg.state == "failed":
                head.append("  R retry · e edit", self._style("muted"))
            elif msg.state == "unknown":
                head.append("  R resend · C it arrived · e edit", self._style("muted"))
        strips = [] if grouped else [head]
        body = Text(safe_text(msg.text), end="")
        strips.extend(body.wrap(console, max(4, width - 2)))
        for att in msg.attachments:
            token = Text()
            token.append(
                f"[📎 {safe_text(att.name, single_line=True, max_len=60)}{human_size(att.size)}]",
                self._style("attachment"),
            )
            strips.append(token)
        if msg.error and msg.state in ("failed", "unknown", "queued"):
            reason = Text(safe_text(msg.error, single_line=True, max_len=400), style=self._style("failed"))
            strips.extend(reason.wrap(console, max(4, width - 2)))
        out: list[Strip] = []
        for n, line in enumerate(strips):
            prefix = Text("" if n == 0 and not grouped else "  ")
            prefix.append_text(line)
            prefix.truncate(width, overflow="ellipsis")
            out.append(Strip(list(prefix.render(console)), prefix.cell_len))
        return out

    def on_resize(self) -> None:
        at_bottom = self.scroll_offset.y >= self.max_scroll_y - 1
        self._relayout()
        if at_bottom:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._blocks.clear()
        if self.is_mounted:
            self._relayout()

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        line = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        if line >= len(self._lines):
            return Strip.blank(width, base)
        index, strip = self._lines[line]
        strip = strip.adjust_cell_length(max(0, width - GUTTER)).apply_style(base)
        if index >= 0 and index == self.selected:
            # The selected message (what R, e, C, d, v, y act on): a bar in the gutter and
            # its colours over every segment (reverse video without colours).
            name = "conversation--selected" if self.has_focus else "conversation--selected-blurred"
            style = cursor_style(self, name, focused=self.has_focus)
            gutter = Segment("▌", base + self.get_component_rich_style("conversation--gutter"))
            return Strip([gutter, *over(strip, style)], width).apply_offsets(0, line)
        return Strip([Segment(" ", base), *strip], width).apply_offsets(0, line)

    def rendered_text(self) -> str:
        return "\n".join(strip.text for _i, strip in self._lines)

    # ------------------------------------------------------------------ keys

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0 and self.has_more and not self.loading_older and self.messages:
            self.loading_older = True
            self.post_message(NeedOlder())

    def watch_selected(self) -> None:
        self.refresh()
        msg = self.selected
        if msg is None or msg >= len(self._first_line):
            return
        top = self._first_line[msg]
        bottom = self._first_line[msg + 1] if msg + 1 < len(self._first_line) else len(self._lines)
        y, height = int(self.scroll_offset.y), max(1, self.size.height)
        if top < y:
            self.scroll_to(y=top, animate=False)
        elif bottom > y + height:
            self.scroll_to(y=min(top, bottom - height), animate=False)

    def action_select(self, delta: int) -> None:
        if not self.messages:
            return
        if self.selected is None:
            self.selected = len(self.messages) - 1
        else:
            self.selected = max(0, min(len(self.messages) - 1, self.selected + delta))
        if self.selected == 0 and delta < 0:
            self.scroll_home(animate=False)

    def action_select_first(self) -> None:
        if self.messages:
            self.selected = 0
            self.scroll_home(animate=False)

    def action_select_last(self) -> None:
        if self.messages:
            self.selected = len(self.messages) - 1
            self.scroll_end(animate=False)

    def select_message(self, message_id: int) -> None:
        index = self.index_of(message_id)
        if index is not None:
            self.selected = index

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
