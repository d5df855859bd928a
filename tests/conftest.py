"""Shared fixtures: a fresh store per test, and an isolated data dir / keyring."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdesk.store.db import Database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'chatdesk.db'}")
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
