"""Connecting to PostgreSQL the documented way: no password in the URL, a libpq service file."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdesk.errors import StoreError
from chatdesk.store import accounts
from chatdesk.store.db import Database, normalize_url
from tests import pg


def test_service_file_url_without_password(pg_server: pg.PgServer, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = pg_server.new_database()
    name = url.rsplit("/", 1)[1]
    service = tmp_path / "pg_service.conf"
    service.write_text(f"[chatdesk]\nhost=127.0.0.1\nport={pg_server.port}\ndbname={name}\nuser={pg.USER}\n")
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    db = Database("postgresql+psycopg:///?service=chatdesk")
    try:
        accounts.add_account(db, "shop", "wildberries")
        assert [a.name for a in accounts.list_accounts(db)] == ["shop"]
    finally:
        db.close()
        pg_server.drop_database(url)


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db"])
def test_postgresql_urls_get_psycopg(url: str) -> None:
    assert normalize_url(url).drivername == "postgresql+psycopg"


def test_other_engines_are_refused_in_one_line() -> None:
    with pytest.raises(StoreError, match="unsupported store engine 'mysql'"):
        normalize_url("mysql://u@h/db")
