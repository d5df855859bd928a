"""The engine's shared state: construction, listeners and per-account connector runtimes."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

from chatdesk.config import Config
from chatdesk.connectors import connector_class
from chatdesk.connectors.base import (
    AccountConfig,
)
from chatdesk.errors import ChatdeskError
from chatdesk.ratelimit import RateLimiter
from chatdesk.secrets import SecretStore
from chatdesk.store import accounts as store_accounts
from chatdesk.store.accounts import AccountRow
from chatdesk.store.db import Database
from chatdesk.sync.runtime import (
    ClientFactory,
    Runtime,
    SyncEvent,
    default_client,
    log,
    new_owner_id,
)


class EngineCore:
    """State shared by the engine's parts: the store, secrets, config, per-account runtimes,
    held leases and listeners. Tunables are class attributes so tests can override them."""

    MAX_INLINE_WAIT: ClassVar[float] = 30.0  # a rate limit shorter than this is waited out within the same poll
    INLINE_RETRIES: ClassVar[int] = 3  # at most this many inline retries per poll (policy.POLL gives each cause's)
    TICK: ClassVar[float] = 5.0  # the scheduler looks at each account this often; streams poll when due
    COMMIT_BATCH: ClassVar[int] = 2000  # messages (roughly) per store transaction during a sync
    COMMIT_SECONDS: ClassVar[float] = 2.0  # ...or this many seconds of fetched data
    # A poll that runs longer than this (a first sync, a huge chat list) delivers the account's
    # due outbox rows between its pages, so replies never wait behind it (seconds).
    DELIVER_DURING_POLL: ClassVar[float] = 10.0
    # An open TUI tells every sync daemon on the store through a heartbeat row (store
    # ``openclient``): beat this often, alive this long after the last beat (seconds).
    CLIENT_BEAT: ClassVar[float] = 10.0
    CLIENT_TTL: ClassVar[float] = 30.0

    def __init__(
        self,
        db: Database,
        *,
        secrets: SecretStore,
        config: Config | None = None,
        client_factory: ClientFactory | None = None,
        owner: str | None = None,
        outbox_interval: float = 5.0,
        followup_interval: float = 30.0,
    ) -> None:
        self.db = db
        self.secrets = secrets
        self.config = config or Config()
        self.client_factory = client_factory or default_client
        self.owner = owner or new_owner_id()
        self.outbox_interval = outbox_interval
        self.followup_interval = followup_interval
        self._runtimes: dict[int, Runtime] = {}
        self._listeners: list[Callable[[SyncEvent], None]] = []
        self._held: set[int] = set()
        # Accounts whose key this process lacks while nobody else polls them (team mode: an
        # operator's TUI); said once per account, cleared when a sync service takes the lease.
        self._keyless: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._scheduler: AsyncIOScheduler | None = None  # created by start(), on the engine loop
        self._stopped = threading.Event()
        # A TUI is open on this engine: poll fast (policy.PACE). The TUI's engine sets it; a
        # headless daemon polls fast only while a buyer waits.
        self.watching = False
        self.daemon = False  # run_forever: a headless daemon, one of the workers that split the accounts
        self._watched_before: dict[int, bool] = {}  # account id -> someone watched at its last tick (daemon)
        self._clients: tuple[float, bool] = (float("-inf"), False)  # (monotonic time read, a TUI is open somewhere)

    # ------------------------------------------------------------------ listeners
    def add_listener(self, fn: Callable[[SyncEvent], None]) -> None:
        self._listeners.append(fn)

    def _emit(self, event: SyncEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(event)
            except Exception:  # a listener must never break sync
                log.exception("sync listener failed")

    def is_polling(self, account_id: int) -> bool:
        return account_id in self._held

    # ------------------------------------------------------------------ connectors
    async def _runtime(self, account: AccountRow) -> Runtime:
        rt = self._runtimes.get(account.id)
        if rt is not None and rt.account == account:
            return rt
        if rt is not None:
            await rt.client.aclose()
        secret = await asyncio.to_thread(self.secrets.get, account.name)
        cls = connector_class(account.marketplace)
        client = self.client_factory(account)
        cfg = AccountConfig(
            name=account.name,
            marketplace=account.marketplace,
            secret=secret,
            base_url=account.base_url,
            settings=account.settings,
        )
        rt = Runtime(account, cls(cfg, client, RateLimiter()), client, secret)
        self._runtimes[account.id] = rt
        return rt

    async def aclose(self) -> None:
        for rt in self._runtimes.values():
            await rt.client.aclose()
        self._runtimes.clear()
        for account_id in list(self._held):
            with contextlib.suppress(ChatdeskError):
                await asyncio.to_thread(store_accounts.release_lease, self.db, account_id, self.owner)
        self._held.clear()
        with contextlib.suppress(ChatdeskError):
            await asyncio.to_thread(store_accounts.forget_worker, self.db, self.owner)
        if self.watching:  # this TUI closes: daemons slow down now, not at the heartbeat's expiry
            with contextlib.suppress(ChatdeskError):
                await asyncio.to_thread(store_accounts.client_gone, self.db, self.owner)

    async def client_beat(self) -> None:
        """(TUI engine) Tell sync daemons anywhere that a TUI is open on this store."""
        with contextlib.suppress(ChatdeskError):
            await asyncio.to_thread(
                store_accounts.client_heartbeat, self.db, self.owner, self.db.operator, self.CLIENT_TTL
            )

    async def someone_watches(self) -> bool:
        """True while a TUI is open: this engine's own, or (a daemon) any operator's anywhere on
        the store, read at most once per :attr:`TICK` seconds."""
        if self.watching:
            return True
        read_at, open_ = self._clients
        if time.monotonic() - read_at >= self.TICK:
            try:
                open_ = await asyncio.to_thread(store_accounts.open_clients, self.db) > 0
            except ChatdeskError:
                open_ = False
            self._clients = (time.monotonic(), open_)
        return open_

    def _interval(self, account: AccountRow) -> float:
        return float(account.poll_interval or self.config.poll_interval)
