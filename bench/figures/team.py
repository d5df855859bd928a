"""Figure 11: team scale. Ten simulated operator clients and one sync daemon on one store, on
PostgreSQL and on SQLite side by side, with the same rows (the 10k-chat / 1M-message store,
copied into a throwaway PostgreSQL).

Each client is a process (as on an operator's machine) with the TUI's two halves:
- **the operator**: a chat-list page (50 rows at a random offset), opening a chat (its newest
  50 messages) and a search (figure 6's queries), one action every ``pace`` seconds;
- **the live update**: the TUI's own :class:`~chatdesk.store.watch.ChangeWatch` (LISTEN/NOTIFY
  on PostgreSQL, ``data_version`` on SQLite) and, on each change, the reload the TUI does in its
  three worker threads: the first list page (100 rows); the open conversation (51 messages);
  the chat count and the status line's sync state and unread total.

The daemon ingests one buyer message every 200 ms through ``ingest.apply_page``, each into the
next of 20 chats (a chat's preview is not replaced before clients had 4 s to see it), and notes
the wall clock when ``apply_page`` returned (its commit). **Change propagation** is, per client
and message, the time from that commit to the end of the client's reload whose list rows show
the message: what "another operator sees it" costs, the client's own read path included. After
the busy phase, ``IDLE_S`` seconds with nothing written measure what an idle client costs (CPU
of its process, watch thread included). Targets: propagation p95 < 1 s; list, open and search
p95 < 100 ms (figures 4 and 6).

PostgreSQL comes from ``tests.pg`` (initdb + pg_ctl into a temporary folder on loopback); the
loaded cluster is kept in ``bench/.cache`` next to the SQLite store it was copied from (loading a
million rows and building the search index takes about a minute), so later runs start from a
copy of it. Without PostgreSQL binaries the PostgreSQL half reports n/a.
"""

from __future__ import annotations

import bisect
import os
import random
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.figures.common import Result, Stores, ms, percentile
from bench.figures.search import QUERIES
from chatdesk.model import MessageInfo, Page
from chatdesk.store import fts, ingest, views
from chatdesk.store.db import Database, utcnow
from chatdesk.store.watch import ChangeWatch

CLIENTS = 10
DURATION_S = 20.0  # the busy phase, per engine
QUICK_S = 5.0  # the busy phase of ``--quick``
IDLE_S = 6.0  # the idle phase: CPU of a client that only watches
PACE_S = 0.5  # between two operator actions (list page, open, search)
DAEMON_EVERY_S = 0.2
BUSY_CHATS = 20
LIST_PAGE = 100  # chatdesk.widgets.chat_list.PAGE: what a reload reads
TARGET_PROPAGATION_S = 1.0
TARGET_QUERY_S = 0.100
TABLES = ("account", "chat", "message")
MARK = "team-bench"


def copy_to_postgresql(sqlite_path: Path, url: str) -> float:
    """Copy accounts, chats and messages of a SQLite store into a fresh PostgreSQL store; seconds.

    Rows go through ``COPY … FROM STDIN`` (psycopg), the columns both stores have, with foreign
    key triggers off for the session (``session_replication_role = replica``: the rows come from
    a consistent store). The message table's secondary indexes (the search GIN index, the
    chat/time index) are dropped first and built once after the load, as ``pg_restore`` does:
    maintaining a GIN index row by row for a million rows would take several times longer."""
    import psycopg

    started = time.perf_counter()
    db = Database(url)  # creates the schema (migrations) and the search index
    args, kwargs = db.engine.dialect.create_connect_args(db.engine.url)
    db.close()
    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        with psycopg.connect(*args, **kwargs) as pg:
            pg.execute("SET TIME ZONE 'UTC'")
            pg.execute("SET maintenance_work_mem = '256MB'")
            pg.execute("SET session_replication_role = replica")
            later = pg.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'message' "
                "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            ).fetchall()
            for name, _ddl in later:
                pg.execute(f'DROP INDEX "{name}"')
            for table in TABLES:
                have = {
                    r[0]
                    for r in pg.execute(
                        "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
                    )
                }
                cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})") if r[1] in have]
                with pg.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                    rows = src.execute(f"SELECT {', '.join(cols)} FROM {table}")
                    while batch := rows.fetchmany(10_000):
                        for row in batch:
                            cp.write_row(row)
                pg.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            pg.execute("SET session_replication_role = DEFAULT")
            for _name, ddl in later:
                pg.execute(ddl)
    finally:
        src.close()
    with psycopg.connect(*args, **kwargs, autocommit=True) as pg:
        pg.execute("VACUUM ANALYZE")  # visibility map and statistics, as a long-lived store has
    return time.perf_counter() - started


def _reloads(db: Database, open_chat: Callable[[], int], seen: dict[int, float]) -> list[Callable[[], None]]:
    """What an open TUI reads when the store changed (``Loading.on_data_changed``), as the
    TUI's three worker groups: the first list page; the open conversation; the chat count and
    the status line. A message counts as seen when the list page or the conversation holding
    it has been read: ``seen`` gets message number -> wall clock."""

    def note(texts: list[str]) -> None:
        now = time.time()
        for text in texts:
            if text.startswith(MARK + " "):
                seen.setdefault(int(text.split()[1]), now)

    def list_page() -> None:
        note([r.preview or "" for r in views.list_chats(db, offset=0, limit=LIST_PAGE)])

    def conversation() -> None:
        chat_id = open_chat()
        views.get_chat(db, chat_id)
        note([m.text for m in views.list_messages(db, chat_id, limit=51)])

    def status() -> None:
        views.count_chats(db)
        views.sync_status(db)
        views.total_unread(db)

    return [list_page, conversation, status]


def _client(url: str, n: int, pace: float, duration: float, ids: list[int], total: int, go, out) -> None:  # type: ignore[no-untyped-def]
    """One operator's TUI, in its own process."""
    db = Database(url, create=False)
    rng = random.Random(n)
    open_id = rng.choice(ids)
    seen: dict[int, float] = {}  # message number -> wall clock of the reload that showed it
    reloads: list[float] = []  # how long the list page reload took
    done = threading.Event()
    signals: list[threading.Event] = []

    def worker(job: Callable[[], None], changed: threading.Event, timed: bool) -> None:
        while True:
            changed.wait()  # asleep until the watch announces a change (or the end)
            if done.is_set():
                return
            changed.clear()
            t = time.perf_counter()
            job()
            if timed:
                reloads.append(time.perf_counter() - t)

    threads = []
    for i, job in enumerate(_reloads(db, lambda: open_id, seen)):
        signals.append(threading.Event())
        threads.append(threading.Thread(target=worker, args=(job, signals[-1], i == 0), daemon=True))
        threads[-1].start()

    noticed: list[float] = []  # wall clock of each announcement of the watch

    def changed() -> None:  # what the app's StoreChanged message sets off
        noticed.append(time.time())
        for event in signals:
            event.set()

    watch = ChangeWatch(db, changed)
    watch.start()
    out.put(("ready", n))
    go.wait()
    until = time.monotonic() + duration
    lists: list[float] = []
    opens: list[float] = []
    searches: list[float] = []
    try:
        while time.monotonic() < until:
            t = time.perf_counter()
            views.list_chats(db, offset=rng.randrange(0, max(1, total - 50)), limit=50)
            lists.append(time.perf_counter() - t)
            time.sleep(pace)
            t = time.perf_counter()
            open_id = rng.choice(ids)
            views.list_messages(db, open_id, limit=50)
            opens.append(time.perf_counter() - t)
            time.sleep(pace)
            t = time.perf_counter()
            fts.search_ids(db, rng.choice(QUERIES))
            searches.append(time.perf_counter() - t)
            time.sleep(pace)
        time.sleep(2.0)  # the daemon's last messages reach the list
        busy_reloads = len(reloads)
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(IDLE_S)  # nothing is written now: only the watch runs
        idle_cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        idle_reloads = len(reloads) - busy_reloads
    finally:
        watch.stop()
        done.set()
        for event in signals:
            event.set()
        for t in threads:
            t.join(5)
        watch.join(2)
        db.close()
    out.put(
        {
            "lists": lists,
            "opens": opens,
            "searches": searches,
            "seen": seen,
            "reloads": reloads,
            "noticed": noticed,
            "idle_cpu": idle_cpu,
            "idle_reloads": idle_reloads,
        }
    )


def _daemon(url: str, account: int, chats: list[str], duration: float, go, out) -> None:  # type: ignore[no-untyped-def]
    """The sync daemon: one buyer message every DAEMON_EVERY_S, each into the next busy chat."""
    db = Database(url, create=False)
    go.wait()
    until = time.monotonic() + duration
    sent: dict[int, tuple[float, float]] = {}  # message number -> (wall clock before, after commit)
    k = 0
    try:
        while time.monotonic() < until:
            k += 1
            external = chats[k % len(chats)]
            msg = MessageInfo(
                external, f"{MARK}-{k}-{time.time_ns()}", "buyer", f"{MARK} {k}", utcnow() + timedelta(hours=1)
            )
            before = time.time()
            ingest.apply_page(db, account, "chats", Page(messages=(msg,)))
            sent[k] = (before, time.time())
            time.sleep(DAEMON_EVERY_S)
    finally:
        db.close()
    out.put({"sent": sent})


def _run(url: str, *, pace: float, duration: float) -> dict[str, float]:
    import multiprocessing as mp

    setup = Database(url, create=False)
    total = views.count_chats(setup)
    top = views.list_chats(setup, limit=2000)
    setup.close()
    ids = [r.id for r in top]
    account = top[0].account_id
    busy = [r.external_id for r in top if r.account_id == account][:BUSY_CHATS]
    ctx = mp.get_context("spawn")
    out, daemon_out = ctx.Queue(), ctx.Queue()
    go = ctx.Event()
    procs = [ctx.Process(target=_client, args=(url, n, pace, duration, ids, total, go, out)) for n in range(CLIENTS)]
    procs.append(ctx.Process(target=_daemon, args=(url, account, busy, duration, go, daemon_out)))
    load_before = os.getloadavg()[0]
    for p in procs:
        p.start()
    for _ in range(CLIENTS):  # every client has started, opened the store and its watch
        out.get(timeout=180)
    time.sleep(1.0)  # the watches have their baseline
    go.set()
    results: list[dict[str, Any]] = [out.get(timeout=duration + IDLE_S + 180) for _ in range(CLIENTS)]
    sent: dict[int, tuple[float, float]] = daemon_out.get(timeout=60)["sent"]
    for p in procs:
        p.join(30)
    lists = [x for r in results for x in r["lists"]]
    opens = [x for r in results for x in r["opens"]]
    searches = [x for r in results for x in r["searches"]]
    reloads = [x for r in results for x in r["reloads"]]
    from_commit: list[float] = []
    from_start: list[float] = []
    missed = 0
    for r in results:
        for k, (before, after) in sent.items():
            if k in r["seen"]:
                from_commit.append(r["seen"][k] - after)
                from_start.append(r["seen"][k] - before)
            else:
                missed += 1
    # The watch alone: from the daemon's commit to the client's first announcement after the
    # write began (0 when the commit's NOTIFY arrived before apply_page returned).
    notice: list[float] = []
    for r in results:
        times = sorted(r["noticed"])
        for before, after in sent.values():
            i = bisect.bisect_left(times, before)
            if i < len(times):
                notice.append(max(0.0, times[i] - after))
    writes = [after - before for before, after in sent.values()]
    idle = [r["idle_cpu"] for r in results]
    nan = float("nan")
    return {
        "list_p50": percentile(lists, 50),
        "list_p95": percentile(lists, 95),
        "open_p50": percentile(opens, 50),
        "open_p95": percentile(opens, 95),
        "search_p50": percentile(searches, 50),
        "search_p95": percentile(searches, 95),
        "reload_p95": percentile(reloads, 95) if reloads else nan,
        "propagation_p50": percentile(from_commit, 50) if from_commit else nan,
        "propagation_p95": percentile(from_commit, 95) if from_commit else nan,
        "propagation_max": max(from_commit) if from_commit else nan,
        "propagation_from_ingest_p95": percentile(from_start, 95) if from_start else nan,
        "propagation_n": float(len(from_commit)),
        "notice_p50": percentile(notice, 50) if notice else nan,
        "notice_p95": percentile(notice, 95) if notice else nan,
        "missed": float(missed),
        "daemon_write_p95": percentile(writes, 95) if writes else nan,
        "messages": float(len(sent)),
        "idle_cpu_mean": sum(idle) / len(idle),
        "idle_cpu_max": max(idle),
        "idle_reloads": float(sum(r["idle_reloads"] for r in results)),
        "ops": float(len(lists) + len(opens) + len(searches)),
        "load_before": load_before,  # 1-minute load average of the machine (other jobs included)
        "load_after": os.getloadavg()[0],
    }


def start_loaded(server: Any, big: Path, data: dict[str, object]) -> str:
    """Start ``server`` (a ``tests.pg.PgServer``) holding the rows of ``big``: from the cached
    loaded cluster, or loaded now and then cached. Returns the store's URL."""
    from chatdesk.store import migrations

    template = big.parent / f"pg-{big.stem}-{migrations.head()}"
    marker = template.with_suffix(".done")
    if template.is_dir() and marker.exists():
        started = time.perf_counter()
        server.start(template=template)
        data["pg_start_s"] = time.perf_counter() - started
        data["copy_s"] = "cached"
        return str(server.admin_url(marker.read_text().strip()))
    marker.unlink(missing_ok=True)
    for old in big.parent.glob("pg-*"):  # clusters of an older schema or store
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    server.start()
    url = str(server.new_database())
    data["copy_s"] = copy_to_postgresql(big, url)
    server.save(template)
    marker.write_text(url.rsplit("/", 1)[1] + "\n")
    return url


def _postgresql(big: Path, data: dict[str, object], *, pace: float, duration: float) -> dict[str, float]:
    """The PostgreSQL half, on a throwaway server started from the cached loaded cluster."""
    from tests import pg

    bin_dir = pg.find_bin_dir()
    assert bin_dir is not None
    server = pg.PgServer(bin_dir)
    try:
        return _run(start_loaded(server, big, data), pace=pace, duration=duration)
    finally:
        server.stop()


def run(stores: Stores, big: Path | None = None, *, pace: float = PACE_S, duration: float = DURATION_S) -> Result:
    big = big or stores.big
    sqlite_copy = stores.workdir / "team.db"
    shutil.copyfile(big, sqlite_copy)
    sq = _run(f"sqlite:///{sqlite_copy}", pace=pace, duration=duration)
    sqlite_copy.unlink()
    data: dict[str, object] = {"sqlite": sq, "pace_s": pace, "duration_s": duration, "clients": CLIENTS}
    note = ""
    try:
        from tests import pg
    except ImportError:
        pg = None  # type: ignore[assignment]
    reason = pg.unavailable_reason() if pg is not None else "tests.pg not importable"
    pgres: dict[str, float] | None = None
    if reason is None:
        pgres = _postgresql(big, data, pace=pace, duration=duration)
        data["postgresql"] = pgres
    else:
        note = f"PostgreSQL half not run: {reason}"

    def line(name: str, r: dict[str, float]) -> str:
        return (
            f"{name}: list {ms(r['list_p95'])}, open {ms(r['open_p95'])}, search {ms(r['search_p95'])}, "
            f"propagation {ms(r['propagation_p95'])} (p50 {ms(r['propagation_p50'])}; watch {ms(r['notice_p95'])}), "
            f"idle client CPU {r['idle_cpu_mean'] * 100:.2f} %, load {r['load_before']:.1f}/{r['load_after']:.1f}"
        )

    ok = None
    if pgres is not None:
        ok = all(
            r["propagation_p95"] < TARGET_PROPAGATION_S
            and r["missed"] == 0
            and all(r[k] < TARGET_QUERY_S for k in ("list_p95", "open_p95", "search_p95"))
            for r in (pgres, sq)
        )
    return Result(
        11,
        f"team scale: {CLIENTS} operator clients + 1 daemon (p95)",
        line("PG", pgres) if pgres is not None else "n/a",
        line("SQLite", sq),
        "—",
        f"propagation < {TARGET_PROPAGATION_S:.0f} s on both; queries < {TARGET_QUERY_S * 1000:.0f} ms",
        ok,
        note=note,
        data=data,
    )
