"""What the engine's parts share: events for listeners, per-account results and runtimes,
the default HTTP client, back-off arithmetic and secret-safe logging."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

from chatdesk.connectors.base import (
    Connector,
    KnownChat,
    OutgoingFile,
    redact,
)
from chatdesk.store.accounts import AccountRow

log = logging.getLogger("chatdesk.sync")
MAX_BACKOFF = timedelta(minutes=30)

ClientFactory = Callable[[AccountRow], httpx.AsyncClient]


@dataclass(frozen=True)
class SyncEvent:
    """What happened, for listeners (the TUI). Delivered from the engine's thread."""

    kind: str  # synced | error | outbox | followup | lease (this engine began polling the account) | keyless
    account_id: int | None = None
    new_buyer_messages: int = 0
    chat_ids: frozenset[int] = frozenset()
    previews: tuple[tuple[int, str], ...] = ()
    message: str | None = None


@dataclass
class AccountResult:
    account: str
    polled: bool = True
    new_messages: int = 0
    new_buyer_messages: int = 0
    errors: list[str] = field(default_factory=list)  # failures: ``sync --once`` exits 1
    note: str | None = None  # why the account was not polled
    notes: list[str] = field(default_factory=list)  # states worth a line once (unavailable, waiting)

    @property
    def ok(self) -> bool:
        return not self.errors


def default_client(_account: AccountRow) -> httpx.AsyncClient:
    """Real marketplaces: TLS verified, bounded timeouts, no redirects to foreign hosts."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(30.0, connect=10.0),
        verify=True,
        follow_redirects=False,
        headers={"User-Agent": "chatdesk/0.1"},
    )


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backoff(failures: int, interval: float) -> timedelta:
    seconds = min(MAX_BACKOFF.total_seconds(), max(5.0, interval) * (2 ** min(failures, 8)))
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


class Runtime:
    """One account's live connector: its HTTP client and rate limiter outlive single polls."""

    def __init__(self, account: AccountRow, connector: Connector, client: httpx.AsyncClient, secret: str) -> None:
        self.account = account
        self.connector = connector
        self.client = client
        self.secret = secret
        self.lock = asyncio.Lock()
        # Per stream, the store's view of the chats, kept in step with what this runtime
        # writes: while it holds the lease nobody else changes these columns, so an idle poll
        # need not re-read 10,000 chats. Dropped whenever the lease was not held.
        self.known_cache: dict[str, dict[str, KnownChat]] = {}


def log_unexpected(what: str, secret: str) -> None:
    """Log the exception being handled with its traceback, minus the token: a library's
    exception text may quote request headers (h11's "Illegal header value ...")."""
    log.error("%s\n%s", what, redact(traceback.format_exc(), secret))


def log_to_file(folder: Path) -> Path | None:
    """Send chatdesk's (and APScheduler's) log records to ``<folder>/chatdesk.log`` instead of
    the terminal: a failing account is one line on the terminal, its details are here, with
    secrets already redacted by whoever logs (:func:`log_unexpected`). Idempotent; returns
    the file, or None when it cannot be opened (then records are dropped, never printed)."""
    from chatdesk.paths import ensure_private_dir, private_file

    try:
        path = private_file(ensure_private_dir(folder) / "chatdesk.log")  # 0600, never 0644
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except (OSError, Exception):
        path, handler = None, logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("chatdesk", "apscheduler"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_chatdesk_file", False)]:
            logger.removeHandler(old)
            old.close()
        handler._chatdesk_file = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
        if logger.level == logging.NOTSET or logger.level > logging.WARNING:
            logger.setLevel(logging.WARNING)
    return path


def load_file(spec: dict[str, object]) -> OutgoingFile:
    path = Path(str(spec["path"]))
    return OutgoingFile(
        name=str(spec.get("name") or path.name),
        content=path.read_bytes(),
        content_type=str(spec.get("content_type") or "application/octet-stream"),
    )
