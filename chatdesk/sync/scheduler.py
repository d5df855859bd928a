"""The APScheduler side: a poll job per account with jitter, outbox and follow-up jobs, and
thread-safe "do it now" kicks from the TUI."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime

from chatdesk.store import accounts as store_accounts
from chatdesk.store.accounts import AccountRow
from chatdesk.sync.streams import StreamPolling


class Scheduling(StreamPolling):
    # ------------------------------------------------------------------ scheduler
    def _add_poll_job(self, account: AccountRow) -> None:
        """A tick per account every :attr:`TICK` seconds; each stream polls when its paced
        interval has passed (``policy.stream_interval``), so a stream's pace can change
        between polls (a TUI opens, a buyer writes, night falls, a refusal backs it off)."""
        assert self._scheduler is not None
        tick = min(self.TICK, self._interval(account))
        self._scheduler.add_job(
            self._tick,
            "interval",
            seconds=tick,
            jitter=max(1, int(tick * self.config.poll_jitter)),
            args=[account.id],
            id=f"poll-{account.id}",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now().astimezone(),
            replace_existing=True,
        )

    _kicks: set[asyncio.Future[object]] = set()  # "sync now" polls in flight (kept referenced)

    async def _tick(self, account_id: int) -> None:
        """Poll the account's due streams. A daemon that sees the first TUI open anywhere
        (:meth:`someone_watches` turned true) polls every stream of the account once, at once,
        instead of waiting out the idle interval it set before; then the fast pace holds."""
        due_only = True
        if self.daemon:
            watched = await self.someone_watches()
            before = self._watched_before.get(account_id, watched)
            self._watched_before[account_id] = watched
            due_only = not (watched and not before)
        await self.poll_account(account_id, due_only=due_only)

    def _setup(self, loop: asyncio.AbstractEventLoop) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self._loop = loop
        scheduler = self._scheduler = AsyncIOScheduler(event_loop=loop)
        for account in store_accounts.list_accounts(self.db):
            if account.enabled:
                self._add_poll_job(account)
        scheduler.add_job(
            self.deliver_all, "interval", seconds=self.outbox_interval, id="outbox", max_instances=1, coalesce=True
        )
        scheduler.add_job(
            self.deliver_followups, "interval", seconds=self.followup_interval, id="followups", max_instances=1
        )
        scheduler.add_job(self._refresh_jobs, "interval", seconds=30, id="accounts", max_instances=1)
        if self.watching:  # a TUI: daemons anywhere poll at their "TUI open" pace while it beats
            scheduler.add_job(
                self.client_beat,
                "interval",
                seconds=self.CLIENT_BEAT,
                id="client",
                max_instances=1,
                next_run_time=datetime.now().astimezone(),
            )
        scheduler.start()

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
        """Run the scheduler on a loop in a background thread (the TUI's mode: a person is
        watching, so streams poll at their fast pace)."""
        self.watching = True
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
        self.daemon = True
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
            for job in self._scheduler.get_jobs():
                if job.id.startswith("poll-") and (account_id is None or job.id == f"poll-{account_id}"):
                    # Every stream, due or not (the tick polls only the due ones); an announced
                    # rate-limit wait still holds (policy.POLL).
                    self._kicks.add(asyncio.ensure_future(self.poll_account(int(job.id[5:]))))
                    self._kicks = {k for k in self._kicks if not k.done()}

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
