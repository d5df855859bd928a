"""Full-text search over messages on PostgreSQL: the PostgreSQL-specific half of search.

The index (made by migration ``0002``) is a GIN index over
``to_tsvector('chatdesk_ru', translate(text, 'ёЁ', 'еЕ'))``. ``chatdesk_ru`` is the ``russian``
configuration with two changes: the Snowball Russian stemmer without a stop-word list (a
search for "не пришёл" must be able to require "не", as on SQLite) and Latin words indexed as
written (``simple``: lower-cased, not English-stemmed, as SQLite's ``unicode61`` does).

Query semantics are those of SQLite FTS5 in :mod:`chatdesk.store.fts`: each word of the query
is reduced to its stem by the same Snowball Russian stemmer and matched as a prefix, and every
word is required; no character the user typed acts as tsquery syntax (each word is passed as a
quoted literal). ``tests/test_search_engines.py`` runs one suite on both engines.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from chatdesk.store.db import Database

CONFIG = "chatdesk_ru"
INDEXED = "to_tsvector('chatdesk_ru'::regconfig, translate(m.text, 'ёЁ', 'еЕ'))"
MAX_WORDS = 12
_WORD = re.compile(r"\w+", re.UNICODE)


def words(query: str) -> list[str]:
    """The query's words (``\\w+`` runs, ё read as е, lower-cased), at most :data:`MAX_WORDS`."""
    return _WORD.findall(query.lower().replace("ё", "е"))[:MAX_WORDS]


def _tsquery(ws: list[str]) -> tuple[str, dict[str, str]]:
    """SQL for "every word's stem as a prefix, all required": each word goes through
    ``to_tsquery`` on its own as a bound, quoted value (so it is stemmed like the index and
    cannot act as an operator), then the parts are AND-ed. A word the stemmer drops entirely
    (nothing left to match) is skipped, as FTS5 skips a word its tokenizer drops."""
    parts = []
    params: dict[str, str] = {}
    for i, w in enumerate(ws):
        params[f"w{i}"] = "'" + w.replace("'", "") + "':*"
        parts.append(f"to_tsquery('{CONFIG}'::regconfig, :w{i})")
    return " && ".join(parts), params


def search_ids(db: Database, query: str, limit: int = 50) -> list[tuple[int, int]]:
    """(message id, chat id) of the matches, newest stored first (as on SQLite)."""
    ws = words(query)
    if not ws:
        return []
    tsq, params = _tsquery(ws)
    sql = text(f"SELECT m.id, m.chat_id FROM message m WHERE {INDEXED} @@ ({tsq}) ORDER BY m.id DESC LIMIT :n")
    with db.read() as s:
        return [(int(r[0]), int(r[1])) for r in s.execute(sql, {**params, "n": limit})]
