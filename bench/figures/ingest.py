"""Figure 1: sync ingest, messages/s, from a Wildberries sandbox feed into the store.

The real path: ``SyncEngine.poll_account`` -> ``WildberriesConnector`` (HTTP through the
in-process sandbox transport, JSON parsing) -> ``store.ingest.apply_page``, with the
connector's client-side rate budgets removed (they would measure WB's limits, not chatdesk).
The baseline is the floor any Python sync could hope for: raw ``sqlite3.executemany`` of the
very rows the sync stored, in one transaction, into an equivalent table (same columns, same
unique key and index, same FTS5 index and trigger, same pragmas).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from pathlib import Path

import httpx

from bench.datagen import account_name, create_accounts
from bench.figures.common import Result, Stores, ratio
from chatdesk.sandbox import SANDBOX_TOKEN, build_sandbox
from chatdesk.secrets import MemorySecrets
from chatdesk.store import accounts as store_accounts
from chatdesk.store import fts, ingest
from chatdesk.store.db import Database
from chatdesk.sync import SyncEngine

TARGET = 0.25
COLUMNS = ("chat_id", "external_id", "author", "text", "created_at", "attachments", "state", "error")


def wb_sandbox(chats: int, messages: int, seed: int = 11):  # type: ignore[no-untyped-def]
    """A WB sandbox whose events feed holds about ``messages`` messages over ``chats`` chats."""
    sandbox = build_sandbox(seed=seed, chats=chats, marketplaces=("wildberries",))
    sim = sandbox.sims["wb"]
    rng = random.Random(seed)
    ids = list(sim.chats)
    lines = ["Здравствуйте, где мой заказ?", "Спасибо, всё пришло.", "Можно обменять размер?",
             "Пришлите фото брака, пожалуйста.", "Заказ передан в доставку."]
    for _ in range(max(0, messages - len(sim.events))):
        chat = rng.choice(ids)
        if rng.random() < 0.6:
            sim.buyer_writes(chat, rng.choice(lines))
        else:
            sim.seller_portal_writes(chat, rng.choice(lines))
    return sandbox


async def _sync(db: Database, sandbox) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    transport = sandbox.transport()
    engine = SyncEngine(
        db,
        secrets=MemorySecrets({account_name("wildberries"): SANDBOX_TOKEN}),
        client_factory=lambda _a: httpx.AsyncClient(transport=transport, timeout=60.0),
    )
    account = store_accounts.get_account(db, account_name("wildberries"))
    rt = await engine._runtime(account)
    rt.connector.limiter.budgets = {}  # no client-side rate limiting: measure chatdesk
    total = 0
    start = time.perf_counter()
    try:
        while True:
            result = await engine.poll_account(account.id, force=True)
            if result.errors:
                raise RuntimeError(f"sync failed: {result.errors}")
            total += result.new_messages
            if not result.new_messages:
                break
    finally:
        await engine.aclose()
    return total, time.perf_counter() - start


def _raw_baseline(db_path: Path, rows: list[tuple[object, ...]], workdir: Path) -> float:
    """Seconds to executemany ``rows`` into a fresh equivalent table with sqlite3 alone."""
    src = sqlite3.connect(db_path)
    ddl = [r[0] for r in src.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name='message' AND type IN ('table', 'index') AND sql IS NOT NULL"
    )]
    src.close()
    path = workdir / "raw.db"
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for stmt in ddl:
        conn.execute(stmt)  # the FOREIGN KEY clause stays inert: raw sqlite3 leaves foreign_keys off
    for stmt in fts._DDL:
        conn.execute(stmt)
    sql = f"INSERT INTO message ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(sql, rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def run(stores: Stores, *, chats: int = 500, messages: int = 40_000) -> Result:
    sandbox = wb_sandbox(chats, messages)
    path = stores.workdir / "ingest.db"
    path.unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    try:
        create_accounts(db)
        count, seconds = asyncio.run(_sync(db, sandbox))
        stored = ingest.message_count(db)
    finally:
        db.close()
    conn = sqlite3.connect(path)
    rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM message ORDER BY id").fetchall()
    conn.close()
    raw = _raw_baseline(path, rows, stores.workdir)
    rate, raw_rate = count / seconds, len(rows) / raw
    r = ratio(rate, raw_rate)
    return Result(
        1,
        "sync ingest, messages/s (WB sandbox feed → store)",
        f"{rate:,.0f} msg/s ({count:,} in {seconds:.2f} s)",
        f"raw executemany {raw_rate:,.0f} msg/s",
        f"{r:.2f}",
        "≥ 0.25 of raw",
        r >= TARGET and stored == count,
        data={"messages": count, "seconds": seconds, "raw_seconds": raw, "ratio": r},
    )
