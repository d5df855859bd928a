"""Reliability and security tests (issue 6): faults, crashes, concurrency, secrets, bad input.

Shared helpers live here so every test compares the store with the sandbox's truth the same
way: chats by their identifying fields, messages by (external id, author, text, time,
attachment names) in chronological order. Messages chatdesk sent that never got an echo
(``unknown``/``failed``) have no external id and are checked separately by the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from chatdesk import ratelimit
from chatdesk.config import Config
from chatdesk.demo import setup
from chatdesk.sandbox import PREFIXES, Sandbox, build_sandbox
from chatdesk.sandbox.core import iso
from chatdesk.secrets import MemorySecrets
from chatdesk.store import views
from chatdesk.store.db import Database
from chatdesk.sync import SyncEngine

CHAT_FIELDS = ("external_id", "kind", "customer", "order_id", "product_id", "status")
ALL_DAY = Config(sending_window=("00:00", "23:59"), poll_interval=60)


def rate_limit_fault(marketplace: str, seconds: int = 1, path: str | None = None) -> Any:
    """Each sim's own 429/420 with the retry headers its marketplace sends."""
    if marketplace == "wildberries":
        from chatdesk.sandbox.wildberries import rate_limit_fault as wb

        return wb(path, seconds)
    if marketplace == "ozon":
        from chatdesk.sandbox.ozon import rate_limit_fault as oz

        return oz(path, seconds)
    from chatdesk.sandbox.yandex import rate_limit_fault as ym

    return ym(path, seconds)


@dataclass
class World:
    """One marketplace in the in-process sandbox, a fresh store and one account for it."""

    marketplace: str
    sandbox: Sandbox
    db: Database
    secrets: MemorySecrets
    account_id: int
    account: str

    @property
    def prefix(self) -> str:
        return PREFIXES[self.marketplace]

    @property
    def sim(self) -> Any:
        return self.sandbox.sims[self.prefix]

    def engine(self, owner: str = "test") -> SyncEngine:
        transport = self.sandbox.transport()
        return SyncEngine(
            self.db,
            secrets=self.secrets,
            config=ALL_DAY,
            owner=owner,
            client_factory=lambda _a: httpx.AsyncClient(transport=transport, timeout=10.0),
        )


def make_world(home: Path, marketplace: str, *, chats: int = 3, page_size: int | None = 2, seed: int = 7) -> World:
    sandbox = build_sandbox(seed=seed, chats=chats, marketplaces=(marketplace,), page_size=page_size)
    db, secrets, _engine = setup(home, sandbox)
    acc = next(iter(secrets.values))
    from chatdesk.store import accounts

    row = accounts.get_account(db, acc)
    return World(marketplace, sandbox, db, secrets, row.id, acc)


def _norm_truth_msg(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("external_id", "author", "text", "created_at", "attachments")}


def store_view(db: Database, account: str | None = None) -> dict[str, Any]:
    """The store in the truth's shape; only messages that came from the marketplace feed."""
    chats = [c for c in views.list_chats(db) if account is None or c.account == account]
    out_chats = sorted(({k: getattr(c, k) for k in CHAT_FIELDS} for c in chats), key=lambda c: c["external_id"])
    messages: dict[str, list[dict[str, Any]]] = {}
    for c in chats:
        messages[c.external_id] = [
            {
                "external_id": m.external_id,
                "author": m.author,
                "text": m.text,
                "created_at": iso(m.created_at),
                "attachments": [a.name for a in m.attachments],
            }
            for m in views.list_messages(db, c.id)
            if m.external_id is not None
        ]
    return {"chats": out_chats, "messages": messages}


def truth_view(sim: Any) -> dict[str, Any]:
    truth = sim.truth()
    chats = sorted(({k: c.get(k) for k in CHAT_FIELDS} for c in truth["chats"]), key=lambda c: c["external_id"])
    return {"chats": chats, "messages": {k: [_norm_truth_msg(m) for m in v] for k, v in truth["messages"].items()}}


def _ordered(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chronological, ties broken by id: two messages in the same second have no true order."""
    return sorted(msgs, key=lambda m: (m["created_at"], str(m["external_id"])))


def assert_subset_of_truth(db: Database, sim: Any, account: str | None = None) -> None:
    """Mid-sync invariant: nothing in the store that the marketplace does not have, no duplicates."""
    got, want = store_view(db, account), truth_view(sim)
    truth_ids = {c["external_id"] for c in want["chats"]}
    assert {c["external_id"] for c in got["chats"]} <= truth_ids
    for chat, msgs in got["messages"].items():
        ids = [m["external_id"] for m in msgs]
        assert len(ids) == len(set(ids)), f"duplicate message in chat {chat}"
        truth_msgs = {m["external_id"]: m for m in want["messages"].get(chat, [])}
        for m in msgs:
            assert truth_msgs.get(m["external_id"]) == m, f"chat {chat}: {m} not in the truth"


def assert_equals_truth(db: Database, sim: Any, account: str | None = None) -> None:
    got, want = store_view(db, account), truth_view(sim)
    assert got["chats"] == want["chats"]
    assert set(got["messages"]) == set(want["messages"])
    for chat, msgs in want["messages"].items():
        assert _ordered(got["messages"][chat]) == _ordered(msgs), f"chat {chat}"


class VirtualClock:
    """Waits (retry backoffs, 429 waits, rate-limit buckets) pass instantly but still count.

    The engine and the limiter only ever wait through ``asyncio.sleep`` and measure through
    ``time.monotonic``; moving both onto one virtual clock keeps their logic exact while a
    test with dozens of rate limits runs in milliseconds.
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self._real_sleep = asyncio.sleep

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    async def sleep(self, delay: float, result: Any = None) -> Any:
        self.offset += max(0.0, float(delay))
        return await self._real_sleep(0, result)


@contextlib.contextmanager
def virtual_time() -> Iterator[VirtualClock]:
    clock = VirtualClock()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(asyncio, "sleep", clock.sleep)
        mp.setattr(ratelimit, "time", SimpleNamespace(monotonic=clock.monotonic))
        yield clock


# ----------------------------------------------------------------------------- subprocess harness


def cli_env(home: Path) -> dict[str, str]:
    """The real CLI's environment: its own data dir and the fast e2e test keyring."""
    import os

    from tests.e2e.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATDESK_", "PYTHON_KEYRING"))}
    env.update(
        CHATDESK_HOME=str(home),
        PYTHON_KEYRING_BACKEND="tests.e2e.fake_keyring.TestFileKeyring",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def truth_of(truth: dict[str, Any]) -> dict[str, Any]:
    """``truth_view`` for a truth fetched over HTTP from ``/_sandbox/truth/<prefix>``."""
    return truth_view(SimpleNamespace(truth=lambda: truth))


def assert_db_equals(db: Database, truth: dict[str, Any], account: str) -> None:
    got, want = store_view(db, account), truth_of(truth)
    assert got["chats"] == want["chats"], account
    assert set(got["messages"]) == set(want["messages"]), account
    for chat, msgs in want["messages"].items():
        assert _ordered(got["messages"][chat]) == _ordered(msgs), f"{account}: chat {chat}"


def integrity_ok(path: Path) -> bool:
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
