"""Polling: each stream of an account, page by page, committed with its cursor; failures
back off per stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from chatdesk.connectors.base import (
    ConnectorError,
    KnownChat,
    Page,
    redact,
)
from chatdesk.errors import ChatdeskError, SecretsError
from chatdesk.store import accounts as store_accounts
from chatdesk.store import ingest, outbox
from chatdesk.store.accounts import AccountRow
from chatdesk.store.db import from_db, utcnow
from chatdesk.store.fencing import LeaseHolder, LeaseLost
from chatdesk.sync import policy
from chatdesk.sync.delivery import OutboxDelivery
from chatdesk.sync.runtime import (
    AccountResult,
    Runtime,
    SyncEvent,
    log,
    log_unexpected,
)


def keyless_words(account: str) -> str:
    """What an operator's TUI without the account's key says about it (status line)."""
    return f"no sync service is polling {account} (keys live on the sync host)"


class StreamPolling(OutboxDelivery):
    # ------------------------------------------------------------------ polling
    async def poll_account(self, account_id: int, *, force: bool = False, due_only: bool = False) -> AccountResult:
        """One poll of every stream of an account, then its outbox. Never raises.

        ``due_only`` (the scheduler's tick): poll only the streams whose paced interval
        (:func:`policy.stream_interval`) has passed."""
        try:
            account = await asyncio.to_thread(store_accounts.get_account_by_id, self.db, account_id)
        except ChatdeskError as exc:
            return AccountResult(account=str(account_id), polled=False, errors=[str(exc)])
        result = AccountResult(account=account.name)
        interval = self._interval(account)
        ttl = max(3 * interval, 120.0)
        had_lease = account.id in self._held
        if self._operator_tui() and not await self._has_key(account, result):
            return result  # no key here: no lease taken, nothing written to the shared store
        # The lease first, then the key: reading a key from the encrypted file keyring costs
        # seconds (an Argon2 derivation per read), and meanwhile the account would look
        # unpolled ("sync: off") or still held by a killed process ("sync: other"). A process
        # without the key (an operator's TUI on another host) gives the lease back at once,
        # so the daemon that has the key takes it at its next tick instead of waiting for it
        # to expire. A missing key is found without a derivation.
        fence = await asyncio.to_thread(self._take_lease, account.id, ttl)
        if fence is None:
            self._held.discard(account.id)
            if account.id in self._keyless:  # a sync service took it: no longer "nobody polls"
                self._keyless.discard(account.id)
                self._emit(SyncEvent("keyless", account.id))
            owner = await asyncio.to_thread(store_accounts.lease_owner, self.db, account.id)
            result.polled = False
            result.note = f"polled by another chatdesk process ({owner})"
            return result
        holder = LeaseHolder(self.owner, fence)  # every write of this round is fenced by it
        # "sync: here" now, not after a first sync's minutes; an operator's TUI in team mode
        # says it only once it has the key (most have none: the sync host polls).
        early = not self._operator_tui()
        if early:
            self._held.add(account.id)
            if not had_lease:
                self._emit(SyncEvent("lease", account.id))
        try:
            rt = await self._runtime(account)
            if not early:
                self._held.add(account.id)
                if not had_lease:
                    self._emit(SyncEvent("lease", account.id))
        except ChatdeskError as exc:
            self._held.discard(account.id)
            if self._keys_elsewhere(exc):
                await asyncio.to_thread(store_accounts.release_lease, self.db, account.id, self.owner)
                result.polled = False
                result.note = keyless_words(account.name)
                if account.id not in self._keyless:  # said once, in the status line (never a toast)
                    self._keyless.add(account.id)
                    self._emit(SyncEvent("keyless", account.id, message=result.note))
                return result
            msg = str(exc)
            with contextlib.suppress(LeaseLost):  # recorded while still the holder, then given back
                await asyncio.to_thread(
                    ingest.record_attempt,
                    self.db,
                    account.id,
                    "chats",
                    ok=False,
                    error=msg,
                    error_kind="secret",
                    holder=holder,
                )
            await asyncio.to_thread(store_accounts.release_lease, self.db, account.id, self.owner)
            result.errors.append(msg)
            self._emit(SyncEvent("error", account.id, message=f"{account.name}: {msg}"))
            return result
        async with rt.lock:
            if not had_lease:
                rt.known_cache.clear()  # someone else may have synced this account meanwhile
            await asyncio.to_thread(outbox.settle_interrupted, self.db, account.id)
            changed: set[int] = set()
            previews: list[tuple[int, str]] = []
            lost: LeaseLost | None = None
            for stream in rt.connector.streams:
                try:
                    res = await self._poll_stream(rt, stream, interval, force=force, due_only=due_only, holder=holder)
                except LeaseLost as exc:  # paused past the lease: another engine polls it now
                    lost = exc
                    break
                if isinstance(res, StreamFailure):
                    if res.failure:
                        result.errors.append(f"{stream}: {res.message}")
                    elif res.news:
                        result.notes.append(f"{stream}: {res.message}")
                elif res is not None:
                    result.new_messages += res.new_messages
                    result.new_buyer_messages += res.new_buyer_messages
                    changed |= res.chat_ids
                    previews.extend(res.buyer_previews)
            # Fencing: deliver only while still the holder this poll started as (a pause longer
            # than the lease, e.g. a suspended VM, lets another daemon take over meanwhile).
            if lost is not None:
                log.warning("%s: %s; round abandoned", account.name, lost)
                self._held.discard(account.id)
                rt.known_cache.clear()
                result.note = "round abandoned: the lease was lost meanwhile (another chatdesk process polls it now)"
            elif await asyncio.to_thread(store_accounts.holds_lease, self.db, account.id, self.owner, fence):
                await self._deliver(rt)
            else:
                self._held.discard(account.id)
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

    async def _has_key(self, account: AccountRow, result: AccountResult) -> bool:
        """(operator's TUI in team mode) Whether this process has the account's key, looked up
        before any lease so a TUI without keys writes nothing each tick (every write wakes
        every open TUI). Without it, fills ``result`` (not polled, why) and says so once: a
        "keyless" event with the words while nobody polls the account, and one without words
        when a sync service (a lease holder) polls it again."""
        try:
            await self._runtime(account)
            return True
        except ChatdeskError as exc:
            if not self._keys_elsewhere(exc):
                return True  # not a key problem: the usual path reports it
        owner = await asyncio.to_thread(store_accounts.lease_owner, self.db, account.id)
        result.polled = False
        if owner is not None:
            result.note = f"polled by another chatdesk process ({owner})"
            if account.id in self._keyless:
                self._keyless.discard(account.id)
                self._emit(SyncEvent("keyless", account.id))
            return False
        result.note = keyless_words(account.name)
        if account.id not in self._keyless:  # said once, in the status line (never a toast)
            self._keyless.add(account.id)
            self._emit(SyncEvent("keyless", account.id, message=result.note))
        return False

    def _keys_elsewhere(self, exc: ChatdeskError) -> bool:
        """True when a missing or unreadable key is expected here: an operator's TUI in team
        mode (``db.operator`` set, not a daemon) whose keys live on the sync host. Such a
        process never records the key error in the shared store nor tells the operator to add
        a key (issue 15, "keys stay on one host"); a solo user's TUI and ``chatdesk sync`` do."""
        return isinstance(exc, SecretsError) and self._operator_tui()

    def _operator_tui(self) -> bool:
        """An operator's TUI in team mode (not a daemon, ``db.operator`` set)."""
        return self.watching and not self.daemon and bool(self.db.operator)

    def _take_lease(self, account_id: int, ttl: float) -> int | None:
        """Heartbeat this engine, then take the account's lease within a fair share: with N
        live sync engines, each holds at most ceil(accounts / N) leases, so several daemons
        split the accounts (rate limits are per token) and a dead one's are taken over.

        Only headless daemons (``run_forever``) count as workers: a TUI's engine or a
        ``sync --once`` takes a lease only when it is free, so a daemon that polls every few
        seconds (policy.PACE) does not hand an account over to a TUI that just opened."""
        if not self.daemon:
            return store_accounts.take_lease(self.db, account_id, self.owner, ttl)
        workers = store_accounts.heartbeat_worker(self.db, self.owner, ttl)
        share = None
        if workers > 1:
            enabled = sum(1 for a in store_accounts.list_accounts(self.db) if a.enabled)
            share = max(1, -(-enabled // workers))
        return store_accounts.take_lease(self.db, account_id, self.owner, ttl, share=share)

    async def _poll_stream(
        self,
        rt: Runtime,
        stream: str,
        interval: float,
        *,
        force: bool,
        due_only: bool = False,
        holder: LeaseHolder | None = None,
    ) -> ingest.IngestResult | StreamFailure | None:
        """Poll one stream to the end; return what was ingested, how it failed, or None if it
        rests (its back-off has not ended; a forced poll still rests when :mod:`policy` says
        the wait must be honoured, e.g. an announced rate-limit wait or a missing category).

        The reaction to every failure is :data:`policy.POLL`'s row for its cause: one
        ``except`` for all of them, no branch per error class. Every write is fenced by
        ``holder``; :class:`LeaseLost` (the lease changed hands) ends the round: it is raised,
        never recorded as the stream's error."""
        account = rt.account
        state = await asyncio.to_thread(ingest.stream_state, self.db, account.id, stream)
        now = utcnow()
        if state.backoff_until and state.backoff_until > now:
            row = policy.POLL.get(state.error_kind or "", policy.POLL["error"])
            if not force:
                return None
            if row.forced:  # said once when it began; a wait the marketplace announced is worth a line
                if row.state != "waiting":
                    return None
                until = from_db(state.backoff_until) or now
                return StreamFailure(
                    message=f"waiting until {until:%H:%M:%S} UTC as the marketplace asked ({state.last_error})",
                    key=state.error_kind or "quota",
                    failure=False,
                    state=row.state,
                    until=until,
                )
        if due_only and not force and state.next_poll_at and from_db(state.next_poll_at) > now:
            return None
        total = ingest.IngestResult()
        spent = Counter(rt.connector.limiter.spent_by)
        attempt = 0
        while True:
            attempt += 1
            try:
                cursor = await asyncio.to_thread(ingest.get_cursor, self.db, account.id, stream)
                known = await self._known(rt, stream)
                touched: set[str] = set()
                try:
                    await self._drain(
                        rt.connector.poll(stream, cursor, known),
                        account.id,
                        stream,
                        total,
                        touched,
                        between=lambda: self._deliver_during_poll(rt),
                        holder=holder,
                    )
                finally:
                    await self._refresh_known(rt, stream, touched)
            except LeaseLost:
                raise
            except Exception as exc:  # classified below: a connector's cause, the store, or a bug
                key, error = self._classify(rt, stream, exc)
                reaction = policy.POLL[key]
                pause = policy.inline_pause(reaction, error, attempt, self.MAX_INLINE_WAIT, cap=self.INLINE_RETRIES)
                if pause is not None:
                    await asyncio.sleep(pause)
                    continue
                wait = policy.backoff_for(reaction, error, state.failures or 0, interval)
                return await self._fail(rt, stream, error, key, reaction, wait, was=state.unavailable, holder=holder)
            cost = Counter(rt.connector.limiter.spent_by)
            cost.subtract(spent)
            pace = await self._pace(rt, stream, interval, requests={k: n for k, n in cost.items() if n > 0})
            next_at = utcnow() + timedelta(seconds=pace)
            await asyncio.to_thread(
                ingest.record_attempt, self.db, account.id, stream, ok=True, next_poll_at=next_at, holder=holder
            )
            return total

    async def _pace(self, rt: Runtime, stream: str, interval: float, *, requests: dict[str, int]) -> float:
        """Seconds until the stream's next poll (:func:`policy.stream_interval`): fast while a
        TUI is open (this engine's, or any operator's on the store: :meth:`someone_watches`)
        or a buyer waits, the configured interval otherwise (slower overnight), within a
        quarter of the marketplace's budget for what this poll cost."""
        since = utcnow() - policy.WAITING_WINDOW
        try:
            waiting = await asyncio.to_thread(ingest.buyer_waiting, self.db, rt.account.id, since)
        except ChatdeskError:
            waiting = False
        return policy.stream_interval(
            rt.account.marketplace,
            stream,
            base=interval,
            watching=await self.someone_watches(),
            waiting=waiting,
            hour=datetime.now().hour,
            requests=requests,
        )

    def _classify(self, rt: Runtime, stream: str, exc: Exception) -> tuple[str, Exception]:
        """The :data:`policy.POLL` key of a failure, and the error whose words are recorded.
        A bug or an unexpected wire format is logged with its traceback (secrets redacted) and
        recorded in one line; it never crashes the round."""
        if isinstance(exc, ConnectorError):
            return policy.poll_key(exc), exc
        if isinstance(exc, ChatdeskError):
            return "store", exc
        log_unexpected(f"unexpected error polling {rt.account.name}/{stream}", rt.secret)
        words = policy.POLL["bug"].words
        return "bug", ConnectorError(f"unexpected error: {words}")

    async def _known(self, rt: Runtime, stream: str) -> Mapping[str, KnownChat]:
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

    async def _refresh_known(self, rt: Runtime, stream: str, touched: set[str]) -> None:
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

    async def _deliver_during_poll(self, rt: Runtime) -> None:
        """Deliver the account's due replies in the middle of a long poll (the caller holds
        ``rt.lock``; every outbox row is claimed and fenced by its owner as usual)."""
        if await asyncio.to_thread(outbox.pending_count, self.db, rt.account.id):
            await self._deliver(rt)

    async def _drain(
        self,
        pages: AsyncIterator[Page],
        account_id: int,
        stream: str,
        total: ingest.IngestResult,
        touched: set[str],
        *,
        between: Callable[[], Awaitable[None]] | None = None,
        holder: LeaseHolder | None = None,
    ) -> None:
        """Commit pages in groups of about self.COMMIT_BATCH messages, one group writing while the
        next is fetched. Groups commit in order, and whatever was received before an error is
        committed too: every page is complete on its own. Every ``DELIVER_DURING_POLL``
        seconds, ``between`` runs between pages (the outbox's turn during a long poll)."""
        batch: list[Page] = []
        size = 0
        writing: asyncio.Task[ingest.IngestResult] | None = None
        loop = asyncio.get_running_loop()
        started = loop.time()
        turn = loop.time()

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
                    asyncio.to_thread(ingest.apply_pages, self.db, account_id, stream, group, holder=holder)
                )

        try:
            async for page in pages:
                touched.update(c.external_id for c in page.chats)
                touched.update(m.chat_external_id for m in page.messages)
                batch.append(page)
                size += len(page.messages) + len(page.chats) + 1
                if size >= self.COMMIT_BATCH or loop.time() - started >= self.COMMIT_SECONDS:
                    await flush()
                if between is not None and loop.time() - turn >= self.DELIVER_DURING_POLL:
                    await flush()
                    await settle()  # what was fetched is stored before the outbox's turn
                    await between()
                    turn = loop.time()
        finally:
            await flush()
            await settle()

    async def _fail(
        self,
        rt: Runtime,
        stream: str,
        exc: Exception,
        key: str,
        reaction: policy.PollReaction,
        wait: timedelta,
        *,
        was: str | None,
        holder: LeaseHolder | None = None,
    ) -> StreamFailure:
        """Record a failed poll as :data:`policy.POLL` says (the row's key is stored as the
        stream's ``error_kind``, so the next run of any process honours the same wait)."""
        msg = redact(str(exc), rt.secret) or type(exc).__name__
        until = utcnow() + wait
        unavailable = reaction.state == "unavailable"
        await asyncio.to_thread(
            ingest.record_attempt,
            self.db,
            rt.account.id,
            stream,
            ok=False,
            error=msg,
            error_kind=key,
            backoff_until=until,
            unavailable=msg if unavailable else None,
            next_poll_at=until,
            holder=holder,
        )
        return StreamFailure(
            message=msg,
            key=key,
            failure=reaction.failure,
            state=reaction.state,
            until=until,
            news=not unavailable or was != msg,
        )


@dataclass(frozen=True)
class StreamFailure:
    """How a stream's poll failed: the recorded words, the :data:`policy.POLL` key and row
    facts the caller needs (``failure``: counts for ``sync --once``'s exit code; ``news``:
    the state is new, so it is worth a line — an unavailable stream is said once)."""

    message: str
    key: str
    failure: bool
    state: str
    until: datetime
    news: bool = True
