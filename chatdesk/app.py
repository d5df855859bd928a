"""The chatdesk Textual app: wiring between the store, the sync engine and the screens.

Configuration lives in ``config.toml`` in the chatdesk data directory (``CHATDESK_HOME``, or
``--home``, else the platform's user data dir such as ``~/.local/share/chatdesk``; the
``CHATDESK_CONFIG`` variable names another file). Its ``[keymap]`` table remaps any binding by
id (see ``chatdesk.keymap`` or press ``?``).

Liveness comes from two sources: the in-process :class:`~chatdesk.sync.SyncEngine`'s events
(delivered on its thread and carried over with the thread-safe ``post_message``), and the
store's change watch (:class:`~chatdesk.store.watch.ChangeWatch`: a daemon thread asleep on
PostgreSQL's LISTEN socket, or reading SQLite's ``data_version`` every 0.1 s), which notices
another process (``chatdesk sync``, another operator, a second window) writing the same store.
Nothing runs on the UI loop until something changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import App
from textual.signal import Signal
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerState

from chatdesk.desk import Desk, error_words
from chatdesk.messages import Notice, StoreChanged, SyncEventArrived, UnreadGrew
from chatdesk.sanitize import safe_text
from chatdesk.screens.base import KeymapCommands
from chatdesk.store.db import CHANGE_POLL_S
from chatdesk.store.watch import ChangeWatch

if TYPE_CHECKING:
    from chatdesk.config import Config
    from chatdesk.secrets import SecretStore
    from chatdesk.store.db import Database
    from chatdesk.sync import SyncEngine

# Seconds between two reads of a change marker that cannot be waited on (SQLite's data_version,
# PostgreSQL without LISTEN). PostgreSQL with LISTEN does not poll: the watch wakes at the commit.
# Was 1.5 s (and 0.25 s on PostgreSQL) on a UI-loop timer: SQLite's p95 change propagation to
# another client was 1.6 s (README, figure 11).
WATCH_INTERVAL = CHANGE_POLL_S
PG_WATCH_INTERVAL = CHANGE_POLL_S  # the fallback's pace; kept for callers of the old name
# The demo's startup hint: long enough to read, short enough not to sit on the composer hint
# and the status line (UX report 01: it stayed 10 s and more).
DEMO_HINT_SECONDS = 5


ChatdeskCommands = KeymapCommands  # the palette provider moved to chatdesk.screens.base


class ChatdeskApp(App[None]):
    """The inbox. It owns the notices, the liveness sources and the "store changed" signal;
    everything a screen needs comes from the :class:`~chatdesk.desk.Desk` it is handed."""

    CSS_PATH = "app.tcss"
    TITLE = "chatdesk"
    ENABLE_COMMAND_PALETTE = True
    WATCH_INTERVAL: ClassVar[float] = WATCH_INTERVAL  # seconds between data_version reads (SQLite)

    def __init__(
        self,
        db: Database | Desk | None = None,
        *,
        config: Config | None = None,
        engine: SyncEngine | None = None,
        secrets: SecretStore | None = None,
        home: Path | None = None,
        demo_hint: str | None = None,
        desk: Desk | None = None,
    ) -> None:
        super().__init__()
        if isinstance(db, Desk):
            desk = db
        if desk is None:
            if db is None or config is None:
                raise TypeError("ChatdeskApp needs a Desk (or a database and a config)")
            desk = Desk(db, config, engine=engine, secrets=secrets, home=home)
        self.desk = desk
        self.demo_hint = demo_hint
        # config ``cursor_blink = false``: text cursors stay still (also what snapshot tests use).
        self.cursor_blink = desk.config.cursor_blink
        self.store_changed_signal: Signal[frozenset[int] | None] = Signal(self, "store-changed")
        self._change_watch: ChangeWatch | None = None
        self._engine_rang = False  # the engine already announced the messages unread grew by
        self._synced_before: set[int] | None = None  # accounts whose history is already in the store
        self.set_keymap(desk.keymap)
        saved = desk.load_theme()  # before the event loop runs: a small file, read once
        if saved and saved in self.available_themes:
            self.theme = saved
        self._theme_loaded = True
        desk.connect(self._say_from_anywhere, self._changed_from_anywhere)
        if desk.engine is not None:
            desk.engine.add_listener(self._on_sync_event)

    def watch_theme(self, theme: str) -> None:
        """Remember the theme the user picks (palette: "Change theme"), off the UI loop."""
        if getattr(self, "_theme_loaded", False) and self.is_running:
            self.run_worker(lambda: self.desk.save_theme(theme), thread=True, group="theme", exit_on_error=False)

    # Read-only views of the desk, for callers that held the app (tests, scripts).
    @property
    def db(self) -> Database:
        return self.desk.db

    @property
    def config(self) -> Config:
        return self.desk.config

    @property
    def engine(self) -> SyncEngine | None:
        return self.desk.engine

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.desk.clock

    @clock.setter
    def clock(self, value: Callable[[], datetime]) -> None:
        self.desk.clock = value

    @property
    def keymap(self) -> dict[str, str]:
        return self.desk.keymap

    def on_mount(self) -> None:
        from chatdesk.screens.main import MainScreen

        self.push_screen(MainScreen(self.desk))
        if self.desk.unknown_keys:
            self.desk.say(
                f"config keymap: unknown binding ids {', '.join(self.desk.unknown_keys)} (press ? for the list)",
                severity="warning",
            )
        if self.demo_hint:
            self.notify(safe_text(self.demo_hint), markup=False, timeout=DEMO_HINT_SECONDS, title="demo")
        self._change_watch = ChangeWatch(self.db, self._changed_elsewhere, poll=self.WATCH_INTERVAL)
        self._change_watch.start()  # its first read (and PostgreSQL's LISTEN connect) happen off the loop
        # The rule tables compile ~100 ms of regexes on import; the composer needs them on the
        # first chat it shows, so load them now off the UI loop instead of then on it.
        self.run_worker(_import_rules, thread=True, group="warm-up", exit_on_error=False)
        self.call_after_refresh(self._unlock_then_start)

    # ------------------------------------------------------------------ keyring and engine start

    KEYRING_LOCKED = (
        "the file keyring is locked: set CHATDESK_KEYRING_PASSPHRASE or enter the passphrase when chatdesk asks"
    )

    def _unlock_then_start(self, error: str = "") -> None:
        """Ask the file keyring's passphrase once, in a dialog, before anything needs the keyring
        (never a terminal prompt from a worker); then start the engine, if any."""
        from chatdesk.secrets import KeyringSecrets

        if self.desk.secrets is None:
            self.desk.require_secrets()  # cheap: the backend opens on first use
        secrets = self.desk.secrets
        if isinstance(secrets, KeyringSecrets):
            secrets.interactive = False
            if secrets.needs_passphrase():
                from chatdesk.screens.dialogs import PassphraseDialog

                path = str((self.desk.home or Path(".")) / "keyring.cfg")
                self.push_screen(PassphraseDialog(path, error), self._passphrase_given)
                return
        self._start_engine_soon()

    def _passphrase_given(self, passphrase: str | None) -> None:
        if passphrase is None:
            self.exit(return_code=2, message=f"chatdesk: {self.KEYRING_LOCKED}")
            return

        def unlock() -> None:
            from chatdesk.errors import ChatdeskError

            secrets = self.desk.secrets
            try:
                secrets.unlock(passphrase)  # type: ignore[union-attr]
            except ChatdeskError as exc:
                self.call_from_thread(self._unlock_then_start, error_words(exc))
                return
            self.call_from_thread(self._start_engine_soon)

        self.run_worker(unlock, thread=True, group="unlock", exit_on_error=False)

    def _start_engine_soon(self) -> None:
        if self.desk.engine is not None:
            # Off the UI loop: the inbox shows what the store has at once, and polling
            # (scheduler import, first requests) starts behind it.
            self.run_worker(self._start_engine, thread=True, group="engine-start", exit_on_error=False)

    def _start_engine(self) -> None:
        """(worker) Learn which accounts synced before this run, then start polling: an
        account's first sync brings its history, which is not news."""
        from chatdesk.store import views

        ok, streams = self.desk.attempt(lambda: views.sync_status(self.desk.db))
        self._synced_before = {s.account_id for s in streams or [] if s.last_success_at} if ok else set()
        assert self.desk.engine is not None
        self.desk.engine.start()

    async def action_quit(self) -> None:
        """Quit (q, ctrl+q, the palette) only after every screen saved what it must (drafts)."""
        for screen in list(self.screen_stack):
            before_quit = getattr(screen, "before_quit", None)
            if before_quit is not None:
                await before_quit()
        self.exit()

    # ------------------------------------------------------------------ notices and changes

    def _say_from_anywhere(self, text: str, severity: str) -> None:
        self.post_message(Notice(text, severity=severity))

    def say(self, text: str, *, severity: str = "information") -> None:
        """Tell the user something in plain words; safe from any thread."""
        self.desk.say(text, severity=severity)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """``cursor_blink = false``: the focused text field's cursor stays still."""
        widget = event.widget
        if not self.cursor_blink and isinstance(widget, Input | TextArea):
            widget.cursor_blink = False

    def on_notice(self, message: Notice) -> None:
        self.notify(
            safe_text(message.text, max_len=600),
            markup=False,
            severity=message.severity,  # type: ignore[arg-type]
            title=safe_text(message.title, single_line=True, max_len=80),
            timeout=8 if message.severity == "error" else 4,
        )

    def _changed_from_anywhere(self, chat_ids: frozenset[int] | None) -> None:
        if self._thread_id == threading.get_ident():
            self.reload_views(chat_ids)
        elif self.is_running:
            self.call_from_thread(self.reload_views, chat_ids)

    def reload_views(self, chat_ids: frozenset[int] | None = None) -> None:
        """Announce that the store changed: every screen that subscribed reloads what it shows."""
        self.store_changed_signal.publish(chat_ids)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            exc = event.worker.error
            self.log.error(repr(exc))
            self.desk.say(error_words(exc), severity="error")

    # ------------------------------------------------------------------ liveness

    def _on_sync_event(self, event: Any) -> None:
        """Called on the engine's thread: only hand the event over."""
        if self.is_running:
            self.post_message(SyncEventArrived(event))

    def on_sync_event_arrived(self, message: SyncEventArrived) -> None:
        event = message.event
        if event.kind == "error" and event.message:
            self.desk.say(event.message, severity="error")
            if event.account_id is not None:
                self.desk.recent_errors[event.account_id] = event.message
        if event.kind == "synced" and event.account_id is not None:
            self.desk.recent_errors.pop(event.account_id, None)
        if event.kind == "keyless" and event.account_id is not None:
            if event.message:  # no key here and nobody polls it: one line in the status line, no toast
                self.desk.sync_notes[event.account_id] = event.message
            else:
                self.desk.sync_notes.pop(event.account_id, None)
        if event.kind == "synced" and event.new_buyer_messages:
            first_sync = self._synced_before is not None and event.account_id not in self._synced_before
            if first_sync:
                self._engine_rang = True  # the unread it adds is history, not news
            else:
                self._announce_news(event.new_buyer_messages, list(event.previews))
                self._engine_rang = True
        if event.kind == "synced" and event.account_id is not None and self._synced_before is not None:
            self._synced_before.add(event.account_id)
        self.reload_views(frozenset(event.chat_ids) or None)

    def _announce_news(self, count: int, previews: list[tuple[int, str]]) -> None:
        """Ring now; say who wrote and where once the chats are read (in a worker)."""
        if self.config.bell:
            self.bell()

        def load() -> None:
            from chatdesk.store import views

            ids = sorted({chat_id for chat_id, _text in previews})
            ok, chats = self.desk.attempt(lambda: views.list_chats_by_ids(self.desk.db, ids))
            by_id = {c.id: c for c in chats or []} if ok else {}
            lines = []
            for chat_id, text in previews[-3:]:
                chat = by_id.get(chat_id)
                lines.append((news_where(chat) if chat is not None else "", text))
            self.call_from_thread(self.new_buyer_messages, count, lines, ring=False)

        self.run_worker(load, thread=True, group="news", exit_on_error=False)

    def new_buyer_messages(self, count: int, previews: list[Any], *, ring: bool = True) -> None:
        """A toast and the notify command (and the bell, unless rung already): the operator may
        be in another window. ``previews``: texts, or (who and where, text) pairs, newest last."""
        last = previews[-1] if previews else ""
        where, words = last if isinstance(last, tuple) else ("", last)
        preview = safe_text(words, single_line=True, max_len=120)
        text = f"{count} new message{'s' if count != 1 else ''}"
        text += (f" — {where}" if where else "") + (f": {preview}" if preview else "")
        if ring and self.config.bell:
            self.bell()
        self.notify(text, markup=False, title="chatdesk")
        # notify_command is the buyer_message hook now (chatdesk.hooks): run per message, with
        # who wrote where, never for history, once across processes.

    def on_unread_grew(self, message: UnreadGrew) -> None:
        self.unread_grew(message.by)

    def unread_grew(self, by: int) -> None:
        """Unread rose without an engine event: another process synced the store."""
        if self._engine_rang:
            self._engine_rang = False
            return
        if self.engine is None:
            self.new_buyer_messages(by, [])

    def _changed_elsewhere(self) -> None:
        """(change-watch thread) Another connection committed: hand it to the UI loop."""
        if self.is_running:
            self.post_message(StoreChanged())

    def on_store_changed(self, _message: StoreChanged) -> None:
        self.reload_views()

    def on_unmount(self) -> None:
        if self._change_watch is not None:
            self._change_watch.stop()


def news_where(chat: Any) -> str:
    """Who wrote and where, for a notification: "Анна · WB wb-main" (sanitized)."""
    from chatdesk.usecases.titles import chat_title
    from chatdesk.widgets.chat_list import BADGES

    who = safe_text(chat_title(chat), single_line=True, max_len=40)
    account = safe_text(chat.account, single_line=True, max_len=24)
    return f"{who} · {BADGES.get(chat.marketplace, chat.marketplace)} {account}"


def _import_rules() -> None:
    import chatdesk.rules  # noqa: F401


def run_app(
    db: Database | None = None,
    *,
    config: Config | None = None,
    engine: SyncEngine | None = None,
    secrets: SecretStore | None = None,
    home: Path | None = None,
    demo_hint: str | None = None,
    desk: Desk | None = None,
) -> None:
    """Run the inbox on ``desk`` (or one built here from the other arguments, before the App);
    the App starts the engine, if any, after its first paint, and it is shut down however
    the app ends."""
    if desk is None:
        if db is None or config is None:
            raise TypeError("run_app needs a Desk (or a database and a config)")
        desk = Desk(db, config, engine=engine, secrets=secrets, home=home)
    app = ChatdeskApp(desk=desk, demo_hint=demo_hint)
    try:
        app.run()
    finally:
        if desk.engine is not None:
            desk.engine.shutdown()
