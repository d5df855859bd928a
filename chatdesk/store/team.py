"""Team mode in the store: operators, what each one last saw, presence, assignment, notes.

Everything here works the same on SQLite and PostgreSQL. "After I last looked" is decided by
message row ids (they grow in the order messages reach the store), never by comparing the
marketplace's clock with ours. Presence expiry is judged by the database clock on PostgreSQL
(operators' machines may disagree about the time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from chatdesk.errors import UsageError
from chatdesk.store.db import Database, from_db, rowcount, table_of, utcnow
from chatdesk.store.ingest import _insert
from chatdesk.store.schema import Chat, ChatOperator, Message, Note, Operator

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PRESENCE_TTL = 30.0  # seconds a heartbeat keeps "viewing"/"typing" alive (the TUI beats every 10 s)
PRESENCE_STATES = ("viewing", "typing")


@dataclass(frozen=True)
class OperatorRow:
    name: str
    display_name: str
    created_at: datetime


def check_name(name: str) -> str:
    """An operator id: 1-64 of a-z, 0-9, '.', '_', '-' (it appears in config files and URLs).
    Raises UsageError otherwise."""
    if not NAME.match(name or ""):
        raise UsageError(f"operator name {name!r} must be 1-64 of a-z, 0-9, '.', '_', '-' (e.g. anna)")
    return name


def add_operator(db: Database, name: str, display_name: str | None = None) -> OperatorRow:
    check_name(name)
    shown = " ".join((display_name or name).split())[:255] or name
    try:
        with db.write() as s:
            s.add(Operator(name=name, display_name=shown, created_at=utcnow()))
    except IntegrityError:
        raise UsageError(f"an operator named {name!r} already exists") from None
    return OperatorRow(name, shown, utcnow())


def list_operators(db: Database) -> list[OperatorRow]:
    with db.read() as s:
        rows = s.execute(select(Operator).order_by(col(Operator.name))).scalars().all()
    return [OperatorRow(o.name, o.display_name, from_db(o.created_at)) for o in rows]


def remove_operator(db: Database, name: str) -> None:
    """Forget an operator: their assignments are released and presence cleared; messages they
    wrote keep their name."""
    with db.write() as s:
        res = s.execute(delete(Operator).where(col(Operator.name) == name))
        if not rowcount(res):
            raise UsageError(f"no operator named {name!r} (see: chatdesk operator list)")
        s.execute(update(Chat).where(col(Chat.assigned_to) == name).values(assigned_to=None))
        s.execute(delete(ChatOperator).where(col(ChatOperator.operator) == name))


def display_names(db: Database) -> dict[str, str]:
    """operator name -> display name ("anna" -> "Анна")."""
    return {o.name: o.display_name for o in list_operators(db)}


def display_names_in(s: Session) -> dict[str, str]:
    """:func:`display_names` inside a caller's transaction."""
    return {str(n): str(d) for n, d in s.execute(select(col(Operator.name), col(Operator.display_name))).all()}


# ----------------------------------------------------------------------------- seen / presence


def _row(s: Session, chat_id: int, operator: str) -> ChatOperator:
    s.execute(_insert(s, table_of(ChatOperator)).values(chat_id=chat_id, operator=operator))
    row = s.get(ChatOperator, (chat_id, operator))
    assert row is not None
    return row


def mark_seen(db: Database, chat_id: int, operator: str, message_id: int | None = None) -> None:
    """The operator has seen the chat up to ``message_id`` (default: its newest message)."""
    with db.write() as s:
        if message_id is None:
            message_id = s.execute(select(func.max(Message.id)).where(col(Message.chat_id) == chat_id)).scalar() or 0
        row = _row(s, chat_id, operator)
        row.seen_message_id = max(row.seen_message_id or 0, message_id)
        row.seen_at = utcnow()
        s.add(row)


def seen_message_id(db: Database, chat_id: int, operator: str) -> int | None:
    with db.read() as s:
        row = s.get(ChatOperator, (chat_id, operator))
    return row.seen_message_id if row else None


def _now(s: Session) -> ColumnElement[datetime] | datetime:
    return func.now() if s.get_bind().dialect.name == "postgresql" else utcnow()


def heartbeat(db: Database, chat_id: int, operator: str, state: str = "viewing", ttl: float = PRESENCE_TTL) -> None:
    """The operator is ``viewing`` or ``typing`` in the chat for the next ``ttl`` seconds."""
    if state not in PRESENCE_STATES:
        raise UsageError(f"presence is one of {', '.join(PRESENCE_STATES)}")
    with db.write() as s:
        _row(s, chat_id, operator)
        now = _now(s)
        s.execute(
            update(ChatOperator)
            .where(col(ChatOperator.chat_id) == chat_id, col(ChatOperator.operator) == operator)
            .values(presence=state, presence_until=now + timedelta(seconds=ttl))
        )


def leave(db: Database, chat_id: int, operator: str) -> None:
    with db.write() as s:
        s.execute(
            update(ChatOperator)
            .where(col(ChatOperator.chat_id) == chat_id, col(ChatOperator.operator) == operator)
            .values(presence=None, presence_until=None)
        )


def presence(db: Database, chat_ids: list[int] | None = None) -> dict[int, list[tuple[str, str]]]:
    """chat id -> [(operator, "viewing"|"typing")] of heartbeats that have not expired."""
    with db.read() as s:
        q = select(col(ChatOperator.chat_id), col(ChatOperator.operator), col(ChatOperator.presence)).where(
            col(ChatOperator.presence).is_not(None),
            col(ChatOperator.presence_until) >= _now(s),
        )
        if chat_ids is not None:
            q = q.where(col(ChatOperator.chat_id).in_(chat_ids))
        out: dict[int, list[tuple[str, str]]] = {}
        for chat_id, op, state in s.execute(q.order_by(col(ChatOperator.operator))).all():
            out.setdefault(chat_id, []).append((op, state))
    return out


# ----------------------------------------------------------------------------- send-time check


@dataclass(frozen=True)
class Change:
    """A message that arrived after the operator last looked: the buyer's or another's reply."""

    message_id: int
    author: str  # "buyer" | "seller"
    operator: str | None  # who wrote a seller message (None: the marketplace portal or solo chatdesk)
    text: str
    created_at: datetime


def changes_since_seen(db: Database, chat_id: int, operator: str) -> list[Change]:
    """Buyer messages and other people's replies newer than what ``operator`` last saw (all of
    them when the operator never opened the chat), oldest first. The operator's own messages
    never count."""
    with db.read() as s:
        return changes_since_seen_in(s, chat_id, operator)


def lock_chat(s: Session, chat_id: int) -> None:
    """Inside a write transaction: lock the chat's row until commit (PostgreSQL ``FOR UPDATE``;
    SQLite's write transaction excludes other writers already). Send-time checks and the
    queueing they guard run under it, and so do ingest's updates of the chat's aggregates, so a
    check can never pass on a state another operator's send is changing at the same moment."""
    s.execute(select(col(Chat.id)).where(col(Chat.id) == chat_id).with_for_update())


def changes_since_seen_in(s: Session, chat_id: int, operator: str | None, basis: int | None = None) -> list[Change]:
    """:func:`changes_since_seen` inside a caller's transaction. ``basis``: the newest message
    id a reply was built on (a suggestion answers the buyer message it was made for): changes
    after the smaller of it and what the operator saw count. ``operator`` None (solo use): only
    changes after ``basis`` (none without one)."""
    if operator is None:
        if basis is None:
            return []
        seen = basis
    else:
        row = s.get(ChatOperator, (chat_id, operator))
        seen = (row.seen_message_id if row else None) or 0
        if basis is not None:
            seen = min(seen, basis)
    rows = s.execute(
        select(col(Message.id), col(Message.author), col(Message.operator), col(Message.text), col(Message.created_at))
        .where(col(Message.chat_id) == chat_id, col(Message.id) > seen, col(Message.author).in_(("buyer", "seller")))
        .order_by(col(Message.id))
    ).all()
    return [Change(r[0], r[1], r[2], r[3], from_db(r[4])) for r in rows if not (r[1] == "seller" and r[2] == operator)]


# ----------------------------------------------------------------------------- assignment


def assign(db: Database, chat_id: int, operator: str | None) -> None:
    """Assign the chat to ``operator`` (None: unassign). The operator must exist."""
    with db.write() as s:
        if (
            operator is not None
            and s.execute(select(col(Operator.id)).where(col(Operator.name) == operator)).first() is None
        ):
            raise UsageError(f"no operator named {operator!r} (see: chatdesk operator list)")
        res = s.execute(update(Chat).where(col(Chat.id) == chat_id).values(assigned_to=operator))
        if not rowcount(res):
            raise UsageError(f"no chat with id {chat_id}")


def assigned_to(db: Database, chat_id: int) -> str | None:
    with db.read() as s:
        return s.execute(select(col(Chat.assigned_to)).where(col(Chat.id) == chat_id)).scalar()


# ----------------------------------------------------------------------------- notes


@dataclass(frozen=True)
class NoteRow:
    id: int
    chat_id: int
    operator: str | None
    text: str
    created_at: datetime


def add_note(db: Database, chat_id: int, text: str, operator: str | None) -> int:
    """An internal note: stored apart from messages, so no outbox or connector ever sees it."""
    text = text.strip()
    if not text:
        raise UsageError("a note needs some text")
    with db.write() as s:
        if s.get(Chat, chat_id) is None:
            raise UsageError(f"no chat with id {chat_id}")
        note = Note(chat_id=chat_id, operator=operator, text=text, created_at=utcnow())
        s.add(note)
        s.flush()
        assert note.id is not None
        return note.id


def list_notes(db: Database, chat_id: int) -> list[NoteRow]:
    with db.read() as s:
        rows = s.execute(select(Note).where(col(Note.chat_id) == chat_id).order_by(col(Note.id))).scalars().all()
    return [NoteRow(n.id, n.chat_id, n.operator, n.text, from_db(n.created_at)) for n in rows]


def auto_assign(db: Database, cap: int, operators: list[str] | None = None) -> list[tuple[int, str]]:
    """Round-robin: give each unassigned chat whose buyer is waiting (oldest wait first) to the
    operator with the fewest waiting chats assigned, never beyond ``cap`` each. ``operators``:
    who takes part (default: everyone). Returns the (chat id, operator) pairs assigned.
    Raises UsageError for a cap below 1. One transaction, rows locked against a concurrent run."""
    if cap < 1:
        raise UsageError("the per-operator cap must be at least 1")
    with db.write() as s:
        names = operators or list(s.execute(select(col(Operator.name)).order_by(col(Operator.name))).scalars())
        if not names:
            return []
        load = dict.fromkeys(names, 0)
        for who, n in s.execute(
            select(col(Chat.assigned_to), func.count())
            .where(col(Chat.assigned_to).in_(names), col(Chat.last_author) == "buyer")
            .group_by(col(Chat.assigned_to))
        ).all():
            load[who] = int(n)
        room = sum(max(0, cap - n) for n in load.values())
        if room == 0:
            return []
        waiting = list(
            s.execute(
                select(col(Chat.id))
                .where(col(Chat.assigned_to).is_(None), col(Chat.last_author) == "buyer")
                .order_by(col(Chat.last_buyer_at), col(Chat.id))
                .limit(room)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        done: list[tuple[int, str]] = []
        for chat_id in waiting:
            who = min((n for n in names if load[n] < cap), key=lambda n: (load[n], names.index(n)), default=None)
            if who is None:
                break
            s.execute(
                update(Chat).where(col(Chat.id) == chat_id, col(Chat.assigned_to).is_(None)).values(assigned_to=who)
            )
            load[who] += 1
            done.append((chat_id, who))
        return done
