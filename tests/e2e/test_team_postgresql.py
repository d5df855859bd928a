"""Team mode end to end on PostgreSQL with real processes: one sync daemon holds the key, two
operators on "other machines" (their own homes, no key) work on the same store. One answers;
the other's send is stopped by it; the keyless reply is delivered by the daemon; an internal
note never reaches the marketplace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import TOKEN, Cli, Sandbox


def _wait(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError("timed out")


@pytest.mark.timeout(300)
def test_two_operators_one_daemon_on_postgresql(pg_cli: Cli, sandbox: Sandbox, tmp_path: Path) -> None:
    daemon_host = pg_cli
    daemon_host.run("account", "add", "wildberries", "shop", "--base-url", sandbox.url("wb"), input=TOKEN + "\n")
    daemon_host.run("operator", "add", "anna", "--display", "Анна")
    daemon_host.run("operator", "add", "ivan", "--display", "Иван")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "chatdesk", "sync"],
        env=daemon_host.env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "daemon.log").open("w"),
    )
    try:
        anna = Cli({**pg_cli.env, "CHATDESK_HOME": str(tmp_path / "anna"), "CHATDESK_OPERATOR": "anna"})
        ivan = Cli({**pg_cli.env, "CHATDESK_HOME": str(tmp_path / "ivan"), "CHATDESK_OPERATOR": "ivan"})
        _wait(lambda: bool(anna.json("chats", "--json")))
        chat = next(c for c in anna.json("chats", "--waiting", "--json") if c["kind"] == "chat")  # type: ignore[union-attr]
        cid = str(chat["id"])
        who = anna.json("who", "--json")
        assert who["pollers"]["shop"]  # type: ignore[index]  # the TUIs/CLIs can show who delivers

        anna.run("messages", cid)
        ivan.run("messages", cid)  # both have looked
        anna.run("assign", cid)
        assert anna.json("chats", "--mine", "--json")[0]["assigned_to"] == "anna"  # type: ignore[index]

        reply = "Иван на связи: заказ уже едет"
        sent = ivan.run("send", cid, reply, check=False)  # no key on Ivan's machine
        assert sent.returncode == 3 and "sync service" in sent.stdout, sent.stdout + sent.stderr

        stopped = anna.run("send", cid, "Отправим завтра", check=False)
        assert stopped.returncode == 4, stopped.stdout + stopped.stderr
        assert "Иван replied" in stopped.stderr and "review" in stopped.stderr
        assert len(stopped.stderr.strip().splitlines()) == 1
        assert reply in stopped.stdout  # the new message is shown

        anna.run("note", cid, "ВНУТРЕННЕЕ: не обещать скидку")

        def delivered() -> bool:
            msgs = anna.json("messages", cid, "--json")
            return any(m["text"] == reply and m["state"] == "sent" for m in msgs)  # type: ignore[union-attr,index]

        _wait(delivered, 90)
        mine = [m for m in anna.json("messages", cid, "--json") if m["text"] == reply]  # type: ignore[union-attr,index]
        assert mine[0]["operator"] == "ivan" and mine[0]["operator_name"] == "Иван"
        truth = json.dumps(sandbox.get("truth/wb"), ensure_ascii=False)
        assert truth.count(reply) == 1  # delivered once, by the daemon
        assert "ВНУТРЕННЕЕ" not in truth  # the note never left the store
        # Anna has now seen Ivan's reply: her (different) answer may go, explicitly queued.
        again = anna.run("send", cid, "Дополню: трек-номер пришлём", check=False)
        assert again.returncode == 3, again.stdout + again.stderr
    finally:
        daemon.send_signal(signal.SIGINT)
        try:
            daemon.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(daemon.pid, signal.SIGKILL)
