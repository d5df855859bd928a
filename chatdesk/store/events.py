"""What happened in the store that a ``[hooks]`` command may want to hear about, and the
claim that makes each event fire once (table ``hook_event``, watermark in ``meta``).

Engine-agnostic Core/SQL; every time is aware UTC. Each finder returns only what is not
claimed yet; :func:`claim` inserts the event's key and reports whether this process won it,
so two processes (TUI + daemon) never both fire one event, and a restart fires nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.exc import IntegrityError

from chatdesk.store.db import Database, from_db, to_db
from chatdesk.store.schema import HookEvent, Meta

WATERMARK = "hooks_buyer_after"
"""``meta`` key: the highest message id already considered for ``buyer_message``."""


@dataclass(frozen=True)
class ChatEvent:
    """One candidate event about a chat (``message_id``/``text`` when a message is behind it)."""

    key: str
    event: str
    chat_id: int
    account: str
    marketplace: str
    customer: str | None
    order_id: str | None
    product_id: str | None
    at: datetime
    message_id: int | None = None
    text: str | None = None
    detail: str | None = None


def claim(db: Database, key: str, event: str, at: datetime) -> bool:
    """Record ``key``; True only for the one caller that recorded it first."""
    try:
        with db.write() as s:
            if s.get(HookEvent, key) is not None:
                return False
            s.add(HookEvent(key=key, event=event, fired_at=at))
        return True
    except IntegrityError:
        return False


def claimed(db: Database, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    out: set[str] = set()
    with db.read() as s:
        for start in range(0, len(keys), 400):
            chunk = keys[start : start + 400]
            marks = ", ".join(f":k{i}" for i in range(len(chunk)))
            rows = s.execute(
                text(f"SELECT key FROM hook_event WHERE key IN ({marks})"), {f"k{i}": k for i, k in enumerate(chunk)}
            )
            out.update(str(r[0]) for r in rows)
    return out


def watermark(db: Database) -> int | None:
    with db.read() as s:
        row = s.get(Meta, WATERMARK)
    return int(row.value) if row is not None else None


def advance_watermark(db: Database, expected: int | None, to: int) -> bool:
    """Move the watermark from ``expected`` to ``to`` in one transaction; False if another
    process moved it meanwhile (then it owns those messages)."""
    with db.write() as s:
        row = s.get(Meta, WATERMARK)
        current = int(row.value) if row is not None else None
        if current != expected:
            return False
        if row is None:
            s.add(Meta(key=WATERMARK, value=str(to)))
        else:
            row.value = str(to)
            s.add(row)
    return True


def max_message_id(db: Database) -> int:
    with db.read() as s:
        return int(s.execute(text("SELECT coalesce(max(id), 0) FROM message")).scalar() or 0)


_CHAT_COLS = "c.id, a.name, a.marketplace, c.customer, c.order_id, c.product_id"


def _row_event(
    key: str,
    event: str,
    r: Sequence[Any],
    at: datetime,
    *,
    message_id: int | None = None,
    text: str | None = None,
    detail: str | None = None,
) -> ChatEvent:
    """``r`` starts with the ``_CHAT_COLS`` columns (chat id, account, marketplace, customer,
    order id, product id); the keywords are the message fields of :class:`ChatEvent`."""
    return ChatEvent(key, event, int(r[0]), r[1], r[2], r[3], r[4], r[5], at, message_id, text, detail)


def _dt(value: object) -> datetime:
    out = from_db(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))
    assert out is not None
    return out


def buyer_messages_after(db: Database, after: int, limit: int = 500) -> tuple[list[ChatEvent], int]:
    """Buyer messages with id > ``after`` that arrived after their account was added (history
    imported by a first sync is not news), oldest first; and the highest id looked at."""
    out: list[ChatEvent] = []
    top = after
    with db.read() as s:
        rows = s.execute(
            text(
                f"SELECT {_CHAT_COLS}, m.id, m.text, m.created_at, a.created_at, m.author FROM message m "
                "JOIN chat c ON c.id = m.chat_id JOIN account a ON a.id = c.account_id "
                "WHERE m.id > :after ORDER BY m.id LIMIT :n"
            ),
            {"after": after, "n": limit},
        ).all()
    for r in rows:
        top = max(top, int(r[6]))
        at, added = _dt(r[8]), _dt(r[9])
        if r[10] != "buyer" or at < added:
            continue
        out.append(_row_event(f"buyer_message:{r[6]}", "buyer_message", r, at, message_id=int(r[6]), text=r[7]))
    return out, top


def failed_sends(db: Database, since: datetime) -> list[ChatEvent]:
    """Outgoing messages queued since ``since`` that ended ``failed``, with the reason."""
    sql = text(
        f"SELECT {_CHAT_COLS}, m.id, m.text, m.error, o.created_at FROM outbox o "
        "JOIN message m ON m.id = o.message_id JOIN chat c ON c.id = m.chat_id JOIN account a ON a.id = c.account_id "
        "WHERE m.state = 'failed' AND o.created_at >= :since"
    ).bindparams(bindparam("since", type_=DateTime()))
    with db.read() as s:
        rows = s.execute(sql, {"since": to_db(since)}).all()
    return [
        _row_event(f"send_failed:{r[6]}", "send_failed", r, _dt(r[9]), message_id=int(r[6]), text=r[7], detail=r[8])
        for r in rows
    ]


def sent_followups(db: Database, since: datetime) -> list[ChatEvent]:
    sql = text(
        f"SELECT {_CHAT_COLS}, f.id, f.text, f.updated_at, f.message_id FROM followup f "
        "JOIN chat c ON c.id = f.chat_id JOIN account a ON a.id = c.account_id "
        "WHERE f.state = 'sent' AND f.updated_at >= :since"
    ).bindparams(bindparam("since", type_=DateTime()))
    with db.read() as s:
        rows = s.execute(sql, {"since": to_db(since)}).all()
    return [
        _row_event(
            f"followup_sent:{r[6]}",
            "followup_sent",
            r,
            _dt(r[8]),
            message_id=int(r[9]) if r[9] is not None else None,
            text=r[7],
        )
        for r in rows
    ]


def waiting_chats(db: Database, since: datetime) -> list[tuple[ChatEvent, datetime, str | None, str]]:
    """Chats waiting for the seller whose buyer wrote after ``since`` and after the account
    was added: (event stub, last buyer time, chat status, kind), for SLA and window events."""
    sql = text(
        f"SELECT {_CHAT_COLS}, c.last_buyer_at, c.status, c.kind, c.preview, a.created_at, c.resolved_at FROM chat c "
        "JOIN account a ON a.id = c.account_id "
        "WHERE c.last_author = 'buyer' AND c.last_buyer_at >= :since"
    ).bindparams(bindparam("since", type_=DateTime()))
    with db.read() as s:
        rows = s.execute(sql, {"since": to_db(since)}).all()
    out = []
    for r in rows:
        last = _dt(r[6])
        resolved = _dt(r[11]) if r[11] is not None else None
        if last < _dt(r[10]) or (resolved is not None and resolved >= last):
            continue
        out.append((_row_event("", "", r, last, text=r[9]), last, r[7], r[8]))
    return out


def sync_errors(db: Database) -> list[tuple[str, str, str, str | None, str, datetime | None]]:
    """(account, marketplace, stream, last success ISO or None, error, last attempt) of streams
    whose last poll failed."""
    sql = text(
        "SELECT a.name, a.marketplace, st.stream, st.last_success_at, st.last_error, st.last_attempt_at "
        "FROM syncstate st JOIN account a ON a.id = st.account_id "
        "WHERE st.last_error IS NOT NULL AND st.failures > 0"
    )
    with db.read() as s:
        rows = s.execute(sql).all()
    return [
        (r[0], r[1], r[2], _dt(r[3]).isoformat() if r[3] is not None else None, r[4], _dt(r[5]) if r[5] else None)
        for r in rows
    ]
