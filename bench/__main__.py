"""``make bench``: generate the stores once, run the figures (issue 7: 1-8, 14: 9-10, 15: 11, 11: 12), print them.

Usage: ``python -m bench [--only 1,2,6] [--fresh] [--quick] [--cpu-seconds 60] [--pace 0.5]``.
The 1M store is cached in ``bench/.cache`` by its generator key (``--fresh`` regenerates it);
figures never write to it (figure 2 polls a copy). ``--quick`` is a smoke run: a 1,000-chat /
50,000-message store and short phases (results in ``latest-quick.*``, never in the README).
Results go to ``bench/results/latest.md`` and ``latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from bench.datagen import Spec, create_accounts, write_bulk
from bench.figures import assist, freshness, idle_poll, ingest, search, team, tui
from bench.figures.common import Result, Stores
from chatdesk.store.db import Database

HERE = Path(__file__).parent
QUICK = Spec(chats=1_000, messages=50_000, big_chat=2_000, small_chat=10)
CACHE = HERE / ".cache"
RESULTS = HERE / "results"


def _generate(path: Path, spec: Spec | None) -> float:
    path.unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    try:
        if spec is None:
            create_accounts(db)
            return 0.0
        return write_bulk(db, spec).seconds
    finally:
        db.close()


def big_store(spec: Spec, fresh: bool) -> tuple[Path, float | None]:
    """The cached 1M store, generated if missing; (path, generation seconds or None if cached)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{spec.key}.db"
    done = path.with_suffix(".done")
    if path.exists() and done.exists() and not fresh:
        return path, None
    for old in CACHE.glob("*.db*"):
        old.unlink()
    for old in CACHE.glob("*.done"):
        old.unlink()
    seconds = _generate(path, spec)
    done.write_text(f"{seconds:.1f}\n")
    return path, seconds


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next((int(ln.split()[1]) // 1024 // 1024 for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), 0)
    return f"{cpu}, {os.cpu_count()} cores, {mem} GB RAM, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


def table(results: list[Result]) -> str:
    lines = ["| # | figure | measured | baseline (same run) | ratio | target | result |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: r.n):
        lines.append(f"| {r.n} | {r.title} | {r.value} | {r.baseline} | {r.ratio} | {r.target} | {r.verdict} |")
    notes = [f"- {r.n}: {r.note}" for r in sorted(results, key=lambda r: r.n) if r.note]
    return "\n".join([*lines, "", *notes] if notes else lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", default="1,2,3,4,5,6,7,8,9,10,11,12", help="comma-separated figure numbers")
    parser.add_argument("--fresh", action="store_true", help="regenerate the cached 1M store")
    parser.add_argument("--cpu-seconds", type=float, default=tui.CPU_SECONDS)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1k chats / 50k messages, short phases")
    parser.add_argument("--pace", type=float, default=team.PACE_S, help="figure 11: seconds between operator actions")
    args = parser.parse_args()
    wanted = {int(x) for x in args.only.split(",") if x}
    started = time.perf_counter()
    spec = QUICK if args.quick else Spec()
    work = Path(tempfile.mkdtemp(prefix="chatdesk-bench-"))
    if args.quick:  # never replaces the cached 1M store (nor its PostgreSQL copy)
        big = work / f"{spec.key}.db"
        gen_s: float | None = _generate(big, spec)
    else:
        big, gen_s = big_store(spec, args.fresh)
    print(f"{spec.chats:,}-chat / {spec.messages:,}-message store: {big} "
          f"({f'generated in {gen_s:.1f} s' if gen_s is not None else 'cached'})", flush=True)
    try:
        stores = Stores(work, big, spec)
        small10, hundred, empty = work / "ten.db", work / "hundred.db", work / "empty.db"
        _generate(small10, Spec(chats=10, messages=100, big_chat=10, small_chat=10))
        _generate(hundred, Spec(chats=100, messages=2_000, big_chat=20, small_chat=10))
        _generate(empty, None)
        figures: dict[int, Callable[[], Result]] = {
            1: lambda: ingest.run(stores),
            2: lambda: idle_poll.run(stores),
            3: lambda: tui.fig3(stores, small10),
            4: lambda: tui.fig4(stores),
            5: lambda: tui.fig5(stores, hundred),
            6: lambda: search.run(stores),
            7: lambda: tui.fig7(stores, empty),
            8: lambda: tui.fig8(stores, args.cpu_seconds),
            9: lambda: assist.fig9(stores),
            10: lambda: assist.fig10(stores),
            11: lambda: team.run(stores, pace=args.pace,
                                 duration=team.QUICK_S if args.quick else team.DURATION_S),
            12: lambda: freshness.run(),
        }
        results: list[Result] = []
        for n in sorted(wanted):
            t0 = time.perf_counter()
            try:
                result = figures[n]()
            except Exception as exc:  # one broken figure must not hide the others
                traceback.print_exc()
                result = Result(n, f"figure {n}", "error", "—", "—", "—", None, note=f"{type(exc).__name__}: {exc}")
            result.data["bench_seconds"] = time.perf_counter() - t0
            print(f"[{n}] {result.verdict} {result.title}: {result.value} | {result.baseline} | ratio {result.ratio}"
                  f" ({result.data['bench_seconds']:.1f} s)", flush=True)
            results.append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - started
    text = table(results)
    header = f"Machine: {machine()}\nGeneration: {gen_s:.1f} s\n" if gen_s is not None else f"Machine: {machine()}\n"
    print()
    print(header + f"Total: {total:.0f} s\n")
    print(text)
    RESULTS.mkdir(exist_ok=True)
    name = "latest-quick" if args.quick else "latest"
    (RESULTS / f"{name}.md").write_text(header + f"Total: {total:.0f} s\n\n" + text + "\n")
    (RESULTS / f"{name}.json").write_text(json.dumps(
        {"machine": machine(), "generation_s": gen_s, "total_s": total, "figures": [asdict(r) for r in results]},
        ensure_ascii=False, indent=2, default=str))


if __name__ == "__main__":
    main()
