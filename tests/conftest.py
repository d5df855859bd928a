"""Shared fixtures: a fresh store per test (on SQLite, and on PostgreSQL where the suite asks
for both engines), and an isolated data dir / keyring."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatdesk.store.db import Database
from tests import pg

ENGINES = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: the test checks SQLite-specific behaviour (file, WAL, pragma)")


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


@pytest.fixture(params=ENGINES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL: an SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chatdesk.db'}"
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
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the real data dir, config or keyring."""
    monkeypatch.setenv("CHATDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHATDESK_DB", raising=False)
    monkeypatch.delenv("CHATDESK_CONFIG", raising=False)
    monkeypatch.setenv("CHATDESK_KEYRING", "file")
    monkeypatch.setenv("CHATDESK_KEYRING_PASSPHRASE", "test-passphrase")
