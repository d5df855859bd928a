"""Alembic migrations: a v1 store made by chatdesk before Alembic upgrades in place with every
row kept; a store from a newer chatdesk is refused in one line; the migrated schema equals the
models (so a schema change without a revision fails here)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from chatdesk.errors import StoreError
from chatdesk.store import fts, migrations, views
from chatdesk.store.db import Database
from chatdesk.store.schema import SCHEMA_VERSION, metadata

V1_DUMP = Path(__file__).parent / "data" / "store_v1.sql"
TABLES = ("account", "chat", "message", "outbox", "draft", "syncstate", "lease", "followup")


def _v1_file(path: Path) -> dict[str, list[tuple[object, ...]]]:
    con = sqlite3.connect(path)
    con.executescript(V1_DUMP.read_text())
    rows = {t: con.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in TABLES}
    con.close()
    return rows


def test_v1_sqlite_file_upgrades_in_place_without_losing_a_row(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    before = _v1_file(path)
    assert sum(len(r) for r in before.values()) > 30
    db = Database(f"sqlite:///{path}", create=False)
    with db.read() as s:
        conn = s.connection()
        assert migrations.current(conn) == migrations.head()
        assert s.execute(text("SELECT value FROM meta WHERE key='schema_version'")).scalar() == str(SCHEMA_VERSION)
        for table, rows in before.items():
            got = s.execute(text(f'SELECT count(*) FROM "{table}"')).scalar()
            assert got == len(rows), table
        texts = [r[0] for r in s.execute(text("SELECT text FROM message ORDER BY id"))]
    assert texts == [r[4] for r in before["message"]]
    # The upgraded file works: list, search (index rebuilt), the draft and the queued reply.
    assert views.count_chats(db) == 6
    assert len(fts.search_ids(db, "ёлки")) == 24
    assert views.get_draft(db, before["draft"][0][0]) == "черновик"
    db.close()
    # Opening it again is a no-op (already at head).
    Database(f"sqlite:///{path}", create=False).close()


def test_store_from_a_newer_chatdesk_is_refused_in_one_line(store_url: str) -> None:
    Database(store_url).close()
    db = Database(store_url)
    with db.write() as s:
        s.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    db.close()
    with pytest.raises(StoreError) as err:
        Database(store_url)
    msg = str(err.value)
    assert "newer chatdesk" in msg and "ffff_from_the_future" in msg and "\n" not in msg


def test_newer_schema_version_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    _v1_file(path)
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer chatdesk"):
        Database(f"sqlite:///{path}")
    con = sqlite3.connect(path)  # refused before anything was migrated
    assert con.execute("SELECT value FROM meta").fetchall() == [("99",)]
    assert not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchall()


def test_migrated_schema_equals_the_models(db: Database) -> None:
    """Fails when a table or column is added to schema.py without an Alembic revision."""
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _ours})
        diff = compare_metadata(ctx, metadata())
    assert diff == [], f"schema.py and the migrations disagree; add a revision: {diff}"


def _ours(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    # Engine-specific objects made by revisions on purpose, outside the models: the FTS5
    # tables (SQLite) and the tsvector GIN index (PostgreSQL).
    return not (name or "").startswith(("message_fts", "ix_message_fts"))


def test_every_revision_chains_to_one_head() -> None:
    heads = migrations.script().get_heads()
    assert len(heads) == 1, f"two heads: chain your revision after the newest ({heads})"
