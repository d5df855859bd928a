"""Every scheduled follow-up in one place: due time, chat, text, state — edit, cancel, send now.

Past follow-ups (sent, cancelled, expired, failed) stay listed as history with their reason.
Store calls run in thread workers; the list refreshes every few seconds while it is open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from chatdesk.desk import Desk

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.dom import DOMNode
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from chatdesk.connectors import LABELS
from chatdesk.keymap import bindings
from chatdesk.sanitize import safe_text
from chatdesk.screens.base import DeskScreen
from chatdesk.screens.dialogs import ConfirmDialog
from chatdesk.screens.schedule import open_schedule_dialog
from chatdesk.store import followups as store_followups
from chatdesk.store.followups import FollowUpRow
from chatdesk.timeparse import format_relative

STATE_STYLE = {
    "pending": "bold",
    "held": "bold yellow",
    "sending": "cyan",
    "sent": "green",
    "cancelled": "dim",
    "expired": "yellow",
    "failed": "red",
}


class FollowUpsLoaded(Message):
    def __init__(self, rows: list[FollowUpRow]) -> None:
        super().__init__()
        self.rows = rows


class FollowUpsScreen(DeskScreen[int | None]):
    """Dismisses with a chat id when the user asks to open that chat."""

    DEFAULT_CSS = """
    FollowUpsScreen DataTable { height: 1fr; }
    FollowUpsScreen #fu-title { height: 1; padding: 0 1; text-style: bold; }
    FollowUpsScreen #fu-detail { height: auto; max-height: 6; padding: 0 1; border-top: solid $panel; }
    """
    BINDINGS: ClassVar = bindings("followups")

    def __init__(self, desk: Desk | None = None) -> None:
        super().__init__(desk)
        self.rows: list[FollowUpRow] = []
        self.history = False

    def compose(self) -> ComposeResult:
        yield Static(id="fu-title")
        yield DataTable(id="fu-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="fu-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "due", "state", "chat", "text")
        self.reload()
        self.set_interval(5, self.reload)
        table.focus()

    def reload(self) -> None:
        self._load(self.history)

    @work(thread=True, exclusive=True, group="followups", exit_on_error=False)
    def _load(self, history: bool) -> None:
        desk = self.desk
        states = None if history else (*store_followups.OPEN_STATES, "sending")
        ok, rows = desk.attempt(lambda: store_followups.list_followups(desk.db, states=states))
        if ok and rows is not None:
            self.post_message(FollowUpsLoaded(rows))

    def on_follow_ups_loaded(self, message: FollowUpsLoaded) -> None:
        table = self.query_one(DataTable)
        keep = table.cursor_row
        self.rows = message.rows
        now = self.desk.clock()
        table.clear()
        for f in self.rows:
            when = f.due_at.astimezone(self.desk.config.tz).strftime("%d %b %H:%M")
            rel = format_relative(f.due_at, now) if f.state == "pending" else ""
            who = safe_text(f.customer or f.order_id or f"chat {f.chat_id}", single_line=True, max_len=24)
            table.add_row(
                Text(str(f.id)),
                Text(f"{when} {rel}".strip()),
                Text(f.state, style=STATE_STYLE.get(f.state, "")),
                Text(f"{LABELS.get(f.marketplace, f.marketplace)} {who}"),
                Text(safe_text(f.text, single_line=True, max_len=80)),
                key=str(f.id),
            )
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1))
        pending = sum(1 for f in self.rows if f.state == "pending")
        held = sum(1 for f in self.rows if f.state == "held")
        scope = "all, with history" if self.history else "scheduled"
        title = f"Follow-ups · {pending} pending" + (f" · {held} held for review" if held else "")
        self.query_one("#fu-title", Static).update(Text(f"{title} · showing {scope}"))
        self._show_detail()

    def _current(self) -> FollowUpRow | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _show_detail(self) -> None:
        f = self._current()
        detail = Text()
        if f is not None:
            detail.append(safe_text(f.text))
            if f.reason:
                detail.append(f"\n{f.state}: ", style="bold")
                detail.append(safe_text(f.reason, single_line=True))
            if f.rule:
                detail.append(f"\nscheduled by the resolve rule “{f.rule}”", style="dim")
        self.query_one("#fu-detail", Static).update(detail)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def palette_targets(self) -> dict[str, DOMNode]:
        return {"followups": self}

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_open_chat()  # the table takes Enter before the screen's binding sees it

    # -------------------------------------------------------------- actions
    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_open_chat(self) -> None:
        f = self._current()
        if f is not None:
            self.dismiss(f.chat_id)

    def action_toggle_history(self) -> None:
        self.history = not self.history
        self.reload()

    def _pending(self) -> FollowUpRow | None:
        f = self._current()
        if f is None or f.state not in store_followups.OPEN_STATES:
            self.notify("choose a pending or held follow-up", severity="warning", markup=False)
            return None
        return f

    def action_cancel_followup(self) -> None:
        f = self._pending()
        if f is None:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._store_call(lambda db: store_followups.cancel(db, f.id), f"follow-up {f.id} cancelled", False)

        self.app.push_screen(ConfirmDialog(f"Cancel follow-up {f.id}?", f.text, yes="cancel it"), done)

    def action_send_now(self) -> None:
        f = self._pending()
        if f is None:
            return
        if f.state == "held":
            self._send_held(f)
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._store_call(lambda db: store_followups.send_now(db, f.id), f"follow-up {f.id} is due now", True)

        body = Text(safe_text(f.text))
        body.append("\n\nIt goes to the buyer at once (within the sending window).", "dim")
        self.app.push_screen(ConfirmDialog(f"Send follow-up {f.id} now?", body, yes="send now", destructive=True), done)

    def _send_held(self, f: FollowUpRow) -> None:
        """Team mode: someone wrote since it was scheduled; only ``a`` sends it anyway."""
        from chatdesk.usecases import followups as followup_uc

        def done(yes: bool | None) -> None:
            if yes:
                self._store_call(
                    lambda db: followup_uc.send_anyway(db, f.id), f"follow-up {f.id} goes out anyway", True
                )

        body = Text(safe_text(f"held: {f.reason or 'the chat changed since it was scheduled'}", single_line=True))
        body.append("\n\n" + safe_text(f.text))
        body.append("\n\nOpen the chat (Enter on the list) to review what arrived.", "dim")
        dialog = ConfirmDialog(f"Send follow-up {f.id} anyway?", body, yes="send anyway", destructive=True, key="a")
        self.app.push_screen(dialog, done)

    def action_edit(self) -> None:
        f = self._pending()
        if f is None or f.state != "pending":
            if f is not None:
                self.notify("a held follow-up is sent anyway (S) or cancelled (c)", severity="warning", markup=False)
            return
        open_schedule_dialog(self, f.chat_id, followup=f, on_done=self.reload)

    @work(thread=True, group="followup-change", exit_on_error=False)
    def _store_call(self, fn: Any, done: str, deliver: bool) -> None:
        desk = self.desk
        ok, _ = desk.attempt(lambda: fn(desk.db))
        if ok:
            desk.say(done)
            if deliver:
                desk.followups_now()
        self.app.call_from_thread(self.reload)
