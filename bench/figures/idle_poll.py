"""Figure 2: an idle poll (nothing new anywhere) on the 1M-message store vs an empty store.

Both stores get the demo's three accounts pointed at the same kind of in-process sandbox
(WB, Ozon, YM; 12 chats each). A first poll syncs the sandbox (not measured); then every
account is polled ``ROUNDS`` times with nothing new, through ``SyncEngine.poll_account``
(stream state, cursor, known chats, connector requests, record_attempt, outbox check).
The sandbox counts requests per marketplace: they must be equal on both stores. The time of
``ingest.known_chats`` (read on every poll) is reported separately, as the issue suspects it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from bench.datagen import MARKETPLACES, account_name, create_accounts
from bench.figures.common import Result, Stores, median, ms, ratio, timed
from chatdesk.sandbox import PREFIXES, SANDBOX_TOKEN, build_sandbox
from chatdesk.secrets import MemorySecrets
from chatdesk.store import accounts as store_accounts
from chatdesk.store import ingest
from chatdesk.store.db import Database
from chatdesk.sync import SyncEngine

ROUNDS = 10
TARGET = 1.2


async def _measure(db: Database) -> dict[str, dict[str, float]]:
    sandbox = build_sandbox(seed=7, chats=12)
    transport = sandbox.transport()
    engine = SyncEngine(
        db,
        secrets=MemorySecrets({account_name(mp): SANDBOX_TOKEN for mp in MARKETPLACES}),
        client_factory=lambda _a: httpx.AsyncClient(transport=transport, timeout=30.0),
    )
    out: dict[str, dict[str, float]] = {}
    try:
        for mp in MARKETPLACES:
            account = store_accounts.get_account(db, account_name(mp))
            rt = await engine._runtime(account)
            rt.connector.limiter.budgets = {}  # ten polls in a row would wait for WB's budget
            first = await engine.poll_account(account.id, force=True)
            if first.errors:
                raise RuntimeError(f"{mp}: {first.errors}")
            prefix = PREFIXES[mp]
            sandbox.reset_counts()
            times = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                result = await engine.poll_account(account.id, force=True)
                times.append(time.perf_counter() - start)
                if result.errors or result.new_messages:
                    raise RuntimeError(f"{mp}: not an idle poll: {result}")
            out[mp] = {
                "seconds": median(times),
                "requests": sandbox.request_count(prefix) / ROUNDS,
                "known_s": median([timed(lambda a=account.id: ingest.known_chats(db, a)) for _ in range(5)]),
            }
    finally:
        await engine.aclose()
    return out


def _run_on(path: Path, *, fresh: bool) -> dict[str, dict[str, float]]:
    db = Database(f"sqlite:///{path}")
    try:
        if fresh:
            create_accounts(db)
        return asyncio.run(_measure(db))
    finally:
        db.close()


def run(stores: Stores) -> Result:
    empty = stores.workdir / "idle-empty.db"
    empty.unlink(missing_ok=True)
    base = _run_on(empty, fresh=True)
    big = _run_on(stores.copy_big("idle-big.db"), fresh=False)
    t_big = sum(v["seconds"] for v in big.values())
    t_base = sum(v["seconds"] for v in base.values())
    r = ratio(t_big, t_base)
    reqs_equal = all(big[mp]["requests"] == base[mp]["requests"] for mp in MARKETPLACES)
    per = ", ".join(
        f"{PREFIXES[mp]} {ms(big[mp]['seconds'])}/{ms(base[mp]['seconds'])} "
        f"{big[mp]['requests']:g}/{base[mp]['requests']:g} req" for mp in MARKETPLACES
    )
    known = ", ".join(f"{PREFIXES[mp]} {ms(big[mp]['known_s'])}" for mp in MARKETPLACES)
    return Result(
        2,
        "idle poll, 1M-message store (WB+Ozon+YM)",
        f"{ms(t_big)}, {sum(v['requests'] for v in big.values()):g} requests",
        f"empty store {ms(t_base)}, {sum(v['requests'] for v in base.values()):g} requests",
        f"{r:.2f}",
        "time ≤ 1.2×, requests equal",
        r <= TARGET and reqs_equal,
        note=f"per marketplace big/empty: {per}; known_chats() on the big store: {known}",
        data={"big": big, "empty": base, "ratio": r, "requests_equal": reqs_equal},
    )
