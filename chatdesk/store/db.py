"""Opening the store: engine, SQLite tuning, schema version, read and write transactions.

Everything SQLite-specific about the connection lives in ``_tune_sqlite``: WAL so readers
(the TUI) never wait for the writer (sync), a busy timeout so concurrent writers queue
instead of failing, and ``BEGIN IMMEDIATE`` for write transactions so two processes never
deadlock upgrading a read lock. Another engine (PostgreSQL) gets none of this.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine

from chatdesk.errors import StoreError
from chatdesk.store import schema
from chatdesk.store.schema import SCHEMA_VERSION, Meta

BUSY_TIMEOUT_MS = 30_000


def utcnow() -> datetime:
    """Aware UTC now: every time in the store is aware UTC (SQLModel stores it as UTC)."""
    return datetime.now(UTC)


def to_db(dt: datetime | None) -> datetime | None:
    """Aware UTC for the DB; a naive value is taken to be UTC already."""
    if dt is None or dt.tzinfo is UTC:
        return dt
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def from_db(dt: datetime | None) -> datetime | None:
    """Aware UTC from the DB (engines without time zones hand back naive UTC)."""
    return to_db(dt)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # WAL rewrites the file header: only for a new file or our own, never a foreign DB
        # that is about to be refused (it must be left byte-for-byte as it was).
        tables = {r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables or "meta" in tables:
            cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()
        # SQLite's lower() folds ASCII only; filters must find "Борис" when the user types "бор".
        dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        immediate = conn.get_execution_options().get("write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _explain(exc: BaseException, where: str) -> StoreError:
    msg = str(getattr(exc, "orig", exc) or exc).splitlines()[0]
    low = msg.lower()
    if "not a database" in low or "file is encrypted" in low:
        return StoreError(f"{where} is not a chatdesk database (not an SQLite file)")
    if "disk is full" in low or "disk i/o" in low:
        return StoreError(f"cannot write {where}: the disk is full; nothing was changed")
    if "readonly" in low or "read-only" in low or "unable to open" in low:
        return StoreError(f"cannot open {where} for writing: {msg}")
    return StoreError(f"database error on {where}: {msg}")


class Database:
    """An open store. Thread-safe: every call opens its own short session."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self._watch_conn: Connection | None = None
        self._watch_lock = threading.Lock()
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.where = parsed.database if self.is_sqlite and parsed.database else parsed.render_as_string()
        kwargs: dict[str, object] = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
            if parsed.database and parsed.database != ":memory:":
                _create_private_file(Path(parsed.database))
        self.engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        try:
            self._check_and_migrate(create)
        except StoreError:
            self.engine.dispose()
            raise
        except (DatabaseError, OperationalError) as exc:
            self.engine.dispose()
            raise _explain(exc, self.where) from None
        if self.is_sqlite:
            from chatdesk.store import fts

            fts.install(self)

    def _check_and_migrate(self, create: bool) -> None:
        insp = inspect(self.engine)
        tables = set(insp.get_table_names())
        if tables and "meta" not in tables:
            raise StoreError(f"{self.where} is not a chatdesk database (it has other tables)")
        if "meta" in tables:
            with self.read() as s:
                row = s.get(Meta, "schema_version")
            version = int(row.value) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.where} was written by a newer chatdesk (schema {version}, this one "
                    f"understands {SCHEMA_VERSION}); upgrade chatdesk to open it"
                )
        if not create and not tables:
            raise StoreError(f"{self.where} has no chatdesk data")
        assert schema  # tables are registered on SQLModel.metadata by importing schema
        SQLModel.metadata.create_all(self.engine)
        with self.write() as s:
            if s.get(Meta, "schema_version") is None:
                s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only snapshot; never takes the write lock."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
        except (DatabaseError, OperationalError, sqlite3.DatabaseError) as exc:  # raw: sqlite_fast
            raise _explain(exc, self.where) from None

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on exit."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(write=True)
                with Session(bind=conn, expire_on_commit=False) as session:
                    yield session
                    session.commit()
        except (DatabaseError, OperationalError, sqlite3.DatabaseError) as exc:  # raw: sqlite_fast
            raise _explain(exc, self.where) from None

    def data_version(self) -> int | None:
        """SQLite's counter that changes when another connection commits (cheap change check)."""
        if not self.is_sqlite:
            return None
        with self._watch_lock:
            try:
                if self._watch_conn is None:
                    self._watch_conn = self.engine.connect()
                value = int(self._watch_conn.exec_driver_sql("PRAGMA data_version").scalar() or 0)
                # End the implicit transaction: inside one, the snapshot (and the value) never changes.
                self._watch_conn.rollback()
                return value
            except SQLAlchemyError:
                return None

    def close(self) -> None:
        with self._watch_lock:
            if self._watch_conn is not None:
                self._watch_conn.close()
                self._watch_conn = None
        self.engine.dispose()


def _create_private_file(path: Path) -> None:
    """Create the DB file 0600 (SQLite gives its -wal/-shm files the same mode)."""
    if path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror or exc}") from None

