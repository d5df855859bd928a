"""Outbox delivery: claim, send, settle; due follow-ups queued into the outbox.

Ownership is fenced (``store.outbox``): a job is claimed one at a time and only when the
account's rate limiter is not blocked for longer than ``MAX_CLAIM_WAIT`` (the budget is taken
before the claim, never waited for while holding it), its claim is renewed by a heartbeat
while the request runs, each request is announced (``begin_part``) and recorded
(``part_accepted``) so an accepted request is never sent again, and every verdict is an
UPDATE fenced by owner and claim token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import ClassVar

from chatdesk.connectors.base import (
    ChatRef,
    ConnectorError,
    RateLimited,
    SendReceipt,
    redact,
    request_parts,
)
from chatdesk.errors import ChatdeskError
from chatdesk.store import accounts as store_accounts
from chatdesk.store import outbox
from chatdesk.store.db import utcnow
from chatdesk.sync import policy
from chatdesk.sync.core import EngineCore
from chatdesk.sync.runtime import (
    Runtime,
    SyncEvent,
    load_file,
    log_unexpected,
)


class OutboxDelivery(EngineCore):
    MAX_CLAIM_WAIT: ClassVar[float] = 30.0  # never claim a row we would then wait longer than this to send
    CLAIM_BATCH: ClassVar[int] = 50  # rows delivered per account per round

    # ------------------------------------------------------------------ outbox
    async def deliver_account(self, account_id: int, *, message_id: int | None = None, mine: bool = False) -> None:
        account = await asyncio.to_thread(store_accounts.get_account_by_id, self.db, account_id)
        try:
            rt = await self._runtime(account)
        except ChatdeskError:
            return
        async with rt.lock:
            await self._deliver(rt, message_id=message_id, mine=mine)

    async def _deliver(self, rt: Runtime, *, message_id: int | None = None, mine: bool = False) -> None:
        await asyncio.to_thread(outbox.settle_interrupted, self.db, rt.account.id)
        touched: set[int] = set()
        for _ in range(self.CLAIM_BATCH):
            if rt.connector.limiter.blocked_for() > self.MAX_CLAIM_WAIT:
                break  # the marketplace said wait: leave the rows queued (and unowned) until then
            jobs = await asyncio.to_thread(
                outbox.claim_due, self.db, rt.account.id, self.owner, 1, message_id=message_id, mine=mine
            )
            if not jobs:
                break
            touched.add(jobs[0].chat_id)
            if not await self._send_one(rt, jobs[0]):
                break  # rate limited: the rest waits for the next round
        if touched:
            self._emit(SyncEvent("outbox", rt.account.id, chat_ids=frozenset(touched)))

    async def _heartbeat(self, job: outbox.OutboxJob) -> None:
        """Renew the claim while the job runs, so "interrupted" means "owner gone"."""
        while True:
            await asyncio.sleep(outbox.CLAIM_TTL / 4)
            if not await asyncio.to_thread(outbox.renew, self.db, job):
                return

    async def _send_one(self, rt: Runtime, job: outbox.OutboxJob) -> bool:
        """Deliver one claimed row; False when a rate limit stopped it (stop the round)."""
        beat = asyncio.ensure_future(self._heartbeat(job))
        try:
            return await self._send_parts(rt, job)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _send_parts(self, rt: Runtime, job: outbox.OutboxJob) -> bool:
        db = self.db
        try:
            files = tuple(load_file(f) for f in job.files)
        except OSError as exc:
            await asyncio.to_thread(outbox.mark_failed, db, job, f"cannot read attachment: {exc.strerror}")
            return True
        ref = ChatRef(
            external_id=job.chat_external_id,
            kind=job.chat_kind,  # type: ignore[arg-type]
            reply_token=job.reply_token,
            status=job.chat_status,
            last_buyer_message_id=job.last_buyer_message_id,
        )
        connector = rt.connector
        parts = request_parts(connector.limits.get(job.chat_kind), job.text, files)
        notes: list[str] = []
        for index, (text, part_files) in enumerate(parts):
            if index < job.parts_done:
                continue  # accepted before: never again
            if not await asyncio.to_thread(outbox.begin_part, db, job, index):
                return True  # no longer ours: the new owner decides
            try:
                receipt = await connector.send(ref, text, tuple(part_files))
            except Exception as exc:  # the reaction is policy.OUTBOX's row for the cause
                return await self._settle_failure(rt, job, exc, index, len(parts))
            if not await asyncio.to_thread(outbox.part_accepted, db, job, index):
                return True
            if isinstance(receipt, SendReceipt) and receipt.failed_files:
                notes.append(await self._record_failed_files(rt, job, receipt))
        await asyncio.to_thread(outbox.mark_sent, db, job, "; ".join(notes) or None)
        return True

    async def _settle_failure(self, rt: Runtime, job: outbox.OutboxJob, exc: Exception, index: int, parts: int) -> bool:
        """Apply :data:`policy.OUTBOX` to a failed request (every write fenced); False when the
        marketplace asked to wait or refused the host, which ends this round for the account."""
        db = self.db
        label = rt.connector.label
        if not isinstance(exc, ConnectorError):
            log_unexpected(f"unexpected error sending message {job.message_id}", rt.secret)
        reaction = policy.outbox_reaction(exc)
        reason = redact(exc.message, rt.secret) if isinstance(exc, ConnectorError) else type(exc).__name__
        if reaction.outcome == "retry":
            at = utcnow() + policy.outbox_delay(reaction, exc, job.attempts)
            words = f"rate limited: {reason}" if isinstance(exc, RateLimited) else f"not sent yet: {reason}"
            await asyncio.to_thread(outbox.retry_later, db, job, at, words)
            return reaction.after not in ("hint", "fixed")
        if reaction.outcome == "unknown":
            if isinstance(exc, ConnectorError):
                words = f"no answer from {label} ({reason}); it may have arrived — the next sync will tell"
            else:
                words = f"unexpected {reason}; it may have arrived"
            await asyncio.to_thread(outbox.mark_unknown, db, job, words)
            return True
        if index:
            reason += f" (part {index + 1} of {parts}; the earlier parts were delivered)"
        await asyncio.to_thread(outbox.mark_failed, db, job, reason)
        return True

    async def _record_failed_files(self, rt: Runtime, job: outbox.OutboxJob, receipt: SendReceipt) -> str:
        """Files refused inside an accepted message become one failed message each, which the
        user can re-send alone; the accepted message itself is sent."""
        by_name = {str(f.get("name")): f for f in job.files}
        words: list[str] = []
        for name, why in receipt.failed_files:
            reason = redact(why, rt.secret)
            spec = by_name.get(name)
            if spec is not None:
                await asyncio.to_thread(outbox.add_failed_part, self.db, job, [json.loads(json.dumps(spec))], reason)
            words.append(f"{name}: {reason}")
        return "delivered without " + "; ".join(words) + " (re-send the file alone)"

    async def deliver_all(self) -> None:
        accounts = await asyncio.to_thread(store_accounts.list_accounts, self.db)
        for account in accounts:
            if account.enabled and await asyncio.to_thread(outbox.pending_count, self.db, account.id) > 0:
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
