"""One search suite, run on SQLite (FTS5) and on PostgreSQL (tsvector + GIN): the same query
finds the same messages on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from chatdesk.model import MessageInfo, Page
from chatdesk.store import accounts, fts, ingest
from chatdesk.store.db import Database

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CORPUS = [
    "Ёлочная ИГРУШКА пришла разбитой",
    "Когда будет доставка заказа?",
    "Доставку перенесли на пятницу",
    "Размер XL есть в наличии?",
    "не пришёл чек",
    "Оплата прошла, жду",
    'Кавычки "внутри" и звёздочка * и двоеточие: & | ! ( )',
]


@pytest.fixture
def filled(db: Database) -> Database:
    acc = accounts.add_account(db, "wb", "wildberries")
    msgs = tuple(MessageInfo(f"c{i % 3}", f"m{i}", "buyer", t, T0 + timedelta(minutes=i)) for i, t in enumerate(CORPUS))
    ingest.apply_page(db, acc.id, "chats", Page(messages=msgs))
    return db


def _found(db: Database, query: str) -> list[str]:
    ids = [mid for mid, _ in fts.search_ids(db, query)]
    with db.read() as s:
        by_id = {r[0]: r[1] for r in s.execute(text("SELECT id, text FROM message"))}
    return [by_id[i] for i in ids]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("игрушка", [CORPUS[0]]),  # case folded
        ("елочная", [CORPUS[0]]),  # ё read as е, in the index and the query
        ("ёлочн", [CORPUS[0]]),  # the last word is a prefix (search as you type)
        ("доставк", [CORPUS[2], CORPUS[1]]),  # newest first
        ("размер xl", [CORPUS[3]]),  # every word required, Latin as typed
        ("размер xxl", []),
        ("не пришёл", [CORPUS[4]]),  # "не" is a word to find, not a stop word
        ("оплата", [CORPUS[5]]),
        ('"внутри" * : & | ! ( )', [CORPUS[6]]),  # no user character acts as query syntax
        ("звездочка", [CORPUS[6]]),
        ("& | !", []),
        ("", []),
        ("   ", []),
    ],
)
def test_same_query_same_messages_on_both_engines(filled: Database, query: str, expected: list[str]) -> None:
    assert _found(filled, query) == expected


def test_search_follows_edits_and_deletes(filled: Database) -> None:
    with filled.write() as s:
        s.execute(text("UPDATE message SET text = 'совсем другое' WHERE external_id = 'm5'"))
        s.execute(text("DELETE FROM message WHERE external_id = 'm0'"))
    assert _found(filled, "оплата") == []
    assert _found(filled, "игрушка") == []
    assert _found(filled, "другое") == ["совсем другое"]


def test_limit_keeps_the_newest(filled: Database) -> None:
    assert len(fts.search_ids(filled, "доставк", limit=1)) == 1
    assert _found(filled, "доставк")[:1] == [CORPUS[2]]


def test_postgresql_search_uses_the_gin_index(filled: Database, engine_name: str) -> None:
    if engine_name != "postgresql":
        pytest.skip("PostgreSQL's index")
    from chatdesk.store import fts_pg, terms

    tsq = terms.to_tsquery(terms.search_terms("доставка заказа"))
    sql = f"EXPLAIN SELECT m.id FROM message m WHERE {fts_pg.INDEXED} @@ to_tsquery('simple', :q)"
    with filled.write() as s:
        s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in s.execute(text(sql), {"q": tsq}))
    assert "ix_message_fts" in plan, plan
