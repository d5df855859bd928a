"""Read queries behind ``chatdesk report`` and the stats screen: the raw facts of a period,
fetched through indexed paths (chats by last activity, then each chat's messages by its
``(chat_id, created_at)`` index).

A period's messages arrive as one *timeline* string per chat, built inside the database
(SQLite ``group_concat``, PostgreSQL ``string_agg``: the isolated engine-specific part), because
turning a busy month's ~1M rows into Python tuples was most of the report's time. Everything
else is SQLAlchemy Core (engine-agnostic); every datetime in and out is aware UTC, and timeline
times are UTC text (:data:`TIME_FORMAT`), which compares in time order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, and_, bindparam, exists, func, or_, select, text
from sqlmodel import Session, col

from chatdesk.store.db import Database, from_db, to_db
from chatdesk.store.schema import Account, Chat, FollowUp, Message, MessageTopic, Outbox, RuleBlock

PARTIES = ("buyer", "seller")
"""Authors that make a conversation; marketplace/system notes neither ask nor answer."""

RESPONSE_STATES = ("sent", "received")
"""A seller message counts as a response only once the marketplace has it."""


@dataclass(frozen=True)
class ChatFacts:
    id: int
    account: str
    marketplace: str
    kind: str
    product_id: str | None
    product_title: str | None
    status: str | None
    last_author: str | None
    last_buyer_at: datetime | None
    resolved_at: datetime | None
    prior_author: str | None
    """Author of the chat's last buyer message or delivered seller message before the period
    (None: none)."""
    had_buyer_before: bool
    """Whether the buyer wrote before the period (then the period holds no first turn)."""


TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
"""How a timeline writes a time: UTC, microseconds always (SQLAlchemy's SQLite text form), so
times compare as text and ``datetime.fromisoformat`` reads them back exactly."""

_RELEVANT = (
    # A scheduled follow-up (an outbox row with a followup_id) is a nudge, not an answer: it
    # neither answers a turn nor counts toward first/next response time, SLA or window shares.
    "(m.author = 'buyer' OR (m.author = 'seller' AND m.state IN ('sent', 'received') AND NOT EXISTS "
    "(SELECT 1 FROM outbox o WHERE o.message_id = m.id AND o.followup_id IS NOT NULL)))"
)

_TIMELINE_SQLITE = (
    # One row per chat: the chat's messages are read through ix_message_chat_time (chat, time)
    # and concatenated inside SQLite, so a month of a busy store (~1M messages) crosses into
    # Python as ~10k strings instead of a million row tuples (that crossing was most of the
    # time of the old report). group_concat keeps the scan order here, but SQLite does not
    # promise it: :func:`timeline_tokens` checks and re-sorts a chat whose times go backwards.
    "SELECT m.chat_id, group_concat(substr(m.author, 1, 1) || substr(m.created_at || '.000000', 1, 26) || '/' || "
    "coalesce(replace(t.topic, ',', ''), ''), ',') "
    "FROM message m LEFT JOIN message_topic t ON t.message_id = m.id "
    "WHERE m.chat_id IN (SELECT id FROM chat WHERE last_message_at >= :s0) AND m.created_at >= :s0 "
    f"AND {_RELEVANT} GROUP BY m.chat_id"
)
_TIMELINE_PG = (
    # string_agg over a subquery sorted by (chat, time, id): one sort for the whole period, about
    # half the time of string_agg(... ORDER BY ...), which PostgreSQL 15 sorts group by group.
    # The order is the subquery's in practice (PostgreSQL documents it as usual, not promised):
    # :func:`timeline_tokens` checks it like SQLite's.
    "SELECT chat_id, string_agg(tok, ',') FROM ("
    "SELECT m.chat_id, left(m.author, 1) || "
    "to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '/' || "
    "coalesce(replace(t.topic, ',', ''), '') AS tok "
    "FROM chat c JOIN message m ON m.chat_id = c.id LEFT JOIN message_topic t ON t.message_id = m.id "
    f"WHERE c.last_message_at >= :s0 AND m.created_at >= :s0 AND {_RELEVANT} "
    "ORDER BY m.chat_id, m.created_at, m.id) x GROUP BY chat_id"
)


def _timelines(s: Session, s0: datetime) -> list[tuple[int, str]]:
    conn = s.connection()
    if conn.dialect.name == "sqlite":
        from chatdesk.store.sqlite_fast import sqlite_time

        driver = conn.connection.driver_connection
        assert driver is not None  # a checked-out connection always holds its DBAPI connection
        cursor = driver.cursor()
        try:  # straight from the driver: ~10k rows, no per-row SQLAlchemy processing needed
            rows: list[tuple[int, str]] = cursor.execute(_TIMELINE_SQLITE, {"s0": sqlite_time(s0)}).fetchall()
            return rows
        finally:
            cursor.close()
    stmt = text(_TIMELINE_PG).bindparams(bindparam("s0", type_=DateTime(timezone=True)))
    return [(int(r[0]), str(r[1])) for r in s.execute(stmt, {"s0": s0})]


def timeline_tokens(line: str) -> tuple[list[str], list[str]]:
    """One chat's timeline split into tokens ``<b|s><time>/<topic>`` (the time is always the 26
    characters ``[1:27]``, the topic ``[28:]``, ``""`` when untagged) and their times, both in
    time order (same-time messages keep the store's (time, id) order)."""
    tokens = line.split(",")
    times = [t[1:27] for t in tokens]
    if times != sorted(times):
        order = sorted(range(len(tokens)), key=times.__getitem__)
        tokens, times = [tokens[i] for i in order], [times[i] for i in order]
    return tokens, times


@dataclass(frozen=True)
class PeriodFacts:
    since: datetime
    until: datetime
    chats: dict[int, ChatFacts]
    timelines: list[tuple[int, str]]
    """(chat id, timeline) of the chats active since ``since``: their buyer messages and the seller
    messages the marketplace has, from ``since`` to now (responses may come after ``until``), as
    ``,``-joined ``<b|s><time>/<topic>`` tokens; read them with :func:`timeline_tokens`."""
    followups: list[tuple[int, str, datetime]]
    """(chat id, state, when it reached it) for sent/cancelled/expired follow-ups in the period."""
    overrides: list[tuple[int, datetime]]
    """(chat id, queued at) of outgoing messages sent despite a content warning, in the period."""
    blocks: list[tuple[int, datetime, str]]
    """(chat id, at, severity) of messages the rule check refused, in the period."""


def _title(context: str | None) -> str | None:
    try:
        value = json.loads(context or "{}")
    except ValueError:
        return None
    title = value.get("title") if isinstance(value, dict) else None
    return title if isinstance(title, str) and title.strip() else None


def _aware(dt: datetime | None) -> datetime | None:
    return from_db(dt)


_CHAT_COLUMNS = (
    col(Chat.id),
    col(Account.name),
    col(Account.marketplace),
    col(Chat.kind),
    col(Chat.product_id),
    col(Chat.context),
    col(Chat.status),
    col(Chat.last_author),
    col(Chat.last_buyer_at),
    col(Chat.resolved_at),
)
"""What a report knows of a chat, in :func:`_facts`' order."""


def period_facts(db: Database, since: datetime, until: datetime) -> PeriodFacts:
    """Everything a report over ``[since, until)`` needs. Raises StoreError on store errors."""
    s0, u0 = to_db(since), to_db(until)
    prior = (
        select(col(Message.author))
        .where(
            col(Message.chat_id) == Chat.id,
            col(Message.created_at) < s0,
            or_(
                col(Message.author) == "buyer",
                and_(
                    col(Message.author) == "seller",
                    col(Message.state).in_(RESPONSE_STATES),
                    ~exists().where(col(Outbox.message_id) == Message.id, col(Outbox.followup_id).is_not(None)),
                ),
            ),
        )
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(1)
        .correlate(Chat)
        .scalar_subquery()
    )
    had_buyer = (
        exists()
        .where(col(Message.chat_id) == Chat.id, col(Message.author) == "buyer", col(Message.created_at) < s0)
        .correlate(Chat)
    )
    active = select(*_CHAT_COLUMNS, prior, had_buyer).join(Account, col(Account.id) == Chat.account_id)
    # Chats active in the period, plus chats waiting now (for "unanswered now").
    active = active.where(or_(col(Chat.last_message_at) >= s0, col(Chat.last_author) == "buyer"))
    with db.read() as s:
        chats = {int(r[0]): _facts(r, r[10], bool(r[11])) for r in s.execute(active).all()}
        timelines = _timelines(s, since)
        fu = select(col(FollowUp.chat_id), col(FollowUp.state), col(FollowUp.updated_at)).where(
            col(FollowUp.state).in_(("sent", "cancelled", "expired")),
            col(FollowUp.updated_at) >= s0,
            col(FollowUp.updated_at) < u0,
        )
        followups = [(int(r[0]), r[1], from_db(r[2])) for r in s.execute(fu).all()]
        ov = (
            select(col(Message.chat_id), col(Outbox.created_at))
            .join(Message, col(Message.id) == Outbox.message_id)
            .where(
                col(Outbox.created_at) >= s0,
                col(Outbox.created_at) < u0,
                and_(col(Outbox.overrides) != "[]", col(Outbox.overrides) != ""),
            )
        )
        overrides = [(int(r[0]), from_db(r[1])) for r in s.execute(ov).all()]
        bl = select(col(RuleBlock.chat_id), col(RuleBlock.at), col(RuleBlock.severity)).where(
            col(RuleBlock.at) >= s0, col(RuleBlock.at) < u0
        )
        blocks = [(int(r[0]), from_db(r[1]), r[2]) for r in s.execute(bl).all()]
    # Chats quiet since, whose follow-up, override or block belongs to the period: one look-up.
    quiet = {c for c, *_ in (*followups, *overrides, *blocks)} - chats.keys()
    if quiet:
        chats.update(_chats_by_id(db, sorted(quiet)))
    return PeriodFacts(since, until, chats, timelines, followups, overrides, blocks)


def _facts(r: Any, prior_author: str | None, had_buyer_before: bool) -> ChatFacts:
    """A row of :data:`_CHAT_COLUMNS` (then anything else) as :class:`ChatFacts`."""
    return ChatFacts(
        id=int(r[0]),
        account=r[1],
        marketplace=r[2],
        kind=r[3],
        product_id=r[4],
        product_title=_title(r[5]),
        status=r[6],
        last_author=r[7],
        last_buyer_at=_aware(r[8]),
        resolved_at=_aware(r[9]),
        prior_author=prior_author,
        had_buyer_before=had_buyer_before,
    )


def _chats_by_id(db: Database, ids: list[int]) -> dict[int, ChatFacts]:
    """Facts of chats outside the period's activity (no prior author; they count as having
    written before, so the period holds no first turn of theirs)."""
    q = select(*_CHAT_COLUMNS).join(Account, col(Account.id) == Chat.account_id).where(col(Chat.id).in_(ids))
    with db.read() as s:
        return {int(r[0]): _facts(r, None, True) for r in s.execute(q).all()}


def problem_counts(
    db: Database, since: datetime, until: datetime, topics: tuple[str, ...]
) -> list[tuple[str, str, int]]:
    """(product id, topic, buyer messages) in ``[since, until)`` tagged with one of ``topics``,
    for chats with a product (for "which product is on fire")."""
    marks = ", ".join(f":t{i}" for i in range(len(topics)))
    sql = text(
        # CROSS JOIN keeps SQLite on the chat -> (chat_id, created_at) index path instead of
        # starting from every tagged message; PostgreSQL reads it as a plain join.
        "SELECT c.product_id, t.topic, count(*) FROM chat c CROSS JOIN message m "
        "JOIN message_topic t ON t.message_id = m.id "
        "WHERE m.chat_id = c.id AND c.last_message_at >= :s0 AND c.product_id IS NOT NULL "
        "AND m.created_at >= :s0 AND m.created_at < :u0 "
        f"AND m.author = 'buyer' AND t.topic IN ({marks}) GROUP BY c.product_id, t.topic"
    ).bindparams(bindparam("s0", type_=DateTime()), bindparam("u0", type_=DateTime()))
    params: dict[str, object] = {"s0": to_db(since), "u0": to_db(until)}
    params.update({f"t{i}": t for i, t in enumerate(topics)})
    with db.read() as s:
        return [(str(r[0]), str(r[1]), int(r[2])) for r in s.execute(sql, params)]


def product_titles(db: Database, product_ids: list[str]) -> dict[str, str]:
    """product id -> a title some chat about it carries (for people-readable labels)."""
    if not product_ids:
        return {}
    q = select(col(Chat.product_id), col(Chat.context)).where(
        col(Chat.product_id).in_(product_ids), col(Chat.context) != "{}"
    )
    out: dict[str, str] = {}
    with db.read() as s:
        for pid, ctx in s.execute(q.limit(5000)).all():
            title = _title(ctx)
            if title and pid not in out:
                out[pid] = title
    return out


def record_block(db: Database, chat_id: int, severity: str, codes: list[str], at: datetime) -> None:
    """Remember that the rule check refused a message in ``chat_id`` (for the report)."""
    with db.write() as s:
        s.add(RuleBlock(chat_id=chat_id, at=at, severity=severity, codes=json.dumps(sorted(set(codes)))))


def count_messages(db: Database) -> int:
    with db.read() as s:
        return int(s.execute(select(func.count()).select_from(Message)).scalar() or 0)


def problem_messages(
    db: Database,
    newest: dict[str, str],
    until: datetime,
    topics: tuple[str, ...],
    limit: int = 200,
) -> dict[str, list[int]]:
    """product id -> the problem-topic buyer messages of chats about it from ``newest[product]``
    (a :data:`TIME_FORMAT` UTC time: the oldest of the newest ``limit``, which the caller's pass
    over the timelines knows) to ``until``: newest first, at most ``limit`` each."""
    if not topics:
        return {}
    marks = ", ".join(f":t{i}" for i in range(len(topics)))
    sql = text(
        "SELECT m.id FROM chat c CROSS JOIN message m JOIN message_topic t ON t.message_id = m.id "
        "WHERE m.chat_id = c.id AND c.product_id = :p AND c.last_message_at >= :s0 "
        "AND m.created_at >= :s0 AND m.created_at < :u0 "
        f"AND m.author = 'buyer' AND t.topic IN ({marks}) ORDER BY m.created_at DESC, m.id DESC LIMIT :n"
    ).bindparams(bindparam("s0", type_=DateTime()), bindparam("u0", type_=DateTime()))
    out: dict[str, list[int]] = {}
    with db.read() as s:
        for pid, oldest in newest.items():
            s0 = datetime.strptime(oldest, TIME_FORMAT).replace(tzinfo=UTC)
            params: dict[str, object] = {"p": pid, "s0": s0, "u0": to_db(until), "n": limit}
            params.update({f"t{i}": t for i, t in enumerate(topics)})
            out[pid] = [int(r[0]) for r in s.execute(sql, params)]
    return out


def newest_buyer_topics(db: Database, chat_ids: list[int]) -> dict[int, str]:
    """Chat id -> topic of the chat's newest buyer message (what the list's tag shows), for the
    chats of ``chat_ids`` whose newest buyer message is tagged; others are left out. Used to
    group by topic what a chat did in a period without a buyer message in it (still waiting
    since before, a follow-up, a rule block). One backward index seek per chat, 500 per query."""
    newest = (
        select(col(Message.id))
        .where(col(Message.chat_id) == Chat.id, col(Message.author) == "buyer")
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(1)
        .correlate(Chat)
        .scalar_subquery()
    )
    topic = (
        select(col(MessageTopic.topic)).where(col(MessageTopic.message_id) == newest).correlate(Chat).scalar_subquery()
    )
    out: dict[int, str] = {}
    ids = sorted(set(chat_ids))
    with db.read() as s:
        for start in range(0, len(ids), 500):
            rows = s.execute(select(col(Chat.id), topic).where(col(Chat.id).in_(ids[start : start + 500]))).all()
            out.update({int(r[0]): str(r[1]) for r in rows if r[1]})
    return out
