"""Figure 11: team scale. Ten simulated operator clients and one sync daemon on one store, on
PostgreSQL and on SQLite side by side, with the same rows (the 10k-chat / 1M-message store,
copied into a throwaway PostgreSQL).

Each client does what an operator's TUI does, in a loop: a chat-list page (50 rows at a random
offset), opening a chat (its newest 50 messages), a search (the figure-6 queries), and the
TUI's change watch (``Database.data_version`` at the app's interval for the engine). The daemon
ingests one buyer message every 200 ms through ``ingest.apply_page``. **Change propagation** is
the time from the daemon's commit to a client's watch noticing it and its list query showing the
message: what "another operator sees it" costs. Targets: propagation p95 < 1 s; list, open and
search p95 as figure 4/6 (< 100 ms).

PostgreSQL comes from ``tests.pg`` (initdb + pg_ctl into a temporary folder on loopback); without
its binaries the PostgreSQL half reports n/a.
"""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

from bench.figures.common import Result, Stores, ms, percentile
from bench.figures.search import QUERIES
from chatdesk.model import MessageInfo, Page
from chatdesk.store import fts, ingest, views
from chatdesk.store.db import Database, utcnow

CLIENTS = 10
DURATION_S = 20.0
DAEMON_EVERY_S = 0.2
TARGET_PROPAGATION_S = 1.0
TARGET_QUERY_S = 0.100
TABLES = ("account", "chat", "message")


def copy_to_postgresql(sqlite_path: Path, url: str) -> float:
    """Copy accounts, chats and messages into a fresh PostgreSQL store (COPY); return seconds."""
    import psycopg

    started = time.perf_counter()
    db = Database(url)  # creates the schema (migrations) and the search index
    args, kwargs = db.engine.dialect.create_connect_args(db.engine.url)
    db.close()
    src = sqlite3.connect(sqlite_path)
    with psycopg.connect(*args, **kwargs) as pg:
        pg.execute("SET TIME ZONE 'UTC'")
        for table in TABLES:
            cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
            with pg.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                for row in src.execute(f"SELECT {', '.join(cols)} FROM {table}"):
                    cp.write_row(row)
            pg.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        pg.execute("ANALYZE")
    src.close()
    return time.perf_counter() - started


def _client(url: str, n: int, watch_interval: float, ids: list[int], total: int, go, out) -> None:  # type: ignore[no-untyped-def]
    """One operator's TUI, in its own process (as on an operator's machine)."""
    db = Database(url, create=False)
    out.put(("ready", n))
    go.wait()
    until = time.time() + DURATION_S
    rng = random.Random(n)
    lists: list[float] = []
    opens: list[float] = []
    searches: list[float] = []
    propagation: list[float] = []
    seen_texts: set[str] = set()
    seen = db.data_version()
    next_watch = time.monotonic()
    try:
        while time.time() < until:
            t = time.perf_counter()
            views.list_chats(db, offset=rng.randrange(0, max(1, total - 50)), limit=50)
            lists.append(time.perf_counter() - t)
            t = time.perf_counter()
            views.list_messages(db, rng.choice(ids), limit=50)
            opens.append(time.perf_counter() - t)
            t = time.perf_counter()
            fts.search_ids(db, rng.choice(QUERIES))
            searches.append(time.perf_counter() - t)
            if time.monotonic() >= next_watch:
                next_watch = time.monotonic() + watch_interval
                version = db.data_version()
                if version != seen:
                    seen = version
                    now = time.time()
                    for row in views.list_chats(db, limit=20):  # the reload the TUI does
                        preview = row.preview or ""
                        if preview.startswith("team-bench ") and preview not in seen_texts:
                            seen_texts.add(preview)
                            propagation.append(now - float(preview.split()[2]))
            time.sleep(0.01)
    finally:
        db.close()
    out.put((lists, opens, searches, propagation))


def _daemon(url: str, account: int, chats: list[tuple[int, str]], go) -> None:  # type: ignore[no-untyped-def]
    """The sync daemon: one buyer message every DAEMON_EVERY_S, stamped with its send time."""
    db = Database(url, create=False)
    go.wait()
    until = time.time() + DURATION_S
    rng = random.Random(99)
    k = 0
    try:
        while time.time() < until:
            k += 1
            _chat_id, external = rng.choice(chats)
            text = f"team-bench {k} {time.time():.6f}"  # the clock read before the commit: conservative
            msg = MessageInfo(external, f"team-bench-{k}", "buyer", text, utcnow() + timedelta(hours=1))
            ingest.apply_page(db, account, "chats", Page(messages=(msg,)))
            time.sleep(DAEMON_EVERY_S)
    finally:
        db.close()


def _run(url: str, watch_interval: float) -> dict[str, float]:
    import multiprocessing as mp

    setup = Database(url, create=False)
    total = views.count_chats(setup)
    top = views.list_chats(setup, limit=2000)
    setup.close()
    ids = [r.id for r in top]
    account = top[0].account_id
    busy = [(r.id, r.external_id) for r in top if r.account_id == account][:20]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    go = ctx.Event()
    procs = [ctx.Process(target=_client, args=(url, n, watch_interval, ids, total, go, out)) for n in range(CLIENTS)]
    procs.append(ctx.Process(target=_daemon, args=(url, account, busy, go)))
    for p in procs:
        p.start()
    for _ in range(CLIENTS):  # every client has started and opened the store
        out.get(timeout=120)
    go.set()
    results = [out.get(timeout=DURATION_S + 120) for _ in range(CLIENTS)]
    for p in procs:
        p.join(30)
    lists = [x for r in results for x in r[0]]
    opens = [x for r in results for x in r[1]]
    searches = [x for r in results for x in r[2]]
    propagation = [x for r in results for x in r[3]]
    return {
        "list_p95": percentile(lists, 95),
        "open_p95": percentile(opens, 95),
        "search_p95": percentile(searches, 95),
        "propagation_p95": percentile(propagation, 95) if propagation else float("nan"),
        "propagation_n": float(len(propagation)),
        "ops": float(len(lists) + len(opens) + len(searches)),
    }


def run(stores: Stores, big: Path | None = None) -> Result:
    from chatdesk.app import PG_WATCH_INTERVAL, WATCH_INTERVAL  # the TUI's watch cadence per engine

    big = big or stores.big
    sqlite_copy = stores.workdir / "team.db"
    sqlite_copy.write_bytes(big.read_bytes())
    sq = _run(f"sqlite:///{sqlite_copy}", WATCH_INTERVAL)
    data: dict[str, object] = {"sqlite": sq}
    note = ""
    try:
        from tests import pg
    except ImportError:
        pg = None  # type: ignore[assignment]
    reason = pg.unavailable_reason() if pg is not None else "tests.pg not importable"
    pgres: dict[str, float] | None = None
    if reason is None:
        bin_dir = pg.find_bin_dir()
        assert bin_dir is not None
        server = pg.PgServer(bin_dir)
        try:
            server.start()
            url = server.new_database()
            data["copy_s"] = copy_to_postgresql(big, url)
            pgres = _run(url, min(WATCH_INTERVAL, PG_WATCH_INTERVAL))
            data["postgresql"] = pgres
        finally:
            server.stop()
    else:
        note = f"PostgreSQL half not run: {reason}"
    main = pgres or sq
    value = (
        f"PG: list {ms(main['list_p95'])}, open {ms(main['open_p95'])}, search {ms(main['search_p95'])}, "
        f"propagation {ms(main['propagation_p95'])}"
    )
    baseline = (
        f"SQLite: list {ms(sq['list_p95'])}, open {ms(sq['open_p95'])}, search {ms(sq['search_p95'])}, "
        f"propagation {ms(sq['propagation_p95'])}"
    )
    ok = None
    if pgres is not None:
        ok = pgres["propagation_p95"] < TARGET_PROPAGATION_S and all(
            pgres[k] < TARGET_QUERY_S for k in ("list_p95", "open_p95", "search_p95")
        )
    return Result(
        11,
        f"team scale: {CLIENTS} operator clients + 1 daemon (p95)",
        value,
        baseline,
        "—",
        f"propagation < {TARGET_PROPAGATION_S:.0f} s; queries < {TARGET_QUERY_S * 1000:.0f} ms",
        ok,
        note=note,
        data=data,
    )
