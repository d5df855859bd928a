"""Alembic migrations of the store, for SQLite and PostgreSQL alike.

They run programmatically when a store is opened (:func:`upgrade`), never from an
``alembic.ini``. Revision ``0001`` is the schema chatdesk shipped as "schema version 1"; a
file made before Alembic came in (a ``meta`` table saying version 1, no ``alembic_version``)
is stamped ``0001`` and upgraded in place. A store whose revision this code does not know was
written by a newer chatdesk and is refused in one line.

Adding a table or column: change ``chatdesk/store/schema.py`` and add a revision in
``versions/`` chained after the newest (``tests/test_migrations.py`` compares the migrated
schema with the models and fails until both agree).
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

HERE = Path(__file__).resolve().parent
LEGACY_REVISION = "0001"  # what "schema version 1" (before Alembic) corresponds to


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def script() -> ScriptDirectory:
    """The revision scripts, read once per process: they ship with the code and never change
    while it runs, and reading them costs ~35 ms (every store open asks twice)."""
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this code knows."""
    found = script().get_current_head()
    assert found is not None
    return found


def current(connection: Connection) -> str | None:
    """The store's revision (None when it has no ``alembic_version`` table or row)."""
    return MigrationContext.configure(connection).get_current_revision()


def known(revision: str) -> bool:
    return revision in {r.revision for r in script().walk_revisions()}


def upgrade(connection: Connection, *, stamp_legacy: bool) -> None:
    """Bring the store to :func:`head` inside the caller's transaction."""
    from alembic import command

    cfg = alembic_config(connection)
    if stamp_legacy:
        command.stamp(cfg, LEGACY_REVISION)
    command.upgrade(cfg, "head")
