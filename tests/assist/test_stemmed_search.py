"""Issue 13 item 6: search finds inflected Russian words wherever they are in the query,
in the store (what the TUI search calls) and in ``chatdesk search`` alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from chatdesk.cli import app
from chatdesk.model import MessageInfo, Page
from chatdesk.store import accounts, fts, ingest, terms
from chatdesk.store.db import Database

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

CORPUS = [
    "Будет ли поставка в размере XL? Сейчас нет в наличии.",
    "Пришлите, пожалуйста, фото бирки, мы разберёмся.",
    "Отправила фото бирку и чек",
    "Размеры маломерят?",
    "Когда будет доставка заказа?",
    "Доставку перенесли на пятницу",
    "Спасибо, всё пришло",
    "Фотоаппарат не нужен",
]


def _fill(db: Database) -> None:
    acc = accounts.add_account(db, "wb", "wildberries")
    msgs = tuple(
        MessageInfo(f"c{i}", f"m{i}", "buyer", text, T0 + timedelta(minutes=i)) for i, text in enumerate(CORPUS)
    )
    ingest.apply_page(db, acc.id, "chats", Page(messages=msgs))


def _texts(db: Database, query: str) -> set[str]:
    ids = [mid for mid, _ in fts.search_ids(db, query)]
    with db.read() as s:
        from sqlalchemy import text

        rows = s.execute(text("SELECT id, text FROM message")).all()
    by_id = {r[0]: r[1] for r in rows}
    return {by_id[i] for i in ids}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("размер XL", {CORPUS[0]}),  # the example: failed before (only the last word was a prefix)
        ("размере xl", {CORPUS[0]}),
        ("фото бирка", {CORPUS[1], CORPUS[2]}),  # the second example
        ("бирки", {CORPUS[1], CORPUS[2]}),
        ("размер", {CORPUS[0], CORPUS[3]}),
        ("доставка", {CORPUS[4], CORPUS[5]}),
        ("ДОСТАВКОЙ", {CORPUS[4], CORPUS[5]}),
        ("все пришло", {CORPUS[6]}),  # ё read as е in the index and the query
        ("поставки размеров", {CORPUS[0]}),
        ("разм", {CORPUS[0], CORPUS[3]}),  # the word being typed stays a prefix
        ("в наличии", {CORPUS[0]}),  # a short word must match a whole word ("в", not "вы...")
        ("бирка xl", set()),  # every word must occur
    ],
)
def test_inflected_forms_are_found(db: Database, query: str, expected: set[str]) -> None:
    _fill(db)
    assert _texts(db, query) == expected


def test_query_syntax_from_the_user_is_inert(db: Database) -> None:
    _fill(db)
    for hostile in ['" OR *', "NEAR(a b)", "text:размер", "-размер", "^размер", "размер*", "(", '"']:
        fts.search_ids(db, hostile)  # never raises
    assert _texts(db, "размер*") == _texts(db, "размер")


def test_the_semantics_render_the_same_for_both_engines() -> None:
    t = terms.search_terms("Размер XL в фото бирка")
    assert t == [
        terms.Term("размер", True),
        terms.Term("xl", False),
        terms.Term("в", False),
        terms.Term("фот", True),
        terms.Term("бирк", True),
    ]
    assert terms.to_fts5(t) == '"размер"* AND "xl" AND "в" AND "фот"* AND "бирк"*'
    assert terms.to_tsquery(t) == "размер:* & xl & в & фот:* & бирк:*"
    assert terms.to_fts5(terms.search_terms("  ,.!")) is None


def test_cli_search_finds_inflections(store_url: str) -> None:
    url = store_url
    db = Database(url)
    _fill(db)
    db.close()
    result = CliRunner().invoke(app, ["--db", url, "search", "размер XL", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert [h["message"]["text"] for h in hits] == [CORPUS[0]]
    result = CliRunner().invoke(app, ["--db", url, "search", "фото бирка", "--json"])
    assert len(json.loads(result.output)) == 2
