"""The services handle of the TUI: everything a screen needs, built once outside the App.

``Desk`` carries the store, the configuration, the clock, the secret store (opened on first
use, in a worker), the sync engine (if this window syncs), the data-directory paths and the
keymap, plus the two helpers every screen uses: ``say`` (plain words to the user, from any
thread) and ``attempt`` (run a blocking call in a worker; a failure becomes a notice, never a
traceback). The CLI and the demo build it and hand it to :class:`chatdesk.app.ChatdeskApp`;
screens reach it through :class:`chatdesk.screens.base.DeskScreen`, never by importing the app.

This module imports no Textual: the App connects its sinks (``connect``) when it starts, so
what a worker says before then is logged, not lost silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from chatdesk.errors import ChatdeskError
from chatdesk.sanitize import safe_text
from chatdesk.store.db import utcnow

if TYPE_CHECKING:
    from chatdesk.config import Config
    from chatdesk.secrets import SecretStore
    from chatdesk.store.db import Database
    from chatdesk.sync import SyncEngine

T = TypeVar("T")
log = logging.getLogger("chatdesk.tui")


def error_words(exc: BaseException) -> str:
    """What to tell the user about ``exc``: its own words (chatdesk errors are worded at the
    source), or "something went wrong" when it has none."""
    return str(exc).strip() or "something went wrong"


@dataclass
class Desk:
    """The TUI's services. ``clock`` returns an aware UTC datetime; ``client_factory`` (if set)
    builds the HTTP client one-off actions use, so the demo's in-process sandbox answers them."""

    db: Database
    config: Config
    engine: SyncEngine | None = None
    secrets: SecretStore | None = None
    home: Path | None = None
    clock: Callable[[], datetime] = utcnow
    client_factory: Any = None
    keymap: dict[str, str] = field(default_factory=dict)
    # account id -> the engine's last error words for it, until it syncs again (UI thread only)
    recent_errors: dict[int, str] = field(default_factory=dict)
    # account id -> why this process leaves it alone while nobody polls it (team mode, no key here)
    sync_notes: dict[int, str] = field(default_factory=dict)
    unknown_keys: list[str] = field(default_factory=list)
    _say: Callable[[str, str], None] | None = field(default=None, repr=False)
    _changed: Callable[[frozenset[int] | None], None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from chatdesk import keymap as keys  # Textual's Binding: only when a TUI is built

        self.keymap, self.unknown_keys = keys.validate(dict(self.config.keymap))
        if self.client_factory is None and self.engine is not None:
            factory = getattr(self.engine, "client_factory", None)
            from chatdesk.sync import default_client

            if factory is not None and factory is not default_client:
                self.client_factory = factory

    # ------------------------------------------------------------------ wiring

    def connect(self, say: Callable[[str, str], None], changed: Callable[[frozenset[int] | None], None]) -> None:
        """Called by the App: where notices and "the store changed" go. Both must be thread-safe."""
        self._say = say
        self._changed = changed

    @property
    def config_path(self) -> Path:
        from chatdesk.paths import config_file

        return config_file(self.home)

    @property
    def downloads_dir(self) -> Path:
        from chatdesk.paths import downloads_dir

        return downloads_dir(self.home)

    @property
    def ui_state_path(self) -> Path:
        """Small TUI preferences (the chosen theme): ``<data dir>/tui-state.json``."""
        from chatdesk.paths import data_dir

        return data_dir(self.home) / "tui-state.json"

    def load_theme(self) -> str | None:
        """The theme chosen last time, or ``None``. Read before the App runs (never on its loop);
        a missing or broken file is no theme."""
        import json

        try:
            value = json.loads(self.ui_state_path.read_text(encoding="utf-8")).get("theme")
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) and 0 < len(value) <= 64 else None

    def save_theme(self, theme: str) -> None:
        """Remember ``theme`` (call from a worker). Failures are logged, never raised."""
        import json

        path = self.ui_state_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"theme": theme}), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            log.warning("cannot remember the theme: %s", exc)

    # ------------------------------------------------------------------ helpers

    def say(self, text: str, *, severity: str = "information") -> None:
        """Tell the user something in plain words; safe from any thread."""
        if self._say is None:
            log.info("%s: %s", severity, text)
            return
        self._say(text, severity)

    def changed(self, chat_ids: frozenset[int] | None = None) -> None:
        """Announce that the store changed (``None``: anything may have); safe from any thread."""
        if self._changed is not None:
            self._changed(chat_ids)

    def attempt(self, fn: Callable[[], T]) -> tuple[bool, T | None]:
        """Run ``fn`` (in a worker); a failure becomes a notice in plain words, never a traceback."""
        try:
            return True, fn()
        except ChatdeskError as exc:
            self.say(error_words(exc), severity="error")
        except Exception as exc:  # shown in plain words, logged for debugging
            log.error("unexpected: %r", exc)
            self.say(error_words(exc), severity="error")
        return False, None

    def require_secrets(self) -> SecretStore:
        """The secret store, opened on first use (only ever called from a worker)."""
        if self.secrets is None:
            from chatdesk.secrets import KeyringSecrets

            self.secrets = KeyringSecrets(self.home, interactive=False)  # never getpass from a worker
        return self.secrets

    def actions_kwargs(self) -> dict[str, Any]:
        """Extra arguments for ``chatdesk.usecases.accounts`` calls (the demo's in-process transport)."""
        return {"client_factory": self.client_factory} if self.client_factory is not None else {}

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

    def followups_now(self) -> None:
        if self.engine is not None:
            self.engine.followups_now()
