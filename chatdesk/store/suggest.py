"""SQL behind "how did I answer this before": past buyer questions like this one, with the
seller's reply that followed each, found through the full-text index (SQLite FTS5, PostgreSQL
``tsvector``) and ranked with Okapi BM25.

What the query words mean is :mod:`chatdesk.store.terms` (stems as word prefixes); this module
decides which of them the index is asked about (the rarest ones: an index reads the whole
posting list of every word it is asked about) and ranks what it returns over all of them.
"""

from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from chatdesk.store import fts_pg, terms
from chatdesk.store.db import Database, from_db

CANDIDATES = 400
"""How many index hits are ranked: the newest this-many matches (ranking every match of common
words over a million messages costs most of a second; the newest answers are how the seller
answers now). The index holds every author's messages, so this over-fetches to
keep enough buyer questions that have an answer."""

DEDUP_WINDOW = 60
"""How many answered questions are returned at most (before the caller's own ranking)."""

ENOUGH = 3
"""An all-words lookup with at least this many answered questions needs no any-word fallback."""


@dataclass(frozen=True)
class PastAnswer:
    """A buyer question from another chat and the seller's first reply after it.

    ``score`` is Okapi BM25 negated (lower is better, as FTS5's ``bm25()``); ``topic`` the
    question's stored topic tag, None while untagged; times are aware UTC.
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
    topic: str | None = None


@dataclass(frozen=True)
class LatestBuyerMessage:
    id: int
    text: str
    created_at: datetime
    topic: str | None = None


def latest_buyer_message(db: Database, chat_id: int) -> LatestBuyerMessage | None:
    """The newest buyer message of a chat with some text, with its stored topic if tagged, or None."""
    sql = text(
        "SELECT m.id, m.text, m.created_at, t.topic FROM message m LEFT JOIN message_topic t ON t.message_id = m.id "
        "WHERE m.chat_id = :c AND m.author = 'buyer' AND m.text != '' ORDER BY m.created_at DESC, m.id DESC LIMIT 1"
    )
    with db.read() as s:
        row = s.execute(sql, {"c": chat_id}).first()
    if row is None:
        return None
    return LatestBuyerMessage(int(row[0]), str(row[1]), _dt(row[2]), str(row[3]) if row[3] else None)


def _dt(value: object) -> datetime:
    out = from_db(value) if isinstance(value, datetime) else from_db(datetime.fromisoformat(str(value)))
    assert out is not None
    return out


def past_answers(
    db: Database, query_terms: list[terms.Term], exclude_chat_id: int, limit: int = DEDUP_WINDOW
) -> list[PastAnswer]:
    """Buyer messages outside ``exclude_chat_id`` like the query, best first, each with the
    seller's first sent or received reply after it in its chat (a scheduled follow-up is a nudge,
    not an answer, and is skipped); unanswered questions are left out.
    Each carries its stored topic (``message_topic``) when it has been tagged.

    SQLite: the document frequency of every term is read from the index's vocabulary (cached,
    see :func:`document_frequencies`); only the most selective terms go into the MATCH (see
    :func:`selective_terms`): first all of them must occur (AND), and if that finds fewer than
    :data:`ENOUGH` answered questions, any of a wider selective set may (OR). The newest
    :data:`CANDIDATES` index hits of each stage are scored with Okapi BM25 over *all* the query's
    terms. PostgreSQL has no cheap document counts: all terms go to the index (AND, then OR), its
    newest :data:`CANDIDATES` matches are scored with BM25 weighing every term the same (see
    :func:`chatdesk.store.fts_pg.newest_hits_sql`). Raises StoreError on store errors.
    """
    if not query_terms:
        return []
    if not db.is_sqlite and (estimated := pg_document_frequencies(db, query_terms)) is not None:
        return _staged(db, query_terms, exclude_chat_id, limit, *estimated)
    if not db.is_sqlite:
        found = _lookup(db, query_terms, query_terms, "AND", exclude_chat_id, limit)
        if len(found) < ENOUGH and len(query_terms) > 1:
            seen = {p.question_id for p in found}
            found += [
                p
                for p in _lookup(db, query_terms, query_terms, "OR", exclude_chat_id, limit)
                if p.question_id not in seen
            ]
        return found[:limit]
    return _staged(db, query_terms, exclude_chat_id, limit, *document_frequencies(db, query_terms))


def _staged(
    db: Database,
    query_terms: list[terms.Term],
    exclude_chat_id: int,
    limit: int,
    df: dict[terms.Term, int],
    total: int,
) -> list[PastAnswer]:
    found: list[PastAnswer] = []
    strict = selective_terms(query_terms, df, AND_BUDGET, AND_TERMS)
    if strict:
        found = _lookup(db, query_terms, strict, "AND", exclude_chat_id, limit, df, total)
    if len(found) < ENOUGH:
        loose = selective_terms(query_terms, df, OR_BUDGET, OR_TERMS)
        if len(loose) > 1 or loose != strict:
            seen = {p.question_id for p in found}
            more = _lookup(db, query_terms, loose, "OR", exclude_chat_id, limit, df, total)
            found += [p for p in more if p.question_id not in seen]
    return found[:limit]


AND_TERMS, AND_BUDGET = 3, 60_000
"""The all-words stage matches the rarest terms only: at most this many, and beyond the two
rarest only while their summed document frequency stays within the budget. FTS5 reads the whole
posting list of every prefix term in a MATCH, so common stems ("заказ", "товар") would cost
tens of milliseconds each while narrowing nothing the rare ones do not; BM25 still counts them."""

OR_TERMS, OR_BUDGET = 4, 150_000
"""The any-word fallback: the rarest terms, at most this many, beyond the first two only while
their summed document frequency stays within the budget."""

DF_TTL_S = 600.0
"""How long a term's document frequency is reused (per store, per process): document frequency
moves by a fraction of a percent between syncs, and BM25 only needs it roughly."""

_stats: weakref.WeakKeyDictionary[Database, dict[str, tuple[float, int]]] = weakref.WeakKeyDictionary()
"""Per open store: ``"term"``/``"term*"`` -> (monotonic time read, document frequency), and
``""`` -> (time, number of indexed messages)."""


def clear_cache() -> None:
    """Forget cached document frequencies (tests and the bench's cold figure)."""
    _stats.clear()


def _cache_key(t: terms.Term) -> str:
    return _fts_key(t) + ("*" if t.prefix else "")


def _fts_key(t: terms.Term) -> str:
    return t.text.replace("й", "и")  # the index's unicode61 tokenizer folds diacritics (й -> и)


def document_frequencies(db: Database, query_terms: list[terms.Term]) -> tuple[dict[terms.Term, int], int]:
    """(term -> number of indexed messages containing it, number of indexed messages), SQLite.

    Read from the FTS5 vocabulary (``fts5vocab``, a prefix term summed over the words it
    begins); each lookup costs about the term's posting list, so results are reused for
    :data:`DF_TTL_S` seconds per store. Raises StoreError on store errors."""
    now = time.monotonic()
    cache = _stats.setdefault(db, {})
    if len(cache) > 50_000:  # a long-running TUI: keep memory bounded
        cache.clear()
    out: dict[terms.Term, int] = {}
    missing = []
    for t in query_terms:
        hit = cache.get(_cache_key(t))
        if hit is not None and now - hit[0] < DF_TTL_S:
            out[t] = hit[1]
        else:
            missing.append(t)
    cached_total = cache.get("")
    with db.read() as s:
        if missing:
            s.execute(
                text("CREATE VIRTUAL TABLE IF NOT EXISTS temp.message_vocab USING fts5vocab(main, message_fts, 'row')")
            )
        for t in missing:
            key = _fts_key(t)
            if t.prefix:
                sql = "SELECT coalesce(sum(doc), 0) FROM temp.message_vocab WHERE term >= :a AND term < :b"
                n = int(s.execute(text(sql), {"a": key, "b": key + "\U0010ffff"}).scalar() or 0)
            else:
                sql = "SELECT coalesce(sum(doc), 0) FROM temp.message_vocab WHERE term = :a"
                n = int(s.execute(text(sql), {"a": key}).scalar() or 0)
            out[t] = n
            cache[_cache_key(t)] = (now, n)
        if cached_total is not None and now - cached_total[0] < DF_TTL_S:
            total = cached_total[1]
        else:
            total = int(s.execute(text("SELECT coalesce(max(rowid), 0) FROM message_fts")).scalar() or 0) or 1
            cache[""] = (now, total)
    return out, total


def pg_document_frequencies(db: Database, query_terms: list[terms.Term]) -> tuple[dict[terms.Term, int], int] | None:
    """PostgreSQL's estimate of :func:`document_frequencies`, from the planner's statistics of
    the search index (:func:`chatdesk.store.fts_pg.lexeme_statistics`): a prefix term sums the
    listed lexemes it begins; a term with none listed gets half the smallest listed share (it
    is rarer than all of them). None without statistics (a store never analyzed)."""
    stats = fts_pg.lexeme_statistics(db)
    if stats is None:
        return None
    shares, floor, total = stats
    out: dict[terms.Term, int] = {}
    for t in query_terms:
        share = sum(v for k, v in shares.items() if (k.startswith(t.text) if t.prefix else k == t.text))
        out[t] = max(1, round((share or floor / 2) * total))
    return out, max(total, 1)


def selective_terms(
    query_terms: list[terms.Term], df: dict[terms.Term, int], budget: int, most: int
) -> list[terms.Term]:
    """The rarest terms that occur at all (document frequency > 0), rarest first: the two rarest
    always, more (up to ``most``) while the summed document frequency stays within ``budget``."""
    present = sorted((t for t in query_terms if df.get(t, 0) > 0), key=lambda t: (df[t], t.text))
    chosen: list[terms.Term] = []
    spent = 0
    for t in present[:most]:
        if len(chosen) >= 2 and spent + df[t] > budget:
            break
        chosen.append(t)
        spent += df[t]
    return chosen


def _lookup(
    db: Database,
    query_terms: list[terms.Term],
    match_terms: list[terms.Term],
    op: str,
    exclude_chat_id: int,
    limit: int,
    df: dict[terms.Term, int] | None = None,
    total: int = 1,
) -> list[PastAnswer]:
    match = (terms.to_fts5 if db.is_sqlite else terms.to_tsquery)(match_terms, op=op)
    if match is None:
        return []
    # SQLite: the newest CANDIDATES matches (FTS5 walks rowids newest first and stops early);
    # FTS5's own bm25() would read every match's doclist to count documents, ~0.3 s on 1M
    # messages, so BM25 is computed in Python over the candidates (see bm25).
    hits = (
        "SELECT rowid AS id, 0.0 AS score FROM message_fts WHERE message_fts MATCH :q ORDER BY rowid DESC LIMIT :n"
        if db.is_sqlite
        else fts_pg.newest_hits_sql()
    )
    sql = text(
        f"""
        WITH hits AS ({hits}), q AS (
            SELECT m.id, m.chat_id, m.text, m.created_at, h.score,
                (SELECT a.id FROM message a
                  WHERE a.chat_id = m.chat_id AND a.author = 'seller' AND a.state IN ('sent', 'received')
                    AND a.text != '' AND (a.created_at > m.created_at OR (a.created_at = m.created_at AND a.id > m.id))
                    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = a.id AND o.followup_id IS NOT NULL)
                  ORDER BY a.created_at, a.id LIMIT 1) AS answer_id
            FROM hits h JOIN message m ON m.id = h.id
            WHERE m.author = 'buyer' AND m.chat_id != :chat
        )
        SELECT q.id, q.text, q.created_at, q.chat_id, acc.marketplace, c.product_id, c.customer, c.order_id,
               c.context, a.id, a.text, a.created_at, q.score, t.topic
        FROM q JOIN message a ON a.id = q.answer_id JOIN chat c ON c.id = q.chat_id
        JOIN account acc ON acc.id = c.account_id
        LEFT JOIN message_topic t ON t.message_id = q.id
        ORDER BY q.score, q.id DESC LIMIT :limit
        """
    )
    params = {
        "q": match,
        "n": CANDIDATES,
        "chat": exclude_chat_id,
        "limit": CANDIDATES,
    }
    with db.read() as s:
        rows = s.execute(sql, params).all()
    scores = [float(r[12]) for r in rows]
    if rows:
        if df is None:  # PostgreSQL: no cheap document counts; every term weighs the same
            df, total = dict.fromkeys(query_terms, 1), 2
        scores = bm25(query_terms, [str(r[1]) for r in rows], df, total)
        best = sorted(range(len(rows)), key=lambda i: (scores[i], -int(rows[i][0])))[:limit]
        rows = [rows[i] for i in best]
        scores = [scores[i] for i in best]
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
            score=score,
            topic=str(r[13]) if r[13] else None,
        )
        for r, score in zip(rows, scores, strict=True)
    ]


K1, B, AVG_WORDS = 1.2, 0.75, 12.0
"""BM25 parameters (the usual k1 and b; buyer questions average about a dozen words)."""


def bm25(query_terms: list[terms.Term], texts: list[str], df: dict[terms.Term, int], total: int) -> list[float]:
    """Okapi BM25 of each of ``texts`` for ``query_terms``, negated (lower is better, as FTS5's
    ``bm25()``): document frequencies ``df`` out of ``total`` indexed messages (see
    :func:`document_frequencies`), term counts and length from each text's words (a prefix term
    counts every word it begins). Parameters :data:`K1`, :data:`B`, :data:`AVG_WORDS`."""
    idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in df.items()}
    matches: dict[str, tuple[terms.Term, ...]] = {}  # word -> the terms it matches

    def terms_of(w: str) -> tuple[terms.Term, ...]:
        got = matches.get(w)
        if got is None:
            got = matches[w] = tuple(t for t in query_terms if (w.startswith(t.text) if t.prefix else w == t.text))
        return got

    out: list[float] = []
    for text_ in texts:
        ws = terms.words(text_)
        norm = K1 * (1 - B + B * (len(ws) or 1) / AVG_WORDS)
        tf: dict[terms.Term, int] = {}
        for w in ws:
            for t in terms_of(w):
                tf[t] = tf.get(t, 0) + 1
        out.append(-sum(idf.get(t, 0.0) * n * (K1 + 1) / (n + norm) for t, n in tf.items()))
    return out
