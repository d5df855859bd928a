"""Scheduled follow-up messages and their delivery claim.

A due follow-up is re-checked and, if still wanted, turned into an outbox message in the
same transaction that moves it out of ``pending`` — so two processes can never both send it,
and a crash between the two steps cannot lose it or duplicate it. Everything after that is
the outbox's job (same states and reconciliation as a manual reply).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Select, func, select, update
from sqlmodel import Session, col

from chatdesk.errors import UsageError
from chatdesk.store.db import Database, from_db, rowcount, to_db, utcnow
from chatdesk.store.outbox import enqueue_in
from chatdesk.store.schema import Account, Chat, FollowUp, Message

OPEN_STATES = ("pending",)
if TYPE_CHECKING:  # SQLAlchemy 2.1 spelling; 2.0 cannot subscript Select this way at run time
    # A follow-up with its account name, marketplace, customer and order id.
    _FollowUpQuery = Select[FollowUp, str, str, str | None, str | None]


@dataclass(frozen=True)
class FollowUpRow:
    id: int
    chat_id: int
    account: str
    marketplace: str
    customer: str | None
    order_id: str | None
    due_at: datetime
    text: str
    state: str
    reason: str | None
    rule: str | None
    template: str | None
    created_at: datetime
    message_id: int | None


@dataclass(frozen=True)
class DueCheck:
    """What the delivery job needs to know about a due follow-up's chat."""

    followup_id: int
    chat_id: int
    marketplace: str
    kind: str
    text: str
    status: str | None
    last_buyer_at: datetime | None
    created_at: datetime
    cancel_if_buyer_writes: bool
    # Order of arrival: a buyer message stored after the follow-up was scheduled (row id above
    # the one recorded then). None for follow-ups scheduled before this was recorded.
    buyer_wrote_after: bool | None = None


# verdict: ("send", None) | ("cancelled"|"expired"|"failed", reason) | ("later", new due time)
Verdict = tuple[str, object]


def add(
    db: Database,
    chat_id: int,
    due_at: datetime,
    text: str,
    *,
    template: str | None = None,
    rule: str | None = None,
    overrides: list[str] | None = None,
    cancel_if_buyer_writes: bool = True,
) -> int:
    now = utcnow()
    with db.write() as s:
        if s.get(Chat, chat_id) is None:
            raise UsageError(f"no chat with id {chat_id}")
        same = " ".join(text.split())
        for other in s.execute(
            select(FollowUp).where(col(FollowUp.chat_id) == chat_id, col(FollowUp.state) == "pending")
        ).scalars():
            if " ".join(other.text.split()) == same:  # the buyer would get it twice
                due = from_db(other.due_at)
                when = f" for {due:%Y-%m-%d %H:%M} UTC" if due else ""
                raise UsageError(f"the same follow-up is already scheduled in this chat{when} (follow-up {other.id})")
        row = FollowUp(
            buyer_seq=buyer_seq(s, chat_id),
            chat_id=chat_id,
            due_at=to_db(due_at),
            text=text,
            template=template,
            rule=rule,
            overrides=json.dumps(overrides or []),
            cancel_if_buyer_writes=cancel_if_buyer_writes,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        s.flush()
        assert row.id is not None
        return row.id


def buyer_seq(s: Session, chat_id: int) -> int:
    """The ingest sequence of the chat's newest buyer message (its row id; 0 if none).

    Message ids grow in order of arrival in the store, whatever times the marketplace puts on
    the messages, so "the buyer wrote after scheduling" is ``id > buyer_seq``: no clocks."""
    value = s.execute(
        select(func.max(Message.id)).where(col(Message.chat_id) == chat_id, col(Message.author) == "buyer")
    ).scalar()
    return int(value or 0)


def buyer_wrote_after(s: Session, chat_id: int, seq: int | None) -> bool | None:
    if seq is None:
        return None
    return buyer_seq(s, chat_id) > seq


def _rows(s: Session, q: _FollowUpQuery) -> list[FollowUpRow]:
    out = []
    for f, name, marketplace, customer, order_id in s.execute(q).all():
        out.append(
            FollowUpRow(
                id=f.id,
                chat_id=f.chat_id,
                account=name,
                marketplace=marketplace,
                customer=customer,
                order_id=order_id,
                due_at=from_db(f.due_at),
                text=f.text,
                state=f.state,
                reason=f.reason,
                rule=f.rule,
                template=f.template,
                created_at=from_db(f.created_at),
                message_id=f.message_id,
            )
        )
    return out


def _base_query() -> _FollowUpQuery:
    query: _FollowUpQuery = (
        select(FollowUp, col(Account.name), col(Account.marketplace), col(Chat.customer), col(Chat.order_id))
        .join(Chat, col(Chat.id) == FollowUp.chat_id)
        .join(Account, col(Account.id) == Chat.account_id)
    )
    return query


def list_followups(
    db: Database, *, chat_id: int | None = None, states: tuple[str, ...] | None = None
) -> list[FollowUpRow]:
    q = _base_query()
    if chat_id is not None:
        q = q.where(col(FollowUp.chat_id) == chat_id)
    if states:
        q = q.where(col(FollowUp.state).in_(states))
    q = q.order_by(col(FollowUp.state) != "pending", col(FollowUp.due_at), col(FollowUp.id))
    with db.read() as s:
        return _rows(s, q)


def get(db: Database, followup_id: int) -> FollowUpRow:
    with db.read() as s:
        rows = _rows(s, _base_query().where(col(FollowUp.id) == followup_id))
    if not rows:
        raise UsageError(f"no follow-up with id {followup_id}")
    return rows[0]


def _change_pending(db: Database, followup_id: int, **values: object) -> None:
    get(db, followup_id)
    with db.write() as s:
        res = s.execute(
            update(FollowUp)
            .where(col(FollowUp.id) == followup_id, col(FollowUp.state) == "pending")
            .values(updated_at=utcnow(), **values)
        )
        if not rowcount(res):
            raise UsageError(f"follow-up {followup_id} is no longer pending")


def cancel(db: Database, followup_id: int, reason: str = "cancelled by the user") -> None:
    _change_pending(db, followup_id, state="cancelled", reason=reason)


def edit(
    db: Database,
    followup_id: int,
    *,
    due_at: datetime | None = None,
    text: str | None = None,
    overrides: list[str] | None = None,
) -> None:
    values: dict[str, object] = {}
    if due_at is not None:
        values["due_at"] = to_db(due_at)
    if text is not None:
        values["text"] = text
    if overrides is not None:
        values["overrides"] = json.dumps(overrides)
    if values:
        _change_pending(db, followup_id, **values)


def send_now(db: Database, followup_id: int) -> None:
    _change_pending(db, followup_id, due_at=utcnow())


def deliver_due(db: Database, decide: Callable[[DueCheck, datetime], Verdict], *, limit: int = 50) -> list[int]:
    """Settle every due pending follow-up: ``decide`` says send, reschedule, cancel, expire or
    fail. Sending queues the outbox message in the same transaction as the state change.
    Returns the account ids that got new outbox rows."""
    now = utcnow()
    with db.read() as s:
        due_ids = [
            r[0]
            for r in s.execute(
                select(col(FollowUp.id))
                .where(col(FollowUp.state) == "pending", col(FollowUp.due_at) <= now)
                .order_by(col(FollowUp.due_at))
                .limit(limit)
            ).all()
        ]
    touched: set[int] = set()
    for fid in due_ids:
        with db.write() as s:
            row = s.execute(
                select(FollowUp, Chat, col(Account.marketplace))
                .join(Chat, col(Chat.id) == FollowUp.chat_id)
                .join(Account, col(Account.id) == Chat.account_id)
                .where(col(FollowUp.id) == fid, col(FollowUp.state) == "pending")
                .with_for_update(skip_locked=True, of=FollowUp)  # PostgreSQL: skip one being claimed
            ).one_or_none()
            if row is None:  # another process took it (or is taking it)
                continue
            f, chat, marketplace = row
            check = DueCheck(
                followup_id=f.id,
                chat_id=chat.id,
                marketplace=marketplace,
                kind=chat.kind,
                text=f.text,
                status=chat.status,
                last_buyer_at=from_db(chat.last_buyer_at),
                created_at=from_db(f.created_at),
                cancel_if_buyer_writes=f.cancel_if_buyer_writes,
                buyer_wrote_after=buyer_wrote_after(s, chat.id, f.buyer_seq),
            )
            verdict, detail = decide(check, now)
            claim = update(FollowUp).where(col(FollowUp.id) == fid, col(FollowUp.state) == "pending")
            if verdict == "later":
                if not isinstance(detail, datetime):
                    raise TypeError(f"a 'later' verdict carries the new due time, not {detail!r}")
                s.execute(claim.values(due_at=to_db(detail), updated_at=now))
                continue
            if verdict != "send":
                s.execute(claim.values(state=verdict, reason=str(detail), updated_at=now))
                continue
            res = s.execute(claim.values(state="sending", updated_at=now))
            if not rowcount(res):
                continue
            mid = enqueue_in(s, chat.id, f.text, overrides=json.loads(f.overrides or "[]"), followup_id=fid)
            s.execute(update(FollowUp).where(col(FollowUp.id) == fid).values(message_id=mid))
            touched.add(chat.account_id)
    return sorted(touched)


def mark_resolved(db: Database, chat_id: int, resolved: bool = True) -> None:
    """Resolve a chat: it leaves the waiting queue and counts as read until the buyer writes again.

    ``resolved_at`` is the time of the newest buyer message the resolve covers (the marketplace's
    clock, the same one later buyer messages carry), or now when the buyer never wrote; a buyer
    message newer than it makes the chat waiting again, whatever the local clock says.
    """
    with db.write() as s:
        if not resolved:
            s.execute(update(Chat).where(col(Chat.id) == chat_id).values(resolved_at=None))
            return
        chat = s.get(Chat, chat_id)
        if chat is None:
            raise UsageError(f"no chat with id {chat_id}")
        covered = chat.last_buyer_at or utcnow()
        s.execute(update(Chat).where(col(Chat.id) == chat_id).values(resolved_at=covered, unread=0))
