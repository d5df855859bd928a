"""The CLI end to end on a PostgreSQL store (``CHATDESK_DB=postgresql+psycopg://…``): the same
contract as on SQLite. The full WB cycle on PostgreSQL is a ``slow`` test (``make soak``): in
``make test`` the team e2e test (daemon + two operators) and the store suites cover PostgreSQL,
because running every CLI cycle twice would blow the ``make test`` budget."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import TOKEN, Cli, Sandbox
from tests.e2e.test_cli_marketplaces import test_full_cycle as full_cycle


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_full_cycle_on_postgresql(pg_cli: Cli, sandbox: Sandbox) -> None:
    full_cycle(pg_cli, sandbox, "wildberries", "wb", [])


def test_search_and_account_list_on_postgresql(pg_cli: Cli, sandbox: Sandbox) -> None:
    pg_cli.run("account", "add", "wildberries", "shop", "--base-url", sandbox.url("wb"), input=TOKEN + "\n")
    pg_cli.run("sync", "--once")
    listed = pg_cli.json("account", "list", "--json")
    assert [a["name"] for a in listed] == ["shop"]  # type: ignore[index]
    chats = pg_cli.json("chats", "--json")
    assert chats
    msgs = pg_cli.json("messages", str(chats[0]["id"]), "--json")  # type: ignore[index]
    word = next(w for m in msgs for w in m["text"].split() if len(w) > 4 and w.isalpha())  # type: ignore[index,union-attr]
    hits = pg_cli.run("search", word).stdout
    assert hits.strip(), f"search for {word!r} found nothing"


def test_a_wrong_postgresql_url_is_one_line(cli: Cli) -> None:
    proc = cli.run("--db", "postgresql+psycopg://nobody:secret-pw@127.0.0.1:1/none", "chats", check=False)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "secret-pw" not in proc.stderr + proc.stdout  # the password is never shown
