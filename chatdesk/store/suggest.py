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
"""How many index hits are ranked: on SQLite the newest this-many matches (ranking every match
of common words over a million messages costs most of a second; the newest answers are how
the seller answers now). The index holds every author's messages, so this over-fetches to
keep enough buyer questions that have an answer."""

DEDUP_WINDOW = 60
"""How many answered questions are returned at most (before the caller's own ranking)."""

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

    First every term must occur (AND); if that finds fewer than :data:`ENOUGH`, any term may
    occur (OR). Each stage ranks the newest :data:`CANDIDATES` matches on SQLite (BM25 computed
    here from the index's document counts), PostgreSQL with ``ts_rank_cd`` over the same terms
    (see :mod:`chatdesk.store.fts_pg`). Raises StoreError on store errors.
    """
    if not query_terms:
        return []
    found = _lookup(db, query_terms, "AND", exclude_chat_id, limit)
    if len(found) < ENOUGH and len(query_terms) > 1:
        seen = {p.question_id for p in found}
        more = _lookup(db, query_terms, "OR", exclude_chat_id, limit)
        found += [p for p in more if p.question_id not in seen]
    return found[:limit]


def _lookup(db: Database, query_terms: list[terms.Term], op: str, exclude_chat_id: int, limit: int) -> list[PastAnswer]:
    match = (terms.to_fts5 if db.is_sqlite else terms.to_tsquery)(query_terms, op=op)
    if match is None:
        return []
    # SQLite: the newest CANDIDATES matches (FTS5 walks rowids newest first and stops early);
    # FTS5's own bm25() would read every match's doclist to count documents, ~0.3 s on 1M
    # messages, so BM25 is computed in Python over the candidates (see _bm25).
    hits = (
        "SELECT rowid AS id, 0.0 AS score FROM message_fts WHERE message_fts MATCH :q ORDER BY rowid DESC LIMIT :n"
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
    params = {
        "q": match,
        "n": CANDIDATES,
        "chat": exclude_chat_id,
        "limit": CANDIDATES if db.is_sqlite else limit,
        "min_rowid": 0,  # PostgreSQL's ranked_hits_sql takes it: every match is looked at
    }
    with db.read() as s:
        rows = s.execute(sql, params).all()
    found = [
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
    if db.is_sqlite and found:
        found = _bm25(db, query_terms, found)[:limit]
    return found


K1, B, AVG_WORDS = 1.2, 0.75, 12.0
"""BM25 parameters (the usual k1 and b; buyer questions average about a dozen words)."""


def _bm25(db: Database, query_terms: list[terms.Term], found: list[PastAnswer]) -> list[PastAnswer]:
    """``found`` scored by Okapi BM25 (negative, lower is better, as FTS5's ``bm25()``): the
    document frequency of each term from the index's vocabulary (``fts5vocab``), term counts
    and length from each question's words; best first, newest first among equals."""
    import math
    from dataclasses import replace

    with db.read() as s:
        s.execute(
            text("CREATE VIRTUAL TABLE IF NOT EXISTS temp.message_vocab USING fts5vocab(main, message_fts, 'row')")
        )
        total = int(s.execute(text("SELECT coalesce(max(rowid), 0) FROM message_fts")).scalar() or 0) or 1
        df: dict[terms.Term, int] = {}
        for t in query_terms:
            key = t.text.replace("й", "и")  # the index's unicode61 tokenizer folds diacritics
            if t.prefix:
                sql = "SELECT coalesce(sum(doc), 0) FROM temp.message_vocab WHERE term >= :a AND term < :b"
                df[t] = int(s.execute(text(sql), {"a": key, "b": key + "\U0010ffff"}).scalar() or 0)
            else:
                sql = "SELECT coalesce(sum(doc), 0) FROM temp.message_vocab WHERE term = :a"
                df[t] = int(s.execute(text(sql), {"a": key}).scalar() or 0)
    idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in df.items()}
    scored = []
    for p in found:
        ws = terms.words(p.question)
        length = len(ws) or 1
        score = 0.0
        for t in query_terms:
            tf = sum(1 for w in ws if (w.startswith(t.text) if t.prefix else w == t.text))
            if tf:
                score += idf[t] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / AVG_WORDS))
        scored.append(replace(p, score=-score))
    scored.sort(key=lambda p: (p.score, -p.question_id))
    return scored
