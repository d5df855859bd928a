"""The chat list: a line-API ScrollView over paged store queries (toolong's pattern).

Only the pages on screen are ever read (``PAGE`` chats per query, in a thread worker) and only
the rows on screen are ever rendered (an LRU of strips), so 10,000 chats cost what 50 do.
Each chat is two lines: badge, name, unread count, time / waiting indicator, preview.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
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
from chatdesk.marketplaces import MARKETPLACES
from chatdesk.messages import ChatCountLoaded, ChatFollowLost, ChatHighlighted, ChatOpened, ChatPageLoaded
from chatdesk.sanitize import safe_text
from chatdesk.store.views import ChatFilter, ChatRow
from chatdesk.usecases.titles import chat_title, is_resolved, waited
from chatdesk.widgets.assist_marks import short_left, topic_tag, window_left
from chatdesk.widgets.cursor import component_style, cursor_style, few_colours, over, readable_on

PAGE = 100
ROW_HEIGHT = 2
WAITED_MARK = "◷"  # before the time the buyer has waited (the SLA colours)
WINDOW_MARK = "⇥"  # before the time left in the marketplace's reply window (a shaded box)
BADGES = {m.id: m.badge for m in MARKETPLACES.values()}  # a view of chatdesk.marketplaces

Fetch = Callable[[ChatFilter, int, int], list[ChatRow]]
Count = Callable[[ChatFilter], int]
__all__ = ["BADGES", "ChatList", "relative_time"]


def relative_time(at: datetime | None, now: datetime) -> str:
    if at is None:
        return ""
    delta = now - at
    if delta < timedelta(minutes=1):
        return "now"
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)}m"
    if delta < timedelta(days=1):
        return f"{int(delta.total_seconds() // 3600)}h"
    if delta < timedelta(days=7):
        return f"{delta.days}d"
    return at.strftime("%d.%m")


class ChatList(ScrollView, can_focus=True):
    """Chats of the current filter; the cursor is an index into the filtered ordering."""

    BINDINGS: ClassVar = bindings("list")
    COMPONENT_CLASSES: ClassVar = {
        "chat-list--cursor",
        "chat-list--cursor-blurred",
        "chat-list--wildberries",
        "chat-list--ozon",
        "chat-list--yandex",
        "chat-list--unread",
        "chat-list--muted",
        "chat-list--ok",
        "chat-list--warn",
        "chat-list--late",
        "chat-list--followup",
        "chat-list--topic",
        "chat-list--window",
        "chat-list--window-late",
    }
    DEFAULT_CSS = """
    ChatList { background: $surface; overflow-x: hidden; }
    ChatList > .chat-list--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    ChatList > .chat-list--cursor-blurred { background: $block-cursor-blurred-background; }
    ChatList > .chat-list--wildberries { background: #a0128a; color: #ffffff; text-style: bold; }
    ChatList > .chat-list--ozon { background: #005bff; color: #ffffff; text-style: bold; }
    ChatList > .chat-list--yandex { background: #ffcc00; color: #000000; text-style: bold; }
    ChatList > .chat-list--unread { color: $text-accent; text-style: bold; }
    ChatList > .chat-list--muted { color: $text-muted; }
    ChatList > .chat-list--ok { color: $text-success; }
    ChatList > .chat-list--warn { color: $text-warning; text-style: bold; }
    ChatList > .chat-list--late { color: $text-error; text-style: bold; }
    ChatList > .chat-list--followup { color: $text-secondary; }
    ChatList > .chat-list--topic { color: $text-primary; text-style: italic; }
    ChatList > .chat-list--window { color: $text; background: $warning-muted; }
    ChatList > .chat-list--window-late { color: $text; background: $error-muted; text-style: bold; }
    """

    cursor: reactive[int] = reactive(0, init=False)

    def __init__(
        self,
        fetch: Fetch,
        count: Count,
        *,
        clock: Callable[[], datetime],
        sla: tuple[int, int] = (30, 120),
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._fetch = fetch
        self._count = count
        self._clock = clock
        self._sla = sla
        self.filter = ChatFilter()
        self.total = 0
        self.generation = 0
        self._pages: dict[int, list[ChatRow]] = {}
        self._pending: set[int] = set()
        self._strips: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._follow_id: int | None = None  # keep the cursor on this chat across reloads
        # Why the cursor row is announced next: "user" (a key moved it), "filter" (the user
        # changed the filter) or "reload" (data changed; the screen must not retarget on it).
        self._reason = "reload"
        self._now = clock()
        # The open chat is not under the cursor (a filter hid it, or a jump is being located):
        # then no row is highlighted, so the cursor never sits on one chat pretending to be another.
        self.detached = False

    # ------------------------------------------------------------------ data

    def set_filter(self, flt: ChatFilter) -> None:
        self.filter = flt
        self._pages.clear()
        self._follow_id = None
        self._reason = "filter"
        self.reload(reset_cursor=True)

    def reload(self, *, reset_cursor: bool = False) -> None:
        """Re-read the count and the pages on screen; old rows stay visible until then."""
        self.generation += 1
        self._pending.clear()
        self._now = self._clock()
        if reset_cursor:
            self.cursor = 0
            self.scroll_to(y=0, animate=False)
        gen, flt = self.generation, self.filter
        self.run_worker(
            lambda: self.post_message(ChatCountLoaded(gen, self._count(flt))),
            thread=True,
            group="chat-count",
            exclusive=True,
            exit_on_error=False,
        )
        for page in self._visible_pages():
            self._request(page)

    def _visible_pages(self) -> set[int]:
        top = int(self.scroll_offset.y) // ROW_HEIGHT
        bottom = top + max(1, self.size.height // ROW_HEIGHT + 1)
        first, last = max(0, top - 10) // PAGE, (bottom + 10) // PAGE
        return set(range(first, last + 1)) | {self.cursor // PAGE}

    def _request(self, page: int) -> None:
        if page in self._pending:
            return
        self._pending.add(page)
        gen, flt = self.generation, self.filter

        def load() -> None:
            self.post_message(ChatPageLoaded(gen, page, self._fetch(flt, page * PAGE, PAGE)))

        self.run_worker(load, thread=True, group=f"chat-page-{page}", exit_on_error=False)

    def on_chat_count_loaded(self, message: ChatCountLoaded) -> None:
        if message.generation != self.generation:
            return
        self.total = message.count
        self.virtual_size = Size(self._virtual_width(), self.total * ROW_HEIGHT)
        if self.cursor >= self.total:
            self.cursor = max(0, self.total - 1)
        self.refresh()
        self._announce()

    def on_chat_page_loaded(self, message: ChatPageLoaded) -> None:
        message.stop()
        if message.generation != self.generation:
            return
        self._pending.discard(message.page)
        old = self._pages.get(message.page)
        self._pages[message.page] = message.rows
        if old != message.rows:
            self._strips.clear()
            self.refresh()
        if self._follow_id is not None and self.cursor // PAGE == message.page:
            for i, row in enumerate(message.rows):
                if row.id == self._follow_id and message.page * PAGE + i != self.cursor:
                    self.cursor = message.page * PAGE + i
                    return
            if not self.detached and all(row.id != self._follow_id for row in message.rows):
                # It left this page (re-sorted away, or the filter no longer matches it): the
                # cursor must not silently sit on another chat.
                self.post_message(ChatFollowLost(self._follow_id))
        self._announce()

    def row(self, index: int) -> ChatRow | None:
        page = self._pages.get(index // PAGE)
        if page is None or index % PAGE >= len(page):
            return None
        return page[index % PAGE]

    @property
    def current(self) -> ChatRow | None:
        return self.row(self.cursor)

    def loaded_rows(self) -> list[tuple[int, ChatRow]]:
        return [(p * PAGE + i, r) for p, rows in sorted(self._pages.items()) for i, r in enumerate(rows)]

    # ------------------------------------------------------------------ cursor

    def watch_cursor(self, old: int, new: int) -> None:
        self._refresh_row(old)
        self._refresh_row(new)
        self._scroll_to_cursor()
        if new // PAGE not in self._pages:
            self._request(new // PAGE)
        row = self.row(new)
        self._follow_id = row.id if row else None
        self._announce()

    def _announce(self) -> None:
        row = self.current
        if row is not None:
            self._follow_id = row.id
            self.post_message(ChatHighlighted(row, reason=self._reason))
            self._reason = "reload"

    def _scroll_to_cursor(self) -> None:
        top = self.cursor * ROW_HEIGHT
        y = int(self.scroll_offset.y)
        height = max(ROW_HEIGHT, self.size.height)
        if top < y:
            self.scroll_to(y=top, animate=False)
        elif top + ROW_HEIGHT > y + height:
            self.scroll_to(y=top + ROW_HEIGHT - height, animate=False)

    def _refresh_row(self, index: int) -> None:
        y = index * ROW_HEIGHT - int(self.scroll_offset.y)
        self.refresh_lines(y, ROW_HEIGHT)

    def detach(self) -> None:
        """Stop highlighting the cursor row: the open chat is elsewhere (or not in this view).
        The next key that moves the cursor, or ``select_chat``, shows it again."""
        if not self.detached:
            self.detached = True
            self._strips.clear()
            self.refresh()

    def _show_cursor(self) -> None:
        if self.detached:
            self.detached = False
            self._strips.clear()
            self.refresh()

    def move_to(self, index: int) -> None:
        """Move the cursor for the user (a key, next unread): the screen previews that chat."""
        if self.total:
            index = max(0, min(self.total - 1, index))
            if index != self.cursor:
                self._show_cursor()
                self._reason = "user"
                self.cursor = index
            elif self.detached:  # a key on the hidden cursor: show it and preview its chat
                self._show_cursor()
                self._reason = "user"
                self._announce()

    def select_chat(self, index: int, chat_id: int) -> None:
        """Put the cursor on ``chat_id`` at ``index`` (a search jump already showed it), and keep
        it there across reloads; announced as a reload, so nothing is retargeted by it."""
        if 0 <= index < max(self.total, index + 1):
            self._show_cursor()
            self._reason = "reload"
            self.cursor = index
        self._follow_id = chat_id  # after the move: its row's page may not be loaded yet

    def action_cursor(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, delta: int) -> None:
        self.move_to(self.cursor + delta * max(1, self.size.height // ROW_HEIGHT - 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(self.total - 1)

    def action_open(self) -> None:
        if self.detached:  # Enter on a hidden cursor shows it first: nothing opens unseen
            self.move_to(self.cursor)
            return
        row = self.current
        if row is not None:
            self.post_message(ChatOpened(row))

    def on_focus(self) -> None:
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        for page in self._visible_pages():
            if page not in self._pages:
                self._request(page)

    def on_resize(self) -> None:
        self._strips.clear()
        self.virtual_size = Size(self._virtual_width(), self.total * ROW_HEIGHT)

    # ------------------------------------------------------------------ rendering

    def _width(self) -> int:
        """Cells a row may use: the widget minus its vertical scrollbar's column."""
        return max(1, self.scrollable_content_region.width or self.size.width)

    def _virtual_width(self) -> int:
        """Never wider than the room left when the vertical scrollbar shows: no horizontal scroll."""
        return max(1, self.size.width - self.styles.scrollbar_size_vertical)

    def render_line(self, y: int) -> Strip:
        line = int(self.scroll_offset.y) + y
        index, part = divmod(line, ROW_HEIGHT)
        width = self._width()
        base = self.rich_style
        if index >= self.total:
            return Strip.blank(width, base)
        row = self.row(index)
        selected = index == self.cursor and not self.detached
        key = (index, part, width, selected, self.has_focus, row is None)
        strip = self._strips.get(key)
        if strip is None:
            if row is None:
                lead, body = Text(), Text("…" if part == 0 else "", style="dim")
            else:
                lead, body = self._line(row, part, width)
            console = self.app.console
            # The widget's style is the base of the whole line (padding included): the spans
            # of badges, SLA marks and previews sit on top of it, never under it.
            lead_text = Text(style=base)
            lead_text.append_text(lead)
            body_text = Text(style=base)
            body_text.append_text(body)
            body_text.truncate(max(0, width - lead_text.cell_len), overflow="ellipsis", pad=True)
            # The base goes under every segment too: Rich leaves a whitespace-only span unstyled.
            lead_segments = list(Segment.apply_style(lead_text.render(console), style=base))
            body_segments = list(Segment.apply_style(body_text.render(console), style=base))
            if selected:
                name = "chat-list--cursor" if self.has_focus else "chat-list--cursor-blurred"
                cursor = cursor_style(self, name, focused=self.has_focus)
                body_segments = over(body_segments, cursor)
                # The badge keeps its colours; the SLA mark keeps its colour on the cursor's
                # background. Without colours, reverse video (underline unfocused) marks the row.
                if few_colours(self) or cursor.bgcolor is None:
                    lead_segments = over(lead_segments, cursor)
                elif part == 1:
                    lead_segments = readable_on(lead_segments, cursor)
            strip = Strip([*lead_segments, *body_segments]).adjust_cell_length(width, base)
            self._strips[key] = strip
        return strip.apply_offsets(0, line)

    def _style(self, name: str) -> Style:
        return component_style(self, f"chat-list--{name}")

    def _line(self, row: ChatRow, part: int, width: int) -> tuple[Text, Text]:
        """(lead, body) of one of a chat's two lines: the lead is the badge or the SLA mark."""
        now = self._now
        if part == 0:
            badge = BADGES.get(row.marketplace, row.marketplace[:2].upper())
            lead = Text(badge, self._style(row.marketplace) if row.marketplace in BADGES else Style())
            right = Text()
            if row.has_draft:
                right.append("✎ ", self._style("followup"))
            if row.has_followup:
                right.append("⚑ ", self._style("followup"))
            if row.present:  # team mode: another operator is typing (✎) or looking (◉) here
                right.append("✎ " if any(st == "typing" for _, st in row.present) else "◉ ", self._style("unread"))
            if row.unread:
                right.append(f"{row.unread} ", self._style("unread"))
            right.append(relative_time(row.last_message_at, now), self._style("muted"))
            left = Text(" ")
            name_style = self._style("unread") if row.unread else Style()
            room = max(1, width - lead.cell_len - left.cell_len - right.cell_len - 1)
            name = Text(chat_title(row), style=name_style)
            name.truncate(room, overflow="ellipsis")
            left.append_text(name)
            pad = max(1, width - lead.cell_len - left.cell_len - right.cell_len)
            return lead, Text.assemble(left, " " * pad, right)
        lead = Text("   ")
        if is_resolved(row):
            lead = Text("✓r ", style=self._style("ok"))
        elif row.waiting and not row.closed:
            warn, late = self._sla
            minutes = (now - row.last_buyer_at).total_seconds() / 60 if row.last_buyer_at else 0
            level = "late" if minutes >= late else "warn" if minutes >= warn else "ok"
            lead = Text(f"{WAITED_MARK}{waited(row.last_buyer_at, now):>3}", self._style(level))
            lead.append(" ")
        elif row.closed:
            lead = Text("✓  ", style=self._style("muted"))
        body = Text()
        window = window_left(row, now)  # the marketplace's reply window (issue 14)
        if window is not None:
            # A boxed ⇥ (time left to reply), unlike the lead's plain ◷ (time waited) beside it.
            style = self._style("window-late" if window < timedelta(hours=6) else "window")
            body.append(f"{WINDOW_MARK}{short_left(window)}", style)
            body.append(" ")
        tag = topic_tag(row)
        if tag:
            body.append(f"{tag} ", self._style("topic"))
        body.append(safe_text(row.preview or "", single_line=True, max_len=300), self._style("muted"))
        return lead, body

    def rendered_text(self) -> str:
        """What the list shows, as plain text (tests and the no-ESC-bytes check)."""
        return "\n".join(self.render_line(y).text for y in range(self.size.height))
