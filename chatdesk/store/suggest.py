"""SQL behind "how did I answer this before": past buyer questions like this one, with the
seller's reply that followed each, found through the full-text index (SQLite FTS5, BM25).

What the query words mean is :mod:`chatdesk.store.terms` (stems as word prefixes, OR); this
module only runs it. Another engine (PostgreSQL ``ts_rank`` over ``tsvector('russian')``) would
implement :func:`past_answers` the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from chatdesk.store import fts_pg, terms
from chatdesk.store.db import Database, from_db

CANDIDATES = 400
"""How many best-ranked index hits are looked at. The index holds every author's messages, so
this over-fetches to keep enough buyer questions that have an answer."""

DEDUP_WINDOW = 60
"""How many answered questions are returned at most (before the caller's own ranking)."""

RECENT_WINDOW = 50_000
"""When no past question has all the words, the any-word (OR) lookup ranks only the newest
this-many messages: ranking every match of common words over a million messages takes ~0.6 s,
and recent answers reflect how the seller answers now."""

ENOUGH = 3
"""An all-words lookup with at least this many answered questions needs no any-word fallback."""


@dataclass(frozen=True)
class PastAnswer:
    """A buyer question from another chat and the seller's first reply after it.

    ``score`` is FTS5's ``bm25()`` (lower is better, negative); times are aware UTC.
    """

    question_id: int
    question: str
    asked_at: datetime
    chat_id: int
    marketplace: str
    product_id: str | None
    customer: str | None
    order_id: str | None
    context: str
    answer_id: int
    answer: str
    answered_at: datetime
    score: float


@dataclass(frozen=True)
class LatestBuyerMessage:
    id: int
    text: str
    created_at: datetime


def latest_buyer_message(db: Database, chat_id: int) -> LatestBuyerMessage | None:
    """The newest buyer message of a chat with some text, or None."""
    sql = text(
        "SELECT id, text, created_at FROM message WHERE chat_id = :c AND author = 'buyer' AND text != '' "
        "ORDER BY created_at DESC, id DESC LIMIT 1"
    )
    with db.read() as s:
        row = s.execute(sql, {"c": chat_id}).first()
    if row is None:
        return None
    return LatestBuyerMessage(int(row[0]), str(row[1]), _dt(row[2]))


def _dt(value: object) -> datetime:
    out = from_db(value) if isinstance(value, datetime) else from_db(datetime.fromisoformat(str(value)))
    assert out is not None
    return out


def past_answers(
    db: Database, query_terms: list[terms.Term], exclude_chat_id: int, limit: int = DEDUP_WINDOW
) -> list[PastAnswer]:
    """Buyer messages outside ``exclude_chat_id`` like the query, best first, each with the
    seller's first sent or received reply after it in its chat; unanswered questions are left out.
    SQLite ranks with FTS5's BM25, PostgreSQL with ``ts_rank`` over the same stems.

    First every term must occur (AND, whole history, BM25 order); if that finds fewer than
    :data:`ENOUGH`, any term may occur (OR, BM25 order) among the newest :data:`RECENT_WINDOW`
    messages. SQLite ranks with FTS5's BM25, PostgreSQL with ``ts_rank_cd`` over the same terms
    (see :mod:`chatdesk.store.fts_pg`). Raises StoreError on store errors.
    """
    if not query_terms:
        return []
    render = terms.to_fts5 if db.is_sqlite else terms.to_tsquery
    found = _lookup(db, render(query_terms, op="AND"), exclude_chat_id, limit, min_rowid=0)
    if len(found) < ENOUGH and len(query_terms) > 1:
        with db.read() as s:
            top = int(s.execute(text("SELECT coalesce(max(id), 0) FROM message")).scalar() or 0)
        seen = {p.question_id for p in found}
        more = _lookup(db, render(query_terms, op="OR"), exclude_chat_id, limit, top - RECENT_WINDOW)
        found += [p for p in more if p.question_id not in seen]
    return found[:limit]


def _lookup(db: Database, match: str | None, exclude_chat_id: int, limit: int, min_rowid: int) -> list[PastAnswer]:
    if match is None:
        return []
    hits = (
        "SELECT rowid AS id, bm25(message_fts) AS score FROM message_fts "
        "WHERE message_fts MATCH :q AND rowid > :min_rowid ORDER BY rank LIMIT :n"
        if db.is_sqlite
        else fts_pg.ranked_hits_sql()
    )
    sql = text(
        f"""
        WITH hits AS ({hits}), q AS (
            SELECT m.id, m.chat_id, m.text, m.created_at, h.score,
                (SELECT a.id FROM message a
                  WHERE a.chat_id = m.chat_id AND a.author = 'seller' AND a.state IN ('sent', 'received')
                    AND a.text != '' AND (a.created_at > m.created_at OR (a.created_at = m.created_at AND a.id > m.id))
                  ORDER BY a.created_at, a.id LIMIT 1) AS answer_id
            FROM hits h JOIN message m ON m.id = h.id
            WHERE m.author = 'buyer' AND m.chat_id != :chat
        )
        SELECT q.id, q.text, q.created_at, q.chat_id, acc.marketplace, c.product_id, c.customer, c.order_id,
               c.context, a.id, a.text, a.created_at, q.score
        FROM q JOIN message a ON a.id = q.answer_id JOIN chat c ON c.id = q.chat_id
        JOIN account acc ON acc.id = c.account_id
        ORDER BY q.score, q.id DESC LIMIT :limit
        """
    )
    params = {"q": match, "n": CANDIDATES, "chat": exclude_chat_id, "limit": limit, "min_rowid": min_rowid}
    with db.read() as s:
        rows = s.execute(sql, params).all()
    return [
        PastAnswer(
            question_id=int(r[0]),
            question=str(r[1]),
            asked_at=_dt(r[2]),
            chat_id=int(r[3]),
            marketplace=str(r[4]),
            product_id=r[5],
            customer=r[6],
            order_id=r[7],
            context=str(r[8] or "{}"),
            answer_id=int(r[9]),
            answer=str(r[10]),
            answered_at=_dt(r[11]),
            score=float(r[12]),
        )
        for r in rows
    ]
