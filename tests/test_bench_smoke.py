"""The benchmark code keeps working: the generator writes exactly what ingestion writes, and
one cheap figure runs end to end (``make bench`` itself is too slow for CI)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bench.datagen import Spec, write_bulk, write_via_ingest
from chatdesk.store import fts
from chatdesk.store.db import Database

TINY = Spec(chats=8, messages=300, big_chat=120, small_chat=10, seed=5)


def _dump(db: Database) -> tuple[list[tuple], list[tuple]]:
    with db.read() as s:
        chats = [tuple((k, v) for k, v in dict(r).items() if k != "created_at") for r in
                 s.execute(text("SELECT * FROM chat ORDER BY id")).mappings()]
        msgs = [tuple(r) for r in s.execute(text("SELECT * FROM message ORDER BY id"))]
    return chats, msgs


def test_bulk_generator_writes_what_ingestion_writes(tmp_path: Path) -> None:
    bulk = Database(f"sqlite:///{tmp_path / 'bulk.db'}")
    slow = Database(f"sqlite:///{tmp_path / 'slow.db'}")
    try:
        g = write_bulk(bulk, TINY)
        assert (g.chats, g.messages) == (8, 300)
        write_via_ingest(slow, TINY)
        bulk_chats, bulk_msgs = _dump(bulk)
        slow_chats, slow_msgs = _dump(slow)
        assert bulk_chats == slow_chats
        assert bulk_msgs == slow_msgs
        for query in ("заказ", "Ёлочная", "возврат оформ", "шов", "артикул 1"):
            assert fts.search_ids(bulk, query, 1000) == fts.search_ids(slow, query, 1000), query
        assert fts.search_ids(bulk, "елочная", 1000)  # ё folded in the rebuilt index too
        with bulk.read() as s:  # the insert trigger is back: new messages get indexed
            assert s.execute(text("SELECT 1 FROM sqlite_master WHERE name='message_fts_ai'")).first()
    finally:
        bulk.close()
        slow.close()


def test_search_figure_runs_on_a_small_store(tmp_path: Path) -> None:
    from bench.figures import search
    from bench.figures.common import Stores

    path = tmp_path / "small.db"
    db = Database(f"sqlite:///{path}")
    write_bulk(db, TINY)
    db.close()
    result = search.run(Stores(tmp_path, path, TINY))
    assert result.n == 6 and result.ok is True
    assert result.data["per_query_median_s"]["заказ"] < 1.0
