"""Issue 14 end to end: the real CLI in subprocesses against `chatdesk sandbox serve`, with the
sandbox's fake model endpoint: hooks fire once per new buyer message (not for the first sync's
history, not again on the next run), `suggest` with the model, `report` in every format."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import TOKEN, Cli, Sandbox

HOOK = """
import json, os, sys
event = json.load(sys.stdin)
with open(sys.argv[1], "a", encoding="utf-8") as f:
    f.write(json.dumps({"env": os.environ.get("CHATDESK_EVENT"), "text": event["text"],
                        "account": event["account"]}, ensure_ascii=False) + "\\n")
"""


@pytest.mark.timeout(300)
def test_hooks_suggest_and_report_against_the_sandbox(cli: Cli, sandbox: Sandbox, tmp_path: Path) -> None:
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    fired = tmp_path / "fired.jsonl"
    config = tmp_path / "config.toml"
    config.write_text(
        "[hooks]\n"
        f"buyer_message = {json.dumps([sys.executable, str(hook), str(fired)])}\n"
        "[assist]\n"
        f'base_url = "{sandbox.base}/llm/v1"\n'
        'model = "chatdesk-fake"\n'
    )
    cli.env["CHATDESK_CONFIG"] = str(config)
    cli.run("account", "add", "wildberries", "shop", "--base-url", sandbox.url("wb"), input=TOKEN + "\n")
    assert "shop: ok" in cli.run("sync", "--once").stdout
    assert not fired.exists()  # the first sync brings history: no news

    sandbox.post("buyer/wb", {"text": "Подскажите, какой размер взять на рост 176?"})
    cli.run("sync", "--once")
    cli.run("sync", "--once")  # nothing new, and nothing fired again after a restart
    lines = [json.loads(x) for x in fired.read_text().splitlines()]
    assert lines == [{"env": "buyer_message", "text": "Подскажите, какой размер взять на рост 176?", "account": "shop"}]

    chats = cli.json("chats", "--json")
    assert isinstance(chats, list)
    target = next(c for c in chats if c["preview"] == "Подскажите, какой размер взять на рост 176?")
    out = cli.json("suggest", str(target["id"]), "--json")
    assert isinstance(out, dict)
    first = out["suggestions"][0]
    assert first["source"] == "model" and first["text"].startswith("Здравствуйте")
    assert "chatdesk-fake at 127.0.0.1" in first["reason"]
    assert out["for_message_id"] is not None

    report = cli.json("report", "--since", "30d", "--by", "topic", "--json")
    assert isinstance(report, dict)
    assert report["total"]["buyer_messages"] > 0
    assert any(g["key"] == "size" for g in report["groups"])
    csv_out = cli.run("report", "--csv").stdout
    assert csv_out.splitlines()[0].startswith("key,conversations,buyer_messages")
    text = cli.run("report", "--since", "30d").stdout
    assert "first response" in text and "wildberries" in text
    bad = cli.run("report", "--since", "forever", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("chatdesk: ") and len(bad.stderr.splitlines()) == 1
