"""Opening the store: engine, engine tuning, migrations, read and write transactions, change watch.

Two engines, one behaviour. A ``sqlite:///`` URL (the default, a file in the data dir) or a
``postgresql+psycopg://`` URL (team mode; ``postgresql://`` and ``postgres://`` mean the same).

Everything SQLite-specific about the connection lives in ``_tune_sqlite``: WAL so readers
(the TUI) never wait for the writer (sync), a busy timeout so concurrent writers queue
instead of failing, and ``BEGIN IMMEDIATE`` for write transactions so two processes never
deadlock upgrading a read lock; other processes' commits are noticed through
``PRAGMA data_version``. PostgreSQL gets its own in ``_tune_postgresql``: sessions in UTC,
and every write transaction announces itself with ``NOTIFY`` (delivered at commit) so open
TUIs elsewhere reload, with the WAL position as a polling fallback when LISTEN is unavailable.

The schema is brought up to date by Alembic (``chatdesk/store/migrations``) at open.
"""

from __future__ import annotations

import contextlib
import os
import select
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import Table, event, inspect, text
from sqlalchemy.engine import URL, Connection, CursorResult, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError, SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine

from chatdesk.errors import StoreError
from chatdesk.store import migrations
from chatdesk.store.schema import SCHEMA_VERSION, Meta

if TYPE_CHECKING:  # an optional dependency (PostgreSQL only): imported where it is used
    import psycopg

BUSY_TIMEOUT_MS = 30_000
CHANGES_CHANNEL = "chatdesk_changes"  # LISTEN/NOTIFY channel of PostgreSQL stores
MIGRATION_LOCK = 0x63686174  # pg_advisory_xact_lock key: one process migrates at a time ("chat")
# How often :meth:`Database.wait_for_change` re-reads a version that cannot be waited on (SQLite's
# ``PRAGMA data_version``, PostgreSQL's WAL-position fallback): half of it is the average delay
# before a TUI sees another process's commit. One check costs tens of microseconds.
CHANGE_POLL_S = 0.1


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE matched (the fencing check of every conditional write).

    ``Session.execute`` is typed to return ``Result`` for every statement; for DML it is a
    ``CursorResult``, the only kind that carries ``rowcount``. Raises ``TypeError`` if handed
    the result of a SELECT (a programming error: its row count is not what was changed)."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"rowcount needs the result of an UPDATE or DELETE, not {type(result).__name__}")
    return int(result.rowcount)


def table_of(model: type[SQLModel]) -> Table:
    """The ``Table`` a table model is mapped to (what ``Model.__table__`` is at run time; SQLModel
    does not declare that attribute to type checkers). Raises ``TypeError`` for a model that is
    not a plain table model."""
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


def utcnow() -> datetime:
    """Aware UTC now: every time in the store is aware UTC (SQLModel stores it as UTC)."""
    return datetime.now(UTC)


@overload
def to_db(dt: datetime) -> datetime: ...
@overload
def to_db(dt: None) -> None: ...
@overload
def to_db(dt: datetime | None) -> datetime | None: ...
def to_db(dt: datetime | None) -> datetime | None:
    """Aware UTC for the DB; a naive value is taken to be UTC already."""
    if dt is None or dt.tzinfo is UTC:
        return dt
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@overload
def from_db(dt: datetime) -> datetime: ...
@overload
def from_db(dt: None) -> None: ...
@overload
def from_db(dt: datetime | None) -> datetime | None: ...
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
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _tune_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: psycopg.Connection[Any], _record: object) -> None:
        # Times are compared and shown in UTC whatever the server's or role's TimeZone says.
        with dbapi_conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
        dbapi_conn.commit()


def normalize_url(url: str) -> URL:
    """Parse a store URL; PostgreSQL URLs without a driver get psycopg 3.

    Raises StoreError (one line) for a URL SQLAlchemy cannot parse or an engine chatdesk does
    not support (only SQLite and PostgreSQL are)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError("the store URL is not valid (expected sqlite:///PATH or postgresql+psycopg://…)") from None
    backend = parsed.get_backend_name()
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"unsupported store engine {backend!r}: use sqlite:///PATH or postgresql+psycopg://…")
    if backend == "postgresql":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise StoreError(
                "a PostgreSQL store needs the psycopg driver: pip install 'chatdesk[pg]' (module psycopg missing)"
            ) from None
    return parsed


def _unicode_lower(value: str | bytes | int | float | None) -> str | bytes | int | float | None:
    """SQLite's ``lower()`` for any value SQLite hands a function (text is folded, others kept)."""
    return value.lower() if isinstance(value, str) else value


def _explain(exc: BaseException, where: str) -> StoreError:
    exc = _root_cause(exc)
    msg = str(getattr(exc, "orig", exc) or exc).splitlines()[0]
    low = msg.lower()
    if "not a database" in low or "file is encrypted" in low:
        return StoreError(f"{where} is not a chatdesk database (not an SQLite file)")
    if "disk is full" in low or "disk i/o" in low:
        return StoreError(f"cannot write {where}: the disk is full; nothing was changed")
    if "readonly" in low or "read-only" in low or "unable to open" in low:
        return StoreError(f"cannot open {where} for writing: {msg}")
    return StoreError(f"database error on {where}: {msg}")


def _root_cause(exc: BaseException) -> BaseException:
    """The database error that started a chain: when SQLite gives up on a transaction (disk
    full, I/O error) it rolls it back itself, so the savepoint the caller then releases is gone
    and the error reported last ("no such savepoint") hides the real one."""
    seen: BaseException = exc
    cause = exc.__context__
    for _ in range(5):
        if cause is None:
            break
        if "no such savepoint" not in str(seen).lower():
            break
        seen, cause = cause, cause.__context__
    return seen


class Database:
    """An open store. Thread-safe: every call opens its own short session."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        parsed = normalize_url(url)
        # Team mode: the operator this process acts for (config ``operator`` / CHATDESK_OPERATOR).
        # Drafts, seen marks and presence are per operator; outgoing messages carry it.
        self.operator: str | None = None
        self.url = url  # as given (a password in it, if any, is never shown: see ``where``)
        self._watch_conn: Connection | None = None
        self._listen_conn: psycopg.Connection[Any] | None = None  # listening on CHANGES_CHANNEL
        self._notified = 0
        self._watch_lock = threading.Lock()
        self._closed = False  # a change watch thread still running after close() reads None
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.is_postgresql = parsed.get_backend_name() == "postgresql"
        self.dialect = parsed.get_backend_name()
        # Never the password: the URL is shown in messages and logs.
        self.where = parsed.database if self.is_sqlite and parsed.database else parsed.render_as_string()
        kwargs: dict[str, object] = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
            if parsed.database and parsed.database != ":memory:":
                _create_private_file(Path(parsed.database))
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = create_engine(parsed, **kwargs)
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        else:
            _tune_postgresql(self.engine)
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
        """Refuse a foreign or newer store in one line; otherwise migrate it to the newest
        revision (one process at a time: SQLite's write lock, PostgreSQL's advisory lock)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(write=True)
            with conn.begin():
                if self.is_postgresql:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
                tables = set(inspect(conn).get_table_names())
                if tables - {"alembic_version"} and "meta" not in tables:
                    raise StoreError(f"{self.where} is not a chatdesk database (it has other tables)")
                if "meta" in tables:
                    row = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).first()
                    version = int(row[0]) if row and str(row[0]).isdigit() else 0
                    if version > SCHEMA_VERSION:
                        raise self._newer(f"schema {version}")
                if not create and not tables:
                    raise StoreError(f"{self.where} has no chatdesk data")
                revision = migrations.current(conn) if "alembic_version" in tables else None
                if revision is not None and not migrations.known(revision):
                    raise self._newer(f"revision {revision}")
                if revision != migrations.head():
                    migrations.upgrade(conn, stamp_legacy="meta" in tables and revision is None)
                with Session(bind=conn) as s:
                    meta = s.get(Meta, "schema_version")
                    if meta is None:
                        s.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
                    elif meta.value != str(SCHEMA_VERSION):
                        meta.value = str(SCHEMA_VERSION)
                        s.add(meta)
                    s.flush()

    def _newer(self, what: str) -> StoreError:
        return StoreError(
            f"{self.where} was written by a newer chatdesk ({what}; this one understands "
            f"{migrations.head()}); upgrade chatdesk to open it"
        )

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only snapshot; never takes the write lock."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
        except (DatabaseError, OperationalError, sqlite3.DatabaseError) as exc:  # raw: sqlite_fast
            raise _explain(exc, self.where) from None

    @contextlib.contextmanager
    def write(self, *, notify: bool = True) -> Iterator[Session]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on exit.
        ``notify=False``: a bookkeeping write nothing on screen shows (a heartbeat) does not
        wake PostgreSQL listeners (SQLite's ``data_version`` moves with any commit)."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(write=True)
                with Session(bind=conn, expire_on_commit=False) as session:
                    yield session
                    if notify and self.is_postgresql:  # delivered to listeners at commit, dropped on rollback
                        session.execute(text("SELECT pg_notify(:c, '')"), {"c": CHANGES_CHANNEL})
                    session.commit()
        except (DatabaseError, OperationalError, sqlite3.DatabaseError) as exc:  # raw: sqlite_fast
            raise _explain(exc, self.where) from None

    def data_version(self) -> int | None:
        """A number that changes when another connection commits (cheap change check), or None
        when unknown. SQLite: ``PRAGMA data_version``. PostgreSQL: the count of change
        notifications received on a LISTEN connection; without one (a pooler that drops
        LISTEN, a refused connection) the server's WAL position, which moves on every write."""
        with self._watch_lock:
            if self._closed:
                return None
            if self.is_sqlite:
                return self._sqlite_data_version()
            return self._pg_data_version()

    def _sqlite_data_version(self) -> int | None:
        try:
            if self._watch_conn is None:
                self._watch_conn = self.engine.connect()
            value = int(self._watch_conn.exec_driver_sql("PRAGMA data_version").scalar() or 0)
            # End the implicit transaction: inside one, the snapshot (and the value) never changes.
            self._watch_conn.rollback()
            return value
        except SQLAlchemyError:
            return None

    def _pg_data_version(self) -> int | None:
        import psycopg

        try:
            if self._listen_conn is None:
                args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
                conn = psycopg.connect(*args, **kwargs, autocommit=True, connect_timeout=10)
                conn.execute(f"LISTEN {CHANGES_CHANNEL}")
                self._listen_conn = conn
            listener = self._listen_conn
            assert isinstance(listener, psycopg.Connection)
            for _ in listener.notifies(timeout=0.0):
                self._notified += 1
            return self._notified
        except psycopg.Error:
            self._drop_listener()
        try:  # polling fallback
            with self.engine.connect() as c:
                lsn = c.execute(text("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint")).scalar()
            return int(lsn or 0)
        except SQLAlchemyError:
            return None

    def wait_for_change(self, since: int | None, timeout: float, *, poll: float = CHANGE_POLL_S) -> int | None:
        """Block up to ``timeout`` seconds until :meth:`data_version` differs from ``since``;
        return the version read last (``since`` itself on a timeout, None when unknown).

        PostgreSQL with a LISTEN connection sleeps on its socket and wakes at the commit that
        sends the notification (no polling, no CPU while idle). SQLite (and PostgreSQL without
        LISTEN) re-read the version every ``poll`` seconds: ``PRAGMA data_version`` reads the
        WAL index in shared memory, so a check is cheap but cannot be slept on. Never raises
        for a broken connection: the next call reconnects (``data_version``'s own rules)."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            version = self.data_version()
            left = deadline - time.monotonic()
            if version is None or version != since or left <= 0:
                return version
            listener = self._listen_conn
            if listener is None:
                time.sleep(min(poll, left))
                continue
            try:  # readable when a notification (or anything else) arrives; data_version drains it
                select.select([listener.fileno()], [], [], left)
            except (OSError, ValueError):
                with self._watch_lock:
                    if self._listen_conn is listener:
                        self._drop_listener()
            except Exception:  # psycopg's "connection is closed" when close() ran meanwhile
                return None

    def _drop_listener(self) -> None:
        conn, self._listen_conn = self._listen_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        with self._watch_lock:
            self._closed = True
            if self._watch_conn is not None:
                self._watch_conn.close()
                self._watch_conn = None
            self._drop_listener()
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
