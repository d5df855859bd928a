"""Writes a poll makes are fenced by the account's lease (issue 15, item 2).

A sync engine that holds an account's lease remembers the lease's fencing counter
(``lease.fence``, see :func:`chatdesk.store.accounts.take_lease`). Every cursor or
stream-state write of its poll round, and the messages ingested with it, carries that
:class:`LeaseHolder`; the write's transaction first checks — by the database's clock, with the
lease row locked against a takeover until commit — that the same owner still holds the same,
unexpired lease. A process that was paused past its lease (a suspended VM, a stopped
container) and wakes up finds its writes refused with :class:`LeaseLost` instead of moving
the cursor backwards or overwriting the new holder's stream state.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from chatdesk.errors import StoreError
from chatdesk.store.clock import db_now
from chatdesk.store.schema import Lease


@dataclass(frozen=True)
class LeaseHolder:
    """Who wrote: the lease owner id (``host:pid:nonce``) and the fencing counter it got."""

    owner: str
    fence: int


class LeaseLost(StoreError):
    """The write was refused: the account's lease expired or changed hands since this poll
    round began. Nothing of the transaction was written; the round must be abandoned."""

    def __init__(self, account_id: int, holder: LeaseHolder, now_held_by: str | None) -> None:
        self.account_id = account_id
        self.holder = holder
        self.now_held_by = now_held_by
        who = f"held by {now_held_by}" if now_held_by else "expired"
        super().__init__(
            f"lease of account {account_id} lost (fence {holder.fence}, now {who}): "
            "this poll round's writes were refused"
        )


def require_lease(s: Session, account_id: int, holder: LeaseHolder | None) -> None:
    """Inside a write transaction: raise :class:`LeaseLost` unless ``holder`` still holds the
    account's unexpired lease with the same fencing counter. ``None`` (a write outside any
    poll round: tests, imports) is not checked.

    PostgreSQL: the lease row is locked ``FOR SHARE`` until the transaction ends, so a takeover
    (an UPDATE of that row) waits for this write to commit and can never slip in between the
    check and the write. SQLite: the write transaction (``BEGIN IMMEDIATE``) already excludes
    every other writer."""
    if holder is None:
        return
    row = s.execute(
        select(col(Lease.owner), col(Lease.fence), col(Lease.expires_at) >= db_now(s))
        .where(col(Lease.account_id) == account_id)
        .with_for_update(read=True)
    ).one_or_none()
    if row is None:
        raise LeaseLost(account_id, holder, None)
    owner, fence, live = row
    if owner != holder.owner or int(fence) != holder.fence or not live:
        raise LeaseLost(account_id, holder, owner if owner != holder.owner else None)
