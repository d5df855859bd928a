"""The README says what marketplaces.py and Config say (issue 10): the marketplace limits
table is rendered from the rows here and must appear verbatim; the config.toml example names
every Config key and no other."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path

from chatdesk import marketplaces
from chatdesk.config import Config
from chatdesk.model import Limits

README = Path(__file__).resolve().parents[1] / "README.md"
MiB = 1024 * 1024
_TYPE_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP"}
_TYPE_NAMES["application/pdf"] = "PDF"


def _size(value: int | None) -> str:
    return "—" if value is None else f"{value / MiB:g} MB"


def _types(limits: Limits) -> str:
    if limits.max_files == 0:
        return "no files"
    if limits.file_types is None:
        return "any"
    return ", ".join(_TYPE_NAMES[t] for t in _TYPE_NAMES if t in limits.file_types)


def _window(row: marketplaces.Marketplace) -> str:
    if row.reply_window is None:
        return "—"
    return f"{row.reply_window.total_seconds() / 3600:g} h after the buyer's last message"


def table_lines() -> list[str]:
    """The "Limits, and where each number comes from" table, one line per (marketplace, kind)."""
    lines = [
        "| marketplace | id | badge | account settings | kind | text, characters | file types | per file "
        "| per message | files per request | text with files | reply window | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in marketplaces.MARKETPLACES.values():
        settings = ", ".join(f"`{s.flag}` ({s.label})" for s in row.settings) or "—"
        for kind, limits in row.limits.items():
            cells = [
                row.name,
                f"`{row.id}`",
                row.badge,
                settings,
                kind,
                f"{limits.min_text}–{limits.max_text}",
                _types(limits),
                _size(limits.max_file_size),
                _size(limits.max_total_size),
                "—" if limits.max_files == 0 else str(limits.max_files or "any"),
                "—" if limits.max_files == 0 else ("yes" if limits.text_with_files else "no"),
                _window(row),
                row.sources[kind],
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def budget_lines() -> list[str]:
    """Published request limits and the client-side budgets chatdesk keeps, per marketplace."""
    lines = ["| marketplace | published limits | chatdesk's budgets (requests / seconds, burst) |", "|---|---|---|"]
    for row in marketplaces.MARKETPLACES.values():
        budgets = "; ".join(
            f"`{key}` {b.limit}/{b.period:g} s, burst {b.burst or b.limit}" for key, b in row.budgets.items()
        )
        lines.append(f"| {row.name} | {row.published_rates} | {budgets} |")
    return lines


def _assert_table(want: list[str]) -> None:
    text = README.read_text(encoding="utf-8")
    start = text.find(want[0] + "\n")
    assert start >= 0, "README lacks the table:\n" + "\n".join(want)
    got = text[start:].split("\n\n", 1)[0].strip().splitlines()
    assert got == want, "README's table differs from chatdesk/marketplaces.py; expected:\n" + "\n".join(want)


def test_readme_marketplace_table_matches_marketplaces_py() -> None:
    _assert_table(table_lines())


def test_readme_budget_table_matches_marketplaces_py() -> None:
    _assert_table(budget_lines())


def test_readme_config_example_names_every_config_key() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"### config\.toml\s+```toml\n(.*?)```", text, re.S)
    assert block, "README lacks the config.toml example"
    example = tomllib.loads(block.group(1))
    keys = {f.name for f in fields(Config)}
    assert set(example) == keys, f"README config example vs Config: {sorted(set(example) ^ keys)}"
    assert set(example["resolve_rules"]) == set(Config().resolve_rules)
