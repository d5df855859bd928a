"""What every figure shares: its result row, timing helpers and the stores of one run."""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.datagen import Spec


@dataclass
class Result:
    """One row of the table. ``ok`` None: not measured (``note`` says why)."""

    n: int
    title: str
    value: str
    baseline: str
    ratio: str
    target: str
    ok: bool | None
    note: str = ""
    data: dict[str, object] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "n/a" if self.ok is None else "PASS" if self.ok else "MISS"


@dataclass
class Stores:
    """The databases of one run: the big one is generated once and shared by every figure."""

    workdir: Path
    big: Path  # 10k chats / 1M messages (read-only for the figures; copy it to write)
    spec: Spec

    def copy_big(self, name: str) -> Path:
        dest = self.workdir / name
        shutil.copyfile(self.big, dest)
        return dest


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: an observed value, no interpolation."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ratio(value: float, base: float) -> float:
    return value / base if base else float("inf")
