"""Accounts (``a``): list with sync status, add (token straight to the keyring), test, remove.

Every store, keyring and network call runs in a thread worker through ``chatdesk.usecases.accounts``;
the token typed into the password field is handed to ``accounts.add_account`` and dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Select, Static

from chatdesk import marketplaces
from chatdesk.connectors import LABELS, MARKETPLACES, REQUIRED_SETTINGS
from chatdesk.keymap import bindings
from chatdesk.sanitize import safe_text
from chatdesk.screens.base import DeskScreen
from chatdesk.screens.dialogs import DIALOG_CSS, ConfirmDialog
from chatdesk.store.accounts import AccountRow
from chatdesk.store.views import StreamStatus
from chatdesk.widgets.status_line import account_state, stream_states

if TYPE_CHECKING:
    from chatdesk.desk import Desk


class AccountsLoaded(Message):
    def __init__(self, accounts: list[AccountRow], streams: list[StreamStatus]) -> None:
        super().__init__()
        self.accounts = accounts
        self.streams = streams


SETTING_LABELS = {s.key: s.label for m in marketplaces.MARKETPLACES.values() for s in m.settings}  # a view


class AddAccountDialog(ModalScreen[dict[str, Any] | None]):
    """The add form. The token field is a password Input; its value goes to the keyring only."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="AddAccountDialog")
        + """
    AddAccountDialog Input, AddAccountDialog Select { margin-bottom: 0; }
    AddAccountDialog .hint { color: $text-muted; }
    """
    )
    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="add_cancel"),
        Binding("ctrl+s", "submit", "Add", id="add_submit"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Add a marketplace account"), classes="dialog-title")
            yield Select(
                [(LABELS[m], m) for m in MARKETPLACES], value="wildberries", allow_blank=False, id="add-marketplace"
            )
            yield Input(placeholder="account name (letters, digits, - _ .)", id="add-name")
            yield Input(placeholder="API token (saved in the keyring, never shown)", password=True, id="add-secret")
            yield Input(placeholder="Ozon Client-Id / Yandex business id", id="add-setting")
            yield Input(placeholder="base URL (optional, for the sandbox)", id="add-base-url")
            yield Static(
                Text("Tab moves between fields · Enter on the last field or ctrl+s adds · Esc cancels"), classes="hint"
            )

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "add-base-url":
            self.action_submit()
        else:
            self.focus_next()

    def action_submit(self) -> None:
        marketplace = cast(str, self.query_one("#add-marketplace", Select).value)
        setting = self.query_one("#add-setting", Input).value.strip()
        settings = {key: setting for key in REQUIRED_SETTINGS.get(marketplace, ())} if setting else {}
        self.dismiss(
            {
                "marketplace": marketplace,
                "name": self.query_one("#add-name", Input).value.strip(),
                "secret": self.query_one("#add-secret", Input).value,
                "settings": settings,
                "base_url": self.query_one("#add-base-url", Input).value.strip() or None,
            }
        )

    def action_cancel(self) -> None:
        self.dismiss(None)


class AccountsScreen(DeskScreen[None]):
    BINDINGS: ClassVar = bindings("accounts")
    DEFAULT_CSS = """
    AccountsScreen DataTable { height: 1fr; }
    AccountsScreen #accounts-detail { height: auto; max-height: 8; padding: 0 1; border-top: solid $panel; }
    AccountsScreen #accounts-title { height: 1; padding: 0 1; background: $boost; text-style: bold; }
    """

    def __init__(self, desk: Desk | None = None) -> None:
        super().__init__(desk)
        self.accounts: list[AccountRow] = []
        self.streams: list[StreamStatus] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("Accounts"), id="accounts-title")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True, id="accounts-table")
        table.add_columns("Account", "Marketplace", "Sync", "Last success", "Polling")
        yield table
        yield Static(id="accounts-detail")
        yield Footer()

    REFRESH_INTERVAL: ClassVar[float] = 2.0  # seconds: "next 8s" and errors stay current

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(self.REFRESH_INTERVAL, self.reload)
        self.query_one(DataTable).focus()

    def reload(self) -> None:
        self._load()

    def palette_targets(self) -> dict[str, DOMNode]:
        return {"accounts": self}

    def store_changed(self, chat_ids: frozenset[int] | None) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="accounts-load", exit_on_error=False)
    def _load(self) -> None:
        from chatdesk.store import accounts, views

        db = self.desk.db
        self.post_message(AccountsLoaded(accounts.list_accounts(db), views.sync_status(db)))

    def on_accounts_loaded(self, message: AccountsLoaded) -> None:
        now = self.desk.clock()
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        self.accounts = message.accounts
        for acc in message.accounts:
            streams = [s for s in message.streams if s.account_id == acc.id]
            words, level = account_state(
                streams, now, self.desk.recent_errors.get(acc.id), self.desk.sync_notes.get(acc.id)
            )
            last = max((s.last_success_at for s in streams if s.last_success_at), default=None)
            table.add_row(
                Text(safe_text(acc.name, single_line=True)),
                Text(LABELS.get(acc.marketplace, acc.marketplace)),
                # The table stays within the screen; the whole reason is in the panel below.
                Text(words if len(words) <= 44 else words[:43] + "…", style="bold red" if level == "error" else ""),
                Text(_when(last, self.desk)),
                Text(self.desk.poller_words(acc.id, streams)),
            )
        if not message.accounts:
            table.add_row(Text("no accounts: press a to add one"), Text(""), Text(""), Text(""), Text(""))
        self.streams = message.streams
        if message.accounts:
            table.move_cursor(row=min(cursor, len(message.accounts) - 1))
        self._show_detail()

    def _show_detail(self) -> None:
        """Each stream of the selected account: its state and, when it is not ok, why."""
        acc = self._selected()
        detail = Text()
        if acc is not None:
            detail.append(f"{safe_text(acc.name, single_line=True)} ", "bold")
            detail.append(LABELS.get(acc.marketplace, acc.marketplace), "dim")
            streams = [s for s in self.streams if s.account_id == acc.id]
            for line in stream_states(streams, self.desk.clock()):
                detail.append(f"\n  {line}")
            words, level = account_state(
                streams, self.desk.clock(), self.desk.recent_errors.get(acc.id), self.desk.sync_notes.get(acc.id)
            )
            if level in ("error", "warn"):
                detail.append(f"\n  {words}", "red" if level == "error" else "yellow")
            recent = self.desk.recent_errors.get(acc.id)
            if recent:
                detail.append(f"\n  last error: {safe_text(recent, single_line=True, max_len=200)}", "red")
        self.query_one("#accounts-detail", Static).update(detail)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def action_cursor(self, delta: int) -> None:
        table = self.query_one(DataTable)
        if self.accounts:
            table.move_cursor(row=max(0, min(len(self.accounts) - 1, table.cursor_row + delta)))

    def action_first(self) -> None:
        self.query_one(DataTable).move_cursor(row=0)

    def action_last(self) -> None:
        if self.accounts:
            self.query_one(DataTable).move_cursor(row=len(self.accounts) - 1)

    def _selected(self) -> AccountRow | None:
        if not self.accounts:
            return None
        return self.accounts[min(self.query_one(DataTable).cursor_row, len(self.accounts) - 1)]

    # ------------------------------------------------------------------ actions

    def action_add(self) -> None:
        def done(values: dict[str, Any] | None) -> None:
            if values:
                self._add(values)

        self.app.push_screen(AddAccountDialog(), done)

    @work(thread=True, group="accounts-write", exit_on_error=False)
    def _add(self, values: dict[str, Any]) -> None:
        from chatdesk.usecases import accounts

        desk = self.desk
        ok, row = desk.attempt(
            lambda: accounts.add_account(
                desk.db,
                desk.require_secrets(),
                values["marketplace"],
                values["name"],
                values["secret"],
                base_url=values["base_url"],
                settings=values["settings"],
            )
        )
        if ok:
            desk.say(f"account {row.name} added; the token is in the keyring")
            desk.sync_now(row.id)
        self.app.call_from_thread(self.reload)

    def action_test(self) -> None:
        acc = self._selected()
        if acc is not None:
            self.desk.say(f"testing {acc.name}…")
            self._test(acc.name)

    @work(thread=True, group="accounts-test", exit_on_error=False)
    def _test(self, name: str) -> None:
        from chatdesk.usecases import accounts

        desk = self.desk
        ok, result = desk.attempt(
            lambda: accounts.test_account(desk.db, desk.require_secrets(), name, **desk.actions_kwargs())
        )
        if ok:
            desk.say(f"{name}: {result}")

    def action_remove(self) -> None:
        acc = self._selected()
        if acc is None:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._remove(acc.name)

        body = (
            "Its synced chats, drafts and queued messages are deleted from this computer and its token "
            "from the keyring. The marketplace keeps everything."
        )
        self.app.push_screen(
            ConfirmDialog(f"Remove account {acc.name}?", body, yes="remove it", destructive=True), done
        )

    @work(thread=True, group="accounts-write", exit_on_error=False)
    def _remove(self, name: str) -> None:
        from chatdesk.usecases import accounts

        desk = self.desk
        ok, _ = desk.attempt(lambda: accounts.remove_account(desk.db, desk.require_secrets(), name))
        if ok:
            desk.say(f"account {name} removed")
        self.app.call_from_thread(self.reload)

    def action_sync(self) -> None:
        acc = self._selected()
        if acc is not None:
            self.desk.sync_now(acc.id)

    def action_close(self) -> None:
        self.dismiss(None)


def _when(at: datetime | None, desk: Desk) -> str:
    if at is None:
        return "never"
    return at.astimezone(desk.config.tz).strftime("%d.%m %H:%M")
