"""Every command's ``--help`` reads whole: no words eaten by rich markup, no sentence broken mid-line."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from chatdesk.cli import app


def _paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    out: list[list[str]] = [[]]

    def walk(cmd: object, path: list[str]) -> None:
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            out.append([*path, name])
            walk(sub, [*path, name])

    walk(root, [])
    return out


@pytest.mark.parametrize("path", _paths(), ids=lambda p: " ".join(p) or "chatdesk")
def test_help_reads_whole(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    for line in result.output.splitlines():
        text = line.strip(" │╭╮╰╯─")
        assert not re.search(r"\w  +\w", text.split("  ", 1)[-1].strip()), line  # a word lost between two
        assert "see  in" not in line and "if  is" not in line, line
    if path in (["suggest"], ["assist"]):
        assert "[assist]" in result.output


def test_long_descriptions_are_one_paragraph() -> None:
    out = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "300", "TERM": "dumb"}).output
    report = next(line for line in out.splitlines() if " report " in line)
    assert "products whose problems are rising" in report
    suggest = next(line for line in out.splitlines() if " suggest " in line)
    assert "draft from your model if [assist] is configured" in suggest


def _readme_cli_block() -> str:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The CLI", 1)[1]
    return section.split("```", 2)[1]


@pytest.mark.parametrize("name", ["report", "suggest", "search", "chats", "messages", "send", "download"])
def test_readme_cli_section_lists_the_command_with_its_options(name: str) -> None:
    cmd = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    lines = [line for line in _readme_cli_block().splitlines() if line.startswith(f"chatdesk {name} ")]
    assert lines, f"README's CLI section lacks `chatdesk {name}`"
    text = " ".join(lines)
    for param in cmd.params:
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert opt in text, f"README's `chatdesk {name}` line lacks {opt}"


def test_readme_cli_section_lists_assist_key() -> None:
    assert "chatdesk assist key [--remove]" in _readme_cli_block()
