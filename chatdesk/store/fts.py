"""Full-text search over messages: the one SQLite-specific part of the store.

An external-content FTS5 table indexes ``message.text`` and triggers keep it in step with
every insert, update and delete, so no code path can forget to index. The ``unicode61``
tokenizer folds case for Cyrillic (and ё/е with ``remove_diacritics 2``), which is what
Russian buyers' text needs. What a query means (stems as word prefixes) is defined once in
:mod:`chatdesk.store.terms`; another engine renders the same terms its own way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text

from chatdesk.store import terms

if TYPE_CHECKING:
    from chatdesk.store.db import Database

# ё/Ё are precomposed Cyrillic letters that unicode61 does not fold; Russian writers use
# ё and е interchangeably, so both the index and the query fold ё -> е.
_FOLD = "replace(replace({col}, 'ё', 'е'), 'Ё', 'Е')"
_NEW, _OLD = _FOLD.format(col="new.text"), _FOLD.format(col="old.text")

_DDL = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5(
        text, content='message', content_rowid='id',
        tokenize="unicode61 remove_diacritics 2")""",
    f"""CREATE TRIGGER IF NOT EXISTS message_fts_ai AFTER INSERT ON message BEGIN
        INSERT INTO message_fts(rowid, text) VALUES (new.id, {_NEW}); END""",
    f"""CREATE TRIGGER IF NOT EXISTS message_fts_ad AFTER DELETE ON message BEGIN
        INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, {_OLD}); END""",
    f"""CREATE TRIGGER IF NOT EXISTS message_fts_au AFTER UPDATE OF text ON message BEGIN
        INSERT INTO message_fts(message_fts, rowid, text) VALUES ('delete', old.id, {_OLD});
        INSERT INTO message_fts(rowid, text) VALUES (new.id, {_NEW}); END""",
]


def install(db: Database) -> None:
    with db.write() as s:
        exists = s.execute(text("SELECT 1 FROM sqlite_master WHERE name='message_fts'")).first()
        for ddl in _DDL:
            s.execute(text(ddl))
        if not exists:
            col = _FOLD.format(col="text")
            s.execute(text(f"INSERT INTO message_fts(rowid, text) SELECT id, {col} FROM message"))


def to_match(query: str) -> str | None:
    """Turn what a user typed into a safe FTS5 MATCH expression with the stemmed semantics of
    :mod:`chatdesk.store.terms` (every word's stem as a word prefix, all required). No FTS
    syntax from the user survives."""
    return terms.to_fts5(terms.search_terms(query))


def search_ids(db: Database, query: str, limit: int = 50) -> list[tuple[int, int]]:
    """(message id, chat id) of the matches, newest stored first (rowid order is cheap in FTS5)."""
    if not db.is_sqlite:  # PostgreSQL: tsvector + GIN, same semantics
        from chatdesk.store import fts_pg

        return fts_pg.search_ids(db, query, limit)
    match = to_match(query)
    if match is None:
        return []
    sql = text(
        "SELECT m.id, m.chat_id FROM "
        "(SELECT rowid FROM message_fts WHERE message_fts MATCH :q ORDER BY rowid DESC LIMIT :n) f "
        "JOIN message m ON m.id = f.rowid ORDER BY m.id DESC"
    )
    with db.read() as s:
        return [(int(r[0]), int(r[1])) for r in s.execute(sql, {"q": match, "n": limit})]
