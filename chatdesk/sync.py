"""The sync engine: scheduling, cursors, retries, the poll lease and outbox delivery.

Connectors are async; the engine runs them on one asyncio loop. In the TUI that loop lives in
a background thread with an APScheduler ``AsyncIOScheduler`` (a job per account, with jitter);
``chatdesk sync`` runs the same scheduler in the foreground, and ``sync --once`` awaits one
round directly. Each account's poll is its own task, so one account's rate-limit wait or
outage never delays another. Store calls run in worker threads so a slow disk does not
stall the loop.

Guarantees the rest of chatdesk relies on:
- a page is committed before its cursor moves (``store.ingest.apply_page``);
- only the holder of an account's lease polls it (TUI + daemon on one DB do not double-poll);
- an outgoing message is claimed atomically and never re-sent automatically after an
  ambiguous outcome (``unknown``): the next sync settles it by reconciliation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import threading
import traceback
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from chatdesk.config import Config
from chatdesk.connectors import connector_class
from chatdesk.connectors.base import (
    AccountConfig,
    AuthError,
    ChatRef,
    Connector,
    ConnectorError,
    KnownChat,
    OutgoingFile,
    Page,
    RateLimited,
    Rejected,
    StreamUnavailable,
    TransientError,
    redact,
)
from chatdesk.errors import ChatdeskError
from chatdesk.ratelimit import RateLimiter
from chatdesk.secrets import SecretStore
from chatdesk.store import accounts as store_accounts
from chatdesk.store import ingest, outbox
from chatdesk.store.accounts import AccountRow
from chatdesk.store.db import Database, utcnow

log = logging.getLogger("chatdesk.sync")

MAX_INLINE_WAIT = 30.0  # a rate limit shorter than this is waited out within the same poll
INLINE_RETRIES = 3
AUTH_BACKOFF = timedelta(minutes=15)
UNAVAILABLE_BACKOFF = timedelta(hours=6)
MAX_BACKOFF = timedelta(minutes=30)
COMMIT_BATCH = 2000  # messages (roughly) per store transaction during a sync
COMMIT_SECONDS = 2.0  # ... or whatever a rate-limited sync fetched in this long, so a crash loses little

ClientFactory = Callable[[AccountRow], httpx.AsyncClient]


@dataclass(frozen=True)
class SyncEvent:
    """What happened, for listeners (the TUI). Delivered from the engine's thread."""

    kind: str  # synced | error | outbox | followup
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
    errors: list[str] = field(default_factory=list)
    note: str | None = None

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


def _backoff(failures: int, interval: float) -> timedelta:
    seconds = min(MAX_BACKOFF.total_seconds(), max(5.0, interval) * (2 ** min(failures, 8)))
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


class _Runtime:
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


class SyncEngine:
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
        self._runtimes: dict[int, _Runtime] = {}
        self._listeners: list[Callable[[SyncEvent], None]] = []
        self._held: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._scheduler = None
        self._stopped = threading.Event()

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
    async def _runtime(self, account: AccountRow) -> _Runtime:
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
        rt = _Runtime(account, cls(cfg, client, RateLimiter()), client, secret)
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

    def _interval(self, account: AccountRow) -> float:
        return float(account.poll_interval or self.config.poll_interval)

    # ------------------------------------------------------------------ polling
    async def poll_account(self, account_id: int, *, force: bool = False) -> AccountResult:
        """One poll of every stream of an account, then its outbox. Never raises."""
        try:
            account = await asyncio.to_thread(store_accounts.get_account_by_id, self.db, account_id)
        except ChatdeskError as exc:
            return AccountResult(account=str(account_id), polled=False, errors=[str(exc)])
        result = AccountResult(account=account.name)
        interval = self._interval(account)
        ttl = max(3 * interval, 120.0)
        had_lease = account.id in self._held
        got = await asyncio.to_thread(store_accounts.acquire_lease, self.db, account.id, self.owner, ttl)
        if not got:
            self._held.discard(account.id)
            owner = await asyncio.to_thread(store_accounts.lease_owner, self.db, account.id)
            result.polled = False
            result.note = f"polled by another chatdesk process ({owner})"
            return result
        self._held.add(account.id)
        try:
            rt = await self._runtime(account)
        except ChatdeskError as exc:
            msg = str(exc)
            await asyncio.to_thread(
                ingest.record_attempt, self.db, account.id, "chats", ok=False, error=msg, error_kind="secret"
            )
            result.errors.append(msg)
            self._emit(SyncEvent("error", account.id, message=f"{account.name}: {msg}"))
            return result
        async with rt.lock:
            if not had_lease:
                rt.known_cache.clear()  # someone else may have synced this account meanwhile
            await asyncio.to_thread(outbox.settle_interrupted, self.db, account.id)
            changed: set[int] = set()
            previews: list[tuple[int, str]] = []
            for stream in rt.connector.streams:
                res = await self._poll_stream(rt, stream, interval, force=force)
                if isinstance(res, str):
                    result.errors.append(f"{stream}: {res}")
                elif res is not None:
                    result.new_messages += res.new_messages
                    result.new_buyer_messages += res.new_buyer_messages
                    changed |= res.chat_ids
                    previews.extend(res.buyer_previews)
            await self._deliver(rt)
        self._emit(
            SyncEvent(
                "error" if result.errors else "synced",
                account.id,
                new_buyer_messages=result.new_buyer_messages,
                chat_ids=frozenset(changed),
                previews=tuple(previews[-5:]),
                message="; ".join(f"{account.name}: {e}" for e in result.errors) or None,
            )
        )
        return result

    async def _poll_stream(
        self, rt: _Runtime, stream: str, interval: float, *, force: bool
    ) -> ingest.IngestResult | str | None:
        """Poll one stream to the end; return what was ingested, an error text, or None if skipped."""
        account = rt.account
        state = await asyncio.to_thread(ingest.stream_state, self.db, account.id, stream)
        now = utcnow()
        if state.backoff_until and state.backoff_until > now and not force:
            return None
        total = ingest.IngestResult()
        attempt = 0
        while True:
            attempt += 1
            try:
                cursor = await asyncio.to_thread(ingest.get_cursor, self.db, account.id, stream)
                known = await self._known(rt, stream)
                touched: set[str] = set()
                try:
                    await self._drain(rt.connector.poll(stream, cursor, known), account.id, stream, total, touched)
                finally:
                    await self._refresh_known(rt, stream, touched)
            except RateLimited as exc:
                if exc.retry_after <= MAX_INLINE_WAIT and attempt <= INLINE_RETRIES:
                    await asyncio.sleep(exc.retry_after)
                    continue
                return await self._fail(rt, stream, exc, "rate_limited", timedelta(seconds=exc.retry_after))
            except StreamUnavailable as exc:
                return await self._fail(rt, stream, exc, "unavailable", UNAVAILABLE_BACKOFF, unavailable=True)
            except AuthError as exc:
                return await self._fail(rt, stream, exc, "auth", AUTH_BACKOFF)
            except TransientError as exc:
                if attempt <= INLINE_RETRIES:
                    await asyncio.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
                    continue
                return await self._fail(rt, stream, exc, "transient", _backoff(state.failures, interval))
            except ConnectorError as exc:
                return await self._fail(rt, stream, exc, "error", _backoff(state.failures, interval))
            except ChatdeskError as exc:
                return await self._fail(rt, stream, exc, "store", _backoff(state.failures, interval))
            except Exception as exc:  # a bug or an unexpected wire format: record, never crash
                log_unexpected(f"unexpected error polling {account.name}/{stream}", rt.secret)
                err = ConnectorError(f"unexpected {type(exc).__name__}: {redact(str(exc), rt.secret)}")
                return await self._fail(rt, stream, err, "bug", _backoff(state.failures, interval))
            next_at = utcnow() + timedelta(seconds=interval)
            await asyncio.to_thread(ingest.record_attempt, self.db, account.id, stream, ok=True, next_poll_at=next_at)
            return total

    async def _known(self, rt: _Runtime, stream: str) -> Mapping[str, KnownChat]:
        """What the stream's connector needs of the store's chats. By default all of the
        account's (Ozon and YM walk their whole chat list anyway); a connector's
        ``known_scope`` may ask for a lazy mapping ("lazy") or one kind of chat only, so an
        idle poll does not read 10,000 chats it never looks at."""
        scope = rt.connector.known_scope.get(stream, "all")
        if scope == "lazy":
            return ingest.LazyKnownChats(self.db, rt.account.id)
        if stream not in rt.known_cache:
            kind = None if scope == "all" else scope
            rt.known_cache[stream] = await asyncio.to_thread(ingest.known_chats, self.db, rt.account.id, kind=kind)
        return rt.known_cache[stream]

    async def _refresh_known(self, rt: _Runtime, stream: str, touched: set[str]) -> None:
        """Bring the cached view of the chats a poll wrote back in step with the store."""
        cache = rt.known_cache.get(stream)
        if cache is None or not touched:
            return
        scope = rt.connector.known_scope.get(stream, "all")
        kind = None if scope == "all" else scope
        try:
            fresh = await asyncio.to_thread(ingest.known_chats, self.db, rt.account.id, kind=kind, external_ids=touched)
        except ChatdeskError:
            rt.known_cache.pop(stream, None)  # cannot tell: read it all next time
            return
        cache.update(fresh)

    async def _drain(
        self,
        pages: AsyncIterator[Page],
        account_id: int,
        stream: str,
        total: ingest.IngestResult,
        touched: set[str],
    ) -> None:
        """Commit pages in groups of about COMMIT_BATCH messages, one group writing while the
        next is fetched. Groups commit in order, and whatever was received before an error is
        committed too: every page is complete on its own."""
        batch: list[Page] = []
        size = 0
        writing: asyncio.Task[ingest.IngestResult] | None = None
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def settle() -> None:
            nonlocal writing
            if writing is not None:
                task, writing = writing, None
                total.merge(await task)

        async def flush() -> None:
            nonlocal batch, size, writing, started
            await settle()  # keep commits in order: the previous group first
            started = loop.time()
            if batch:
                group, batch, size = batch, [], 0
                writing = asyncio.ensure_future(
                    asyncio.to_thread(ingest.apply_pages, self.db, account_id, stream, group)
                )

        try:
            async for page in pages:
                touched.update(c.external_id for c in page.chats)
                touched.update(m.chat_external_id for m in page.messages)
                batch.append(page)
                size += len(page.messages) + len(page.chats) + 1
                if size >= COMMIT_BATCH or loop.time() - started >= COMMIT_SECONDS:
                    await flush()
        finally:
            await flush()
            await settle()

    async def _fail(
        self,
        rt: _Runtime,
        stream: str,
        exc: Exception,
        kind: str,
        backoff: timedelta,
        *,
        unavailable: bool = False,
    ) -> str:
        msg = redact(str(exc), rt.secret) or type(exc).__name__
        until = utcnow() + backoff
        await asyncio.to_thread(
            ingest.record_attempt,
            self.db,
            rt.account.id,
            stream,
            ok=False,
            error=msg,
            error_kind=kind,
            backoff_until=until,
            unavailable=msg if unavailable else None,
            next_poll_at=until,
        )
        return msg

    # ------------------------------------------------------------------ outbox
    async def deliver_account(self, account_id: int, *, message_id: int | None = None) -> None:
        account = await asyncio.to_thread(store_accounts.get_account_by_id, self.db, account_id)
        try:
            rt = await self._runtime(account)
        except ChatdeskError:
            return
        async with rt.lock:
            await self._deliver(rt, message_id=message_id)

    async def _deliver(self, rt: _Runtime, *, message_id: int | None = None) -> None:
        jobs = await asyncio.to_thread(outbox.claim_due, self.db, rt.account.id, self.owner, message_id=message_id)
        for job in jobs:
            await self._send_one(rt, job)
        if jobs:
            self._emit(SyncEvent("outbox", rt.account.id, chat_ids=frozenset(j.chat_id for j in jobs)))

    async def _send_one(self, rt: _Runtime, job: outbox.OutboxJob) -> None:
        try:
            files = tuple(_load_file(f) for f in job.files)
        except OSError as exc:
            await asyncio.to_thread(outbox.mark_failed, self.db, job, f"cannot read attachment: {exc.strerror}")
            return
        ref = ChatRef(
            external_id=job.chat_external_id,
            kind=job.chat_kind,  # type: ignore[arg-type]
            reply_token=job.reply_token,
            status=job.chat_status,
            last_buyer_message_id=job.last_buyer_message_id,
        )
        try:
            await rt.connector.send(ref, job.text, files)
        except RateLimited as exc:
            at = utcnow() + timedelta(seconds=exc.retry_after)
            await asyncio.to_thread(outbox.retry_later, self.db, job, at, f"rate limited: {exc.message}")
        except TransientError as exc:
            reason = redact(exc.message, rt.secret)
            if exc.reached_server:
                await asyncio.to_thread(
                    outbox.mark_unknown,
                    self.db,
                    job,
                    f"no answer from {rt.connector.label} ({reason}); it may have arrived — the next sync will tell",
                )
            else:
                at = utcnow() + timedelta(seconds=min(300, 5 * 2 ** min(job.attempts, 6)))
                await asyncio.to_thread(outbox.retry_later, self.db, job, at, f"not sent yet: {reason}")
        except (Rejected, AuthError, ConnectorError) as exc:
            await asyncio.to_thread(outbox.mark_failed, self.db, job, redact(exc.message, rt.secret))
        except Exception as exc:  # unknown failure after the request may have gone out
            log_unexpected(f"unexpected error sending message {job.message_id}", rt.secret)
            await asyncio.to_thread(
                outbox.mark_unknown, self.db, job, f"unexpected {type(exc).__name__}; it may have arrived"
            )
        else:
            await asyncio.to_thread(outbox.mark_sent, self.db, job)

    async def deliver_all(self) -> None:
        accounts = await asyncio.to_thread(store_accounts.list_accounts, self.db)
        for account in accounts:
            if account.enabled and await asyncio.to_thread(outbox.pending_count, self.db, account.id):
                await self.deliver_account(account.id)

    async def deliver_followups(self) -> None:
        """Queue due follow-ups (re-checked at send time) and send them through the outbox."""
        from chatdesk.followups import deliver_due

        try:
            touched = await asyncio.to_thread(deliver_due, self.db, self.config)
        except ChatdeskError as exc:
            self._emit(SyncEvent("error", message=f"follow-ups: {exc}"))
            return
        for account_id in touched:
            await self.deliver_account(account_id)
        self._emit(SyncEvent("followup"))

    # ------------------------------------------------------------------ one round (CLI)
    async def run_once(self, account_names: list[str] | None = None) -> list[AccountResult]:
        accounts = await asyncio.to_thread(store_accounts.list_accounts, self.db)
        if account_names:
            wanted = set(account_names)
            accounts = [a for a in accounts if a.name in wanted]
        results = await asyncio.gather(*(self.poll_account(a.id, force=True) for a in accounts if a.enabled))
        await self.deliver_followups()
        return list(results)

    def run_once_blocking(self, account_names: list[str] | None = None) -> list[AccountResult]:
        """One round from synchronous code (``sync --once``, ``demo --headless``), then the
        clients are closed and the leases released."""

        async def go() -> list[AccountResult]:
            try:
                return await self.run_once(account_names)
            finally:
                await self.aclose()

        return asyncio.run(go())

    # ------------------------------------------------------------------ scheduler
    def _add_poll_job(self, account: AccountRow) -> None:
        assert self._scheduler is not None
        interval = self._interval(account)
        self._scheduler.add_job(
            self.poll_account,
            "interval",
            seconds=interval,
            jitter=max(1, int(interval * self.config.poll_jitter)),
            args=[account.id],
            id=f"poll-{account.id}",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now().astimezone(),
            replace_existing=True,
        )

    def _setup(self, loop: asyncio.AbstractEventLoop) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self._loop = loop
        self._scheduler = AsyncIOScheduler(event_loop=loop)
        for account in store_accounts.list_accounts(self.db):
            if account.enabled:
                self._add_poll_job(account)
        self._scheduler.add_job(
            self.deliver_all, "interval", seconds=self.outbox_interval, id="outbox", max_instances=1, coalesce=True
        )
        self._scheduler.add_job(
            self.deliver_followups, "interval", seconds=self.followup_interval, id="followups", max_instances=1
        )
        self._scheduler.add_job(self._refresh_jobs, "interval", seconds=30, id="accounts", max_instances=1)
        self._scheduler.start()

    async def _refresh_jobs(self) -> None:
        """Pick up accounts added or removed by the CLI or the accounts screen."""
        assert self._scheduler is not None
        accounts = await asyncio.to_thread(store_accounts.list_accounts, self.db)
        live = {a.id for a in accounts if a.enabled}
        for job in self._scheduler.get_jobs():
            if job.id.startswith("poll-") and int(job.id[5:]) not in live:
                job.remove()
        for account in accounts:
            if account.enabled and self._scheduler.get_job(f"poll-{account.id}") is None:
                self._add_poll_job(account)

    def start(self) -> None:
        """Run the scheduler on a loop in a background thread (the TUI's mode)."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._setup(loop)
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.aclose())
                loop.close()

        self._thread = threading.Thread(target=run, name="chatdesk-sync", daemon=True)
        self._thread.start()
        ready.wait(10)

    def shutdown(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return
        if self._scheduler is not None:
            loop.call_soon_threadsafe(self._scheduler.shutdown, False)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._loop = None

    async def run_forever(self) -> None:
        """The headless daemon: the scheduler on the current loop until cancelled."""
        self._setup(asyncio.get_running_loop())
        try:
            await asyncio.Event().wait()
        finally:
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)
            await self.aclose()

    def _call_soon(self, fn: Callable[[], object]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(fn)

    def sync_now(self, account_id: int | None = None) -> None:
        """Poll now (all accounts, or one), without waiting. Thread-safe."""

        def kick() -> None:
            assert self._scheduler is not None
            now = datetime.now().astimezone()
            for job in self._scheduler.get_jobs():
                if job.id.startswith("poll-") and (account_id is None or job.id == f"poll-{account_id}"):
                    job.modify(next_run_time=now)

        self._call_soon(kick)

    def followups_now(self) -> None:
        """Re-check due follow-ups now, without waiting. Thread-safe."""

        def kick() -> None:
            assert self._scheduler is not None
            self._scheduler.get_job("followups").modify(next_run_time=datetime.now().astimezone())

        self._call_soon(kick)

    def deliver_now(self) -> None:
        """Send queued outbox rows now, without waiting. Thread-safe."""

        def kick() -> None:
            assert self._scheduler is not None
            self._scheduler.get_job("outbox").modify(next_run_time=datetime.now().astimezone())

        self._call_soon(kick)


def log_unexpected(what: str, secret: str) -> None:
    """Log the exception being handled with its traceback, minus the token: a library's
    exception text may quote request headers (h11's "Illegal header value ...")."""
    log.error("%s\n%s", what, redact(traceback.format_exc(), secret))


def _load_file(spec: dict[str, object]) -> OutgoingFile:
    path = Path(str(spec["path"]))
    return OutgoingFile(
        name=str(spec.get("name") or path.name),
        content=path.read_bytes(),
        content_type=str(spec.get("content_type") or "application/octet-stream"),
    )
