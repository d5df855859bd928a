"""Outbox delivery: claim, send, settle; due follow-ups queued into the outbox."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from chatdesk.connectors.base import (
    AuthError,
    ChatRef,
    ConnectorError,
    RateLimited,
    Rejected,
    TransientError,
    redact,
)
from chatdesk.errors import ChatdeskError
from chatdesk.store import accounts as store_accounts
from chatdesk.store import outbox
from chatdesk.store.db import utcnow
from chatdesk.sync.core import EngineCore
from chatdesk.sync.runtime import (
    Runtime,
    SyncEvent,
    load_file,
    log_unexpected,
)


class OutboxDelivery(EngineCore):
    # ------------------------------------------------------------------ outbox
    async def deliver_account(self, account_id: int, *, message_id: int | None = None) -> None:
        account = await asyncio.to_thread(store_accounts.get_account_by_id, self.db, account_id)
        try:
            rt = await self._runtime(account)
        except ChatdeskError:
            return
        async with rt.lock:
            await self._deliver(rt, message_id=message_id)

    async def _deliver(self, rt: Runtime, *, message_id: int | None = None) -> None:
        jobs = await asyncio.to_thread(outbox.claim_due, self.db, rt.account.id, self.owner, message_id=message_id)
        for job in jobs:
            await self._send_one(rt, job)
        if jobs:
            self._emit(SyncEvent("outbox", rt.account.id, chat_ids=frozenset(j.chat_id for j in jobs)))

    async def _send_one(self, rt: Runtime, job: outbox.OutboxJob) -> None:
        try:
            files = tuple(load_file(f) for f in job.files)
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
        from chatdesk.usecases.followups import deliver_due

        try:
            touched = await asyncio.to_thread(deliver_due, self.db, self.config)
        except ChatdeskError as exc:
            self._emit(SyncEvent("error", message=f"follow-ups: {exc}"))
            return
        for account_id in touched:
            await self.deliver_account(account_id)
        self._emit(SyncEvent("followup"))
