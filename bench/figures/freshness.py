"""Figure 12 (issue 11 §5): how fresh the inbox is — seconds from a buyer's message in the
sandbox to its row in the store, where the TUI's engine announces it (``SyncEvent``) and the
list repaints (figure 5 measures that repaint: a frame, ~16 ms), per marketplace, and the
requests the polling spends per hour.

Set-up: the demo's three accounts against the in-process sandbox behind a gate that enforces
each marketplace's published limits (WB chat methods 10 requests / 10 s, Ozon 50 / s, YM
getChats 5,000 / h: more is answered 429/420 and counted). The engine runs as in the TUI
(``SyncEngine.start()``: a person is watching, so streams poll at their fast pace). Buyers
write at random moments; each message's delay is measured from the write to the store commit.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.datagen import MARKETPLACES, account_name, create_accounts
from bench.figures.common import Result
from chatdesk.sandbox import PREFIXES, SANDBOX_TOKEN, build_sandbox
from chatdesk.secrets import MemorySecrets
from chatdesk.store import views
from chatdesk.store.db import Database
from chatdesk.sync import SyncEngine

SECONDS = 75.0  # wall time of the run (all three marketplaces at once)
MESSAGES = 8  # per marketplace
# Published limits the gate enforces: (path fragment, requests, period seconds).
LIMITS = {
    "wb": [("/api/v1/seller/", 10, 10.0)],
    "ozon": [("/", 50, 1.0)],
    "ym": [("/chats", 5000, 3600.0)],
}


class Gate(httpx.AsyncBaseTransport):
    """The sandbox's transport, refusing what the marketplace's published limit would refuse."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.times: dict[tuple[str, str], list[float]] = {}
        self.lock = threading.Lock()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        prefix = request.url.path.split("/")[1]
        now = time.monotonic()
        with self.lock:
            self.sent[prefix] += 1
            for fragment, limit, period in LIMITS.get(prefix, []):
                if fragment not in request.url.path:
                    continue
                stamps = self.times.setdefault((prefix, fragment), [])
                stamps[:] = [t for t in stamps if now - t < period]
                if len(stamps) >= limit:
                    self.refused[prefix] += 1
                    status = 420 if prefix == "ym" else 429
                    return httpx.Response(status, headers={"Retry-After": "1", "X-Ratelimit-Retry": "1"})
                stamps.append(now)
        return await self.inner.handle_async_request(request)


def _measure(seconds: float, messages: int) -> dict[str, dict[str, float]]:
    home = Path(tempfile.mkdtemp(prefix="chatdesk-fresh-"))
    db = Database(f"sqlite:///{home / 'fresh.db'}")
    create_accounts(db)
    sandbox = build_sandbox(seed=7, chats=12)
    gate = Gate(sandbox.transport())
    engine = SyncEngine(
        db,
        secrets=MemorySecrets({account_name(mp): SANDBOX_TOKEN for mp in MARKETPLACES}),
        client_factory=lambda _a: httpx.AsyncClient(transport=gate, timeout=30.0),
    )
    rng = random.Random(11)
    delays: dict[str, list[float]] = {mp: [] for mp in MARKETPLACES}
    try:
        engine.start()
        time.sleep(8.0)  # the first sync of every account
        start_counts = Counter(gate.sent)
        t0 = time.monotonic()
        plan = sorted((rng.uniform(0, seconds - 15), mp) for mp in MARKETPLACES for _ in range(messages))
        pending: list[tuple[str, str, float]] = []
        for at, mp in plan:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            prefix = PREFIXES[mp]
            with sandbox.lock:
                sim = sandbox.sims[prefix]
                chats = [c["external_id"] for c in sim.truth()["chats"] if c.get("kind", "chat") == "chat"]
                text = f"Свежий вопрос {mp} {at:.3f}"
                sim.buyer_writes(rng.choice(chats), text)
            pending.append((mp, text, time.monotonic()))
            pending = _collect(db, pending, delays)
        deadline = time.monotonic() + 30
        while pending and time.monotonic() < deadline:
            time.sleep(0.05)
            pending = _collect(db, pending, delays)
        wall = time.monotonic() - t0
        used = {p: gate.sent[p] - start_counts[p] for p in gate.sent}
    finally:
        engine.shutdown()
        db.close()
    out: dict[str, dict[str, float]] = {}
    for mp in MARKETPLACES:
        got = sorted(delays[mp])
        prefix = PREFIXES[mp]
        out[mp] = {
            "median_s": statistics.median(got) if got else float("nan"),
            "p95_s": got[max(0, round(0.95 * len(got)) - 1)] if got else float("nan"),
            "missed": float(messages - len(got)),
            "requests_per_hour": used.get(prefix, 0) * 3600.0 / wall,
            "refused": float(gate.refused[prefix]),
        }
    return out


def _collect(
    db: Database, pending: list[tuple[str, str, float]], delays: dict[str, list[float]]
) -> list[tuple[str, str, float]]:
    """Record the delay of every pending message now in the store; return the rest."""
    if not pending:
        return pending
    left = []
    texts = {m.text for c in views.list_chats(db) for m in views.list_messages(db, c.id)[-5:]}
    now = time.monotonic()
    for mp, text, at in pending:
        if text in texts:
            delays[mp].append(now - at)
        else:
            left.append((mp, text, at))
    return left


def run(seconds: float = SECONDS, messages: int = MESSAGES) -> Result:
    data = _measure(seconds, messages)
    parts = []
    for mp in MARKETPLACES:
        d = data[mp]
        parts.append(
            f"{PREFIXES[mp]} {d['median_s']:.1f} s / p95 {d['p95_s']:.1f} s, {d['requests_per_hour']:.0f} req/h"
        )
    worst = max(d["p95_s"] for d in data.values())
    refused = sum(d["refused"] for d in data.values())
    missed = sum(d["missed"] for d in data.values())
    return Result(
        12,
        "buyer message → row, TUI open (median / p95, requests per hour)",
        "; ".join(parts),
        "before: fixed 60 s poll (median ~30 s, p95 ~57 s)",
        "—",
        "p95 ≤ 15 s, no refusal, ≤ 25 % of each budget",
        worst <= 15.0 and refused == 0 and missed == 0,
        note=f"sandbox enforces the published limits; {refused:.0f} refused, {missed:.0f} not seen within 30 s",
        data={mp: data[mp] for mp in MARKETPLACES},
    )
