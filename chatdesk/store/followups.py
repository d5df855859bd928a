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

OPEN_STATES = ("pending", "held")  # not settled yet: a person may still cancel it
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
    operator: str | None = None  # team mode: who scheduled it (or last sent it anyway)


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
    # Team mode: who scheduled it, and what arrived in the chat since (buyer messages and other
    # people's replies, oldest first); empty in solo use.
    operator: str | None = None
    changes: tuple[Arrival, ...] = ()
    # A person asked for it to go now: the sending window does not apply.
    ignore_window: bool = False


@dataclass(frozen=True)
class Arrival:
    """A message that reached the chat after a team-mode follow-up was scheduled."""

    message_id: int
    author: str  # "buyer" | "seller"
    operator: str | None  # who wrote a seller message (None: the marketplace portal)
    created_at: datetime


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
    operator: str | None = None,
) -> int:
    """Schedule a follow-up; returns its id. ``operator`` (team mode): who scheduled it; the
    chat's newest message id is recorded with it, and anything arriving after that from the
    buyer or another person holds it at delivery (see :func:`deliver_due`). Raises
    UsageError for an unknown chat or the same text already pending in the chat."""
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
            operator=operator,
            seen_seq=newest_message_id(s, chat_id) if operator is not None else None,
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


def newest_message_id(s: Session, chat_id: int) -> int:
    """The chat's newest message row id (0 when it has none)."""
    value = s.execute(select(func.max(Message.id)).where(col(Message.chat_id) == chat_id)).scalar()
    return int(value or 0)


def arrivals_since(s: Session, chat_id: int, seq: int, operator: str | None) -> tuple[Arrival, ...]:
    """Buyer messages and other people's replies in the chat with row id above ``seq``, oldest
    first; ``operator``'s own messages never count (ids grow in order of arrival: no clocks)."""
    rows = s.execute(
        select(col(Message.id), col(Message.author), col(Message.operator), col(Message.created_at))
        .where(col(Message.chat_id) == chat_id, col(Message.id) > seq, col(Message.author).in_(("buyer", "seller")))
        .order_by(col(Message.id))
    ).all()
    return tuple(
        Arrival(int(r[0]), r[1], r[2], from_db(r[3])) for r in rows if not (r[1] == "seller" and r[2] == operator)
    )


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
                operator=f.operator,
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
    _change_open(db, followup_id, ("pending",), values)


def _change_open(db: Database, followup_id: int, states: tuple[str, ...], values: dict[str, object]) -> None:
    get(db, followup_id)
    with db.write() as s:
        res = s.execute(
            update(FollowUp)
            .where(col(FollowUp.id) == followup_id, col(FollowUp.state).in_(states))
            .values(updated_at=utcnow(), **values)
        )
        if not rowcount(res):
            raise UsageError(f"follow-up {followup_id} is no longer {' or '.join(states)}")


def cancel(db: Database, followup_id: int, reason: str = "cancelled by the user") -> None:
    """Cancel a pending or held follow-up (kept as history). Raises UsageError otherwise."""
    _change_open(db, followup_id, OPEN_STATES, {"state": "cancelled", "reason": reason})


def send_anyway(db: Database, followup_id: int, operator: str | None = None) -> None:
    """A person reviewed a held (or pending) follow-up and sends it anyway: it becomes pending,
    due now, and what the chat holds now counts as seen (only newer arrivals hold it again).
    ``operator``: who decided (team mode); the follow-up goes out in their name.
    Raises UsageError for a follow-up that is neither pending nor held."""
    with db.write() as s:
        row = s.get(FollowUp, followup_id)
        if row is None:
            raise UsageError(f"no follow-up with id {followup_id}")
        seq = newest_message_id(s, row.chat_id)
    values: dict[str, object] = {
        "state": "pending",
        "reason": None,
        "due_at": utcnow(),
        "seen_seq": seq,
        "ignore_window": True,
    }
    if operator is not None:
        values["operator"] = operator
    _change_open(db, followup_id, OPEN_STATES, values)


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
        values["ignore_window"] = False  # a new time: the sending window applies again
    if text is not None:
        values["text"] = text
    if overrides is not None:
        values["overrides"] = json.dumps(overrides)
    if values:
        _change_pending(db, followup_id, **values)


def send_now(db: Database, followup_id: int) -> None:
    """Due now, whatever the seller's sending window says (a person asked for it). Raises
    UsageError unless the follow-up is pending."""
    _change_pending(db, followup_id, due_at=utcnow(), ignore_window=True)


def deliver_due(db: Database, decide: Callable[[DueCheck, datetime], Verdict], *, limit: int = 50) -> list[int]:
    """Settle every due pending follow-up: ``decide`` says send, reschedule, hold (team mode:
    someone wrote since it was scheduled), cancel, expire or fail. Sending queues the outbox
    message (in the scheduling operator's name) in the same transaction as the state change,
    with the follow-up row locked, so the check and the send cannot be separated.
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
                # PostgreSQL: skip one being claimed, or whose chat a reply's send-time check or
                # an ingest holds right now (the check and this claim never interleave).
                .with_for_update(skip_locked=True, of=[FollowUp, Chat])
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
                operator=f.operator,
                # Judged here, in the claim's transaction (issue 15): at delivery, not only
                # when it was scheduled.
                changes=arrivals_since(s, chat.id, f.seen_seq, f.operator) if f.seen_seq is not None else (),
                ignore_window=f.ignore_window,
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
            mid = enqueue_in(
                s, chat.id, f.text, overrides=json.loads(f.overrides or "[]"), followup_id=fid, operator=f.operator
            )
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
