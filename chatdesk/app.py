"""The chatdesk Textual app: wiring between the store, the sync engine and the screens.

Configuration lives in ``config.toml`` in the chatdesk data directory (``CHATDESK_HOME``, or
``--home``, else the platform's user data dir such as ``~/.local/share/chatdesk``; the
``CHATDESK_CONFIG`` variable names another file). Its ``[keymap]`` table remaps any binding by
id (see ``chatdesk.keymap`` or press ``?``).

Liveness comes from two sources: the in-process :class:`~chatdesk.sync.SyncEngine`'s events
(delivered on its thread and carried over with the thread-safe ``post_message``), and a 1.5 s
watch of SQLite's ``data_version`` in a thread worker, which notices another process (``chatdesk
sync``, a second window) writing the same store.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.worker import Worker, WorkerState

from chatdesk import keymap as keys
from chatdesk.errors import ChatdeskError
from chatdesk.messages import DataChanged, Notice, SyncEventArrived
from chatdesk.sanitize import safe_text
from chatdesk.store.db import utcnow

if TYPE_CHECKING:
    from chatdesk.config import Config
    from chatdesk.secrets import SecretStore
    from chatdesk.store.db import Database
    from chatdesk.sync import SyncEngine

T = TypeVar("T")
WATCH_INTERVAL = 1.5


class ChatdeskCommands(Provider):
    """The command palette offers every action of the current screen, by its help words."""

    def _entries(self) -> list[tuple[str, str, Callable[[], Any]]]:
        from chatdesk.screens.accounts import AccountsScreen
        from chatdesk.screens.main import MainScreen

        screen = self.screen
        entries: list[tuple[str, str, Callable[[], Any]]] = []
        km = getattr(self.app, "keymap", {})
        if isinstance(screen, MainScreen):
            targets = {
                "main": screen,
                "list": screen.chat_list,
                "conversation": screen.conversation,
                "composer": screen.composer.input,
            }
        elif isinstance(screen, AccountsScreen):
            targets = {"accounts": screen}
        else:
            return entries
        for key in keys.KEYS:
            target = targets.get(key.scope)
            if target is None:
                continue
            help_text = f"{keys.SCOPES[key.scope]} · {keys.keys_in_effect(key, km)}"
            entries.append((key.description, help_text, partial(target.run_action, key.action)))
        return entries

    async def discover(self) -> Hits:
        for text, help_text, callback in self._entries():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, callback in self._entries():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)


class ChatdeskApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "chatdesk"
    COMMANDS: ClassVar = App.COMMANDS | {ChatdeskCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        db: Database,
        *,
        config: Config,
        engine: SyncEngine | None = None,
        secrets: SecretStore | None = None,
        home: Path | None = None,
        demo_hint: str | None = None,
    ) -> None:
        super().__init__()
        self.db = db
        self.config = config
        self.engine = engine
        self.secrets = secrets
        self.home = home
        self.demo_hint = demo_hint
        self.clock: Callable[[], datetime] = utcnow
        self._data_version: int | None = None
        self._engine_rang = False  # the engine already announced the messages unread grew by
        self.keymap, self._unknown_keys = keys.validate(dict(config.keymap))
        self.set_keymap(self.keymap)
        if engine is not None:
            engine.add_listener(self._on_sync_event)

    @property
    def config_path(self) -> Path:
        from chatdesk.paths import config_file

        return config_file(self.home)

    @property
    def downloads_dir(self) -> Path:
        from chatdesk.paths import downloads_dir

        return downloads_dir(self.home)

    def on_mount(self) -> None:
        from chatdesk.screens.main import MainScreen

        self.push_screen(MainScreen())
        if self._unknown_keys:
            self.say(
                f"config keymap: unknown binding ids {', '.join(self._unknown_keys)} (press ? for the list)",
                severity="warning",
            )
        if self.demo_hint:
            self.notify(safe_text(self.demo_hint), markup=False, timeout=10, title="demo")
        self.set_interval(WATCH_INTERVAL, self._watch_store)
        # The rule tables compile ~100 ms of regexes on import; the composer needs them on the
        # first chat it shows, so load them now off the UI loop instead of then on it.
        self.run_worker(_import_rules, thread=True, group="warm-up", exit_on_error=False)
        if self.engine is not None:
            # After the first paint and off the UI loop: the inbox shows what the store has at
            # once, and polling (scheduler import, first requests) starts behind it.
            self.call_after_refresh(
                self.run_worker, self.engine.start, thread=True, group="engine-start", exit_on_error=False
            )

    async def action_quit(self) -> None:
        """Quit (q, ctrl+q, the palette) only after the pending draft is on disk."""
        from chatdesk.screens.main import MainScreen

        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                worker = screen.flush_draft()
                if worker is not None:
                    await worker.wait()
        self.exit()

    # ------------------------------------------------------------------ helpers for screens and workers

    def say(self, text: str, *, severity: str = "information") -> None:
        """Tell the user something in plain words; safe from any thread."""
        self.post_message(Notice(text, severity=severity))

    def on_notice(self, message: Notice) -> None:
        self.notify(
            safe_text(message.text, max_len=600),
            markup=False,
            severity=message.severity,  # type: ignore[arg-type]
            timeout=8 if message.severity == "error" else 4,
        )

    def attempt(self, fn: Callable[[], T]) -> tuple[bool, T | None]:
        """Run ``fn`` (in a worker); a failure becomes a notification, never a traceback."""
        try:
            return True, fn()
        except ChatdeskError as exc:
            self.say(str(exc), severity="error")
        except Exception as exc:  # shown in plain words, logged for debugging
            self.log.error(repr(exc))
            self.say(f"unexpected error: {type(exc).__name__}: {exc}", severity="error")
        return False, None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            exc = event.worker.error
            self.log.error(repr(exc))
            words = str(exc) if isinstance(exc, ChatdeskError) else f"{type(exc).__name__}: {exc}"
            self.say(words, severity="error")

    def require_secrets(self) -> SecretStore:
        """The secret store, opened on first use (only ever called from a worker)."""
        if self.secrets is None:
            from chatdesk.secrets import KeyringSecrets

            self.secrets = KeyringSecrets(self.home)
        return self.secrets

    def is_polling(self, account_id: int) -> bool:
        return bool(self.engine is not None and self.engine.is_polling(account_id))

    def poller_words(self, account_id: int, streams: list[Any]) -> str:
        if self.is_polling(account_id):
            return "this window"
        owner = next((s.poller for s in streams if s.poller), None)
        return f"another process ({safe_text(owner, single_line=True, max_len=30)})" if owner else "nobody"

    def sync_now(self, account_id: int | None) -> None:
        if self.engine is None:
            self.say("sync is not running in this window; run `chatdesk sync` or restart chatdesk", severity="warning")
            return
        self.engine.sync_now(account_id)
        self.say("syncing…")

    def deliver_now(self) -> None:
        if self.engine is not None:
            self.attempt(self.engine.deliver_now)

    # ------------------------------------------------------------------ liveness

    def _on_sync_event(self, event: Any) -> None:
        """Called on the engine's thread: only hand the event over."""
        if self.is_running:
            self.post_message(SyncEventArrived(event))

    def on_sync_event_arrived(self, message: SyncEventArrived) -> None:
        event = message.event
        if event.kind == "error" and event.message:
            self.say(event.message, severity="error")
        if event.kind == "synced" and event.new_buyer_messages:
            self.new_buyer_messages(event.new_buyer_messages, [text for _chat, text in event.previews])
            self._engine_rang = True
        self.reload_views(frozenset(event.chat_ids) or None)

    def reload_views(self, chat_ids: frozenset[int] | None = None) -> None:
        from chatdesk.screens.main import MainScreen

        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.post_message(DataChanged(chat_ids))

    def new_buyer_messages(self, count: int, previews: list[str]) -> None:
        """Bell, a toast and the notify command: the operator may be in another window."""
        preview = safe_text(previews[-1] if previews else "", single_line=True, max_len=120)
        text = f"{count} new message{'s' if count != 1 else ''}" + (f": {preview}" if preview else "")
        if self.config.bell:
            self.bell()
        self.notify(text, markup=False, title="chatdesk")
        if self.config.notify_command:
            self._run_notify_command(text)

    def unread_grew(self, by: int) -> None:
        """Unread rose without an engine event: another process synced the store."""
        if self._engine_rang:
            self._engine_rang = False
            return
        if self.engine is None:
            self.new_buyer_messages(by, [])

    def _run_notify_command(self, text: str) -> None:
        argv = [*self.config.notify_command, safe_text(text, single_line=True, max_len=300)]

        def run() -> None:
            try:
                subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=10,
                    check=False,
                )
            except (OSError, subprocess.SubprocessError) as exc:
                self.say(f"notify_command failed: {exc}", severity="warning")

        self.run_worker(run, thread=True, group="notify", exit_on_error=False)

    def _watch_store(self) -> None:
        self.run_worker(self._check_version, thread=True, exclusive=True, group="watch", exit_on_error=False)

    def _check_version(self) -> None:
        version = self.db.data_version()
        if version is None:
            return
        if self._data_version is not None and version != self._data_version:
            self.call_from_thread(self.reload_views)
        self._data_version = version


def _import_rules() -> None:
    import chatdesk.rules  # noqa: F401


def run_app(
    db: Database,
    *,
    config: Config,
    engine: SyncEngine | None = None,
    secrets: SecretStore | None = None,
    home: Path | None = None,
    demo_hint: str | None = None,
) -> None:
    """Run the inbox (it starts the engine, if any, after its first paint) and shut the
    engine down however the app ends."""
    app = ChatdeskApp(db, config=config, engine=engine, secrets=secrets, home=home, demo_hint=demo_hint)
    try:
        app.run()
    finally:
        if engine is not None:
            engine.shutdown()
