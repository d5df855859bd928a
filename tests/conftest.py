"""Shared fixtures: a fresh store per test (on SQLite, and on PostgreSQL where the suite asks
for both engines), and an isolated data dir / keyring.

A test that takes ``store_url`` (or ``db``, or a fixture built on them) runs once per engine. A
test whose result cannot depend on the engine (pure rendering of identical data) says so with
``@pytest.mark.one_engine("why")`` and runs on SQLite only.

Both engines hand out stores already migrated by today's code, copied from a per-session template
(a file copy / ``CREATE DATABASE … TEMPLATE``): the Alembic run costs ~0.25 s on SQLite and ~1 s on
PostgreSQL per store, the copy a few milliseconds / ~0.1 s. Opening such a store goes through the
same checks (revision known, schema version) as any user's store. Tests of migrations themselves
make their own files or ask ``pg_server.new_database(empty=True)``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatdesk.store.db import Database
from tests import pg

ENGINES = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: the test checks SQLite-specific behaviour (file, WAL, pragma)")
    config.addinivalue_line(
        "markers", "one_engine(reason): the result cannot depend on the engine (pure rendering); run on SQLite only"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``one_engine`` tests keep only the SQLite half of ``store_url`` (deselected, not skipped:
    nothing is missing)."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and callspec.params.get("store_url") == "postgresql"
        (dropped if on_pg and item.get_closest_marker("one_engine") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PgServer]:
    """One throwaway PostgreSQL for the session; skipped (failed under CI=true) when unavailable."""
    reason = pg.unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the PostgreSQL half cannot run: {reason}")
        pytest.skip(f"PostgreSQL half skipped: {reason}")
    bin_dir = pg.find_bin_dir()
    assert bin_dir is not None
    server = pg.PgServer(bin_dir)
    try:
        server.start()
    except Exception as exc:
        server.stop()
        log = server.log.read_text() if server.log.exists() else ""
        pytest.fail(f"could not start PostgreSQL from {bin_dir}: {exc}\n{log[-2000:]}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite store migrated once per session (WAL checkpointed into the file at close)."""
    path = tmp_path_factory.mktemp("template") / "chatdesk.db"
    Database(f"sqlite:///{path}").close()
    assert not path.with_name(path.name + "-wal").exists(), "the template must be one self-contained file"
    return path


def copy_store(template: Path, path: Path) -> None:
    """Copy an SQLite store, created 0600 like chatdesk creates its own."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as out, template.open("rb") as src:
        shutil.copyfileobj(src, out)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite store with the current schema and no data, not parametrized (for SVG
    snapshots, whose file name would otherwise carry the engine)."""
    path = tmp_path / "chatdesk.db"
    copy_store(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=ENGINES)
def store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh store URL with the current schema and no data: an SQLite file, or a new database
    on the session's PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("SQLite-specific behaviour")
    server: pg.PgServer = request.getfixturevalue("pg_server")
    url = server.new_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def engine_name(store_url: str) -> str:
    return "sqlite" if store_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    yield database
    database.close()


@pytest.fixture(autouse=True)
def _cheap_keyring_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """The encrypted file keyring derives its key with Argon2id at 64 MiB x 15 passes on every
    read and write (1-2 s of a core each, measured): in-process tests keep the same code path,
    encryption and MAC check with the smallest work factor. The work factor is the library's
    default, not chatdesk's choice, so no test of chatdesk gets weaker. (Subprocess e2e tests use
    ``tests/e2e/fake_keyring.py`` for the same reason.)"""
    try:
        from keyrings.cryptfile.cryptfile import CryptFileKeyring
    except ImportError:
        return
    monkeypatch.setattr(CryptFileKeyring, "time_cost", 1)
    monkeypatch.setattr(CryptFileKeyring, "memory_cost", 64)  # KiB


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the real data dir, config or keyring."""
    monkeypatch.setenv("CHATDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHATDESK_DB", raising=False)
    monkeypatch.delenv("CHATDESK_CONFIG", raising=False)
    monkeypatch.setenv("CHATDESK_KEYRING", "file")
    monkeypatch.setenv("CHATDESK_KEYRING_PASSPHRASE", "test-passphrase")
