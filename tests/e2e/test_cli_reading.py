"""`chats`, `search` and `messages` as a new user reads them: human titles (as the TUI shows),
how long the buyer has waited, one line per message in a pipe, a stable search order."""

from __future__ import annotations

import io
import os
import re
import shutil
import sys

import pytest

from tests.e2e.conftest import TOKEN, Cli, Sandbox

LONG = "Здравствуйте, " + "очень длинный вопрос про размер и доставку " * 12 + "конец."


def _synced(cli: Cli, sandbox: Sandbox) -> list[dict[str, object]]:
    cli.run("account", "add", "wildberries", "shop", "--base-url", sandbox.url("wb"), input=TOKEN + "\n")
    cli.run("sync", "--once")
    return cli.json("chats", "--json")  # type: ignore[return-value]


@pytest.mark.timeout(300)
def test_chats_and_search_show_titles_waits_and_a_stable_order(cli: Cli, sandbox: Sandbox) -> None:
    chats = _synced(cli, sandbox)
    external = {str(c["external_id"]) for c in chats}
    out = cli.run("chats").stdout
    for ext in external:
        assert ext[:20] not in out  # no internal ids in the CUSTOMER column
    assert "product " in out  # a question without a name is titled by its product, as in the TUI
    assert "●" not in out
    waits = [line for line in out.splitlines()[1:] if re.search(r"\s\d+[mhd]\s", line)]
    assert len(waits) == sum(1 for c in chats if c["waiting"]) > 0

    found = cli.run("search", "Здравствуйте").stdout
    for ext in external:
        assert ext[:20] not in found
    hits = cli.json("search", "Здравствуйте", "--json")
    assert isinstance(hits, list) and len(hits) >= 2
    keys = [(h["message"]["created_at"], h["message"]["id"]) for h in hits]
    assert keys == sorted(keys, reverse=True)  # newest first, then the higher id
    assert cli.run("search", "Здравствуйте").stdout == found  # deterministic


@pytest.mark.timeout(300)
def test_messages_in_a_pipe_print_one_line_per_message(cli: Cli, sandbox: Sandbox) -> None:
    chats = _synced(cli, sandbox)
    chat = next(c for c in chats if c["kind"] == "chat")
    sandbox.post("buyer/wb", {"chat": chat["external_id"], "text": LONG + "\nвторая строка"})
    cli.run("sync", "--once")
    msgs = cli.json("messages", str(chat["id"]), "--json")
    lines = cli.run("messages", str(chat["id"])).stdout.splitlines()
    assert isinstance(msgs, list) and len(lines) == len(msgs)
    assert lines[-1].endswith(LONG + " вторая строка")
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d ", line) for line in lines)


def test_messages_on_a_terminal_wrap_with_indentation(monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdesk.cli.reading import _print_messages

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stdout", tty)
    monkeypatch.setattr(shutil, "get_terminal_size", lambda fallback=(0, 0): os.terminal_size((60, 24)))
    _print_messages(["2026-11-20 18:40 buyer: " + LONG])
    lines = tty.getvalue().splitlines()
    assert len(lines) > 3 and lines[0].startswith("2026-11-20 18:40 buyer: ")
    assert all(line.startswith("    ") and len(line) <= 60 for line in lines[1:])
