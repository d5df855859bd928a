"""Full-text search over messages on PostgreSQL: the PostgreSQL-specific half of search.

The index (made by migration ``0002``) is a GIN index over
``to_tsvector('chatdesk_ru', translate(text, 'ёЁ', 'еЕ'))``. ``chatdesk_ru`` is the ``russian``
configuration with two changes: the Snowball Russian stemmer without a stop-word list (a
search for "не пришёл" must be able to require "не", as on SQLite) and Latin words indexed as
written (``simple``: lower-cased, not English-stemmed, as SQLite's ``unicode61`` does).

Query semantics are those of SQLite FTS5, defined once in :mod:`chatdesk.store.terms`: each
word reduced to its Snowball Russian stem (PyStemmer runs the same algorithm as the index's
dictionary) and matched as a word prefix, short words exactly except the last, every word
required. The terms are rendered by :func:`terms.to_tsquery` for ``to_tsquery('simple', …)``
(no second stemming), so no character the user typed acts as tsquery syntax.
``tests/test_search_engines.py`` and ``tests/assist/test_stemmed_search.py`` run on both engines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text

from chatdesk.store import terms

if TYPE_CHECKING:
    from chatdesk.store.db import Database

INDEXED = "to_tsvector('chatdesk_ru'::regconfig, translate(m.text, 'ёЁ', 'еЕ'))"


def search_ids(db: Database, query: str, limit: int = 50) -> list[tuple[int, int]]:
    """(message id, chat id) of the matches, newest stored first (as on SQLite)."""
    tsq = terms.to_tsquery(terms.search_terms(query))
    if tsq is None:
        return []
    sql = text(
        f"SELECT m.id, m.chat_id FROM message m WHERE {INDEXED} @@ to_tsquery('simple', :q) ORDER BY m.id DESC LIMIT :n"
    )
    with db.read() as s:
        return [(int(r[0]), int(r[1])) for r in s.execute(sql, {"q": tsq, "n": limit})]


def ranked_hits_sql() -> str:
    """SQL selecting ``id`` and ``score`` (lower is better, like FTS5's ``bm25()``) of messages
    matching ``to_tsquery('simple', :q)`` with ``id > :min_rowid``, best :n first."""
    return (
        f"SELECT m.id AS id, -ts_rank_cd({INDEXED}, to_tsquery('simple', :q)) AS score FROM message m "
        f"WHERE {INDEXED} @@ to_tsquery('simple', :q) AND m.id > :min_rowid ORDER BY score, m.id DESC LIMIT :n"
    )


def newest_hits_sql() -> str:
    """SQL selecting ``id`` and ``score`` (0.0) of the newest :n messages matching
    ``to_tsquery('simple', :q)``: the candidates of a suggestion lookup, ranked by the caller.
    ``ts_rank_cd`` over every match would recompute each matching message's ``tsvector`` (the
    index stores none): seconds for common words over a million messages."""
    return (
        f"SELECT m.id AS id, 0.0 AS score FROM message m WHERE {INDEXED} @@ to_tsquery('simple', :q) "
        "ORDER BY m.id DESC LIMIT :n"
    )


def lexeme_statistics(db: Database) -> tuple[dict[str, float], float, int] | None:
    """The planner's statistics of the search index (``pg_stats`` of ``ix_message_fts``, kept by
    ANALYZE/autovacuum): (lexeme -> share of messages containing it, for the most common
    lexemes; the smallest share listed, below which every other lexeme lies; number of
    messages). None when the index has not been analyzed yet. One catalog read, no scan."""
    with db.read() as s:
        row = s.execute(
            text(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                "WHERE tablename = 'ix_message_fts'"
            )
        ).first()
        rows = s.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'message'")).scalar()
    if row is None or not row[0] or not row[1] or rows is None or float(rows) <= 0:
        return None
    elems, freqs = list(row[0]), [float(f) for f in row[1]]
    # PostgreSQL appends the minimum, the maximum and the null fraction to the frequencies.
    shares = dict(zip(elems, freqs[: len(elems)], strict=False))
    floor = freqs[len(elems)] if len(freqs) > len(elems) else min(shares.values())
    return shares, floor, int(float(rows))
