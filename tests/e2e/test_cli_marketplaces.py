"""The CLI contract end to end, for each marketplace, against the loopback sandbox:
account add -> sync -> chats/messages equal the sandbox's truth; idempotent re-sync; send ->
the reply appears once as sent; seller-portal messages once; duplicated pages deduped;
rate limiting survived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import TOKEN, Cli, Sandbox

MARKETPLACES = [
    ("wildberries", "wb", []),
    ("ozon", "ozon", ["--client-id", "123456"]),
    ("yandex", "ym", ["--business-id", "12345678"]),
]


def rate_limit_fault(marketplace: str, prefix: str) -> dict[str, object]:
    if marketplace == "yandex":
        until = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        return {
            "kind": "status",
            "prefix": prefix,
            "status": 420,
            "times": 1,
            "headers": {"X-RateLimit-Resource-Until": until},
            "body": {"status": "ERROR", "errors": [{"code": "LIMIT_EXCEEDED", "message": "Too many requests"}]},
        }
    body = (
        {"title": "too many requests", "detail": "limited", "status": 429, "statusText": "Too Many Requests"}
        if marketplace == "wildberries"
        else {"code": 8, "message": "too many requests", "details": []}
    )
    return {
        "kind": "status",
        "prefix": prefix,
        "status": 429,
        "times": 1,
        "headers": {"Retry-After": "1", "X-Ratelimit-Retry": "1"},
        "body": body,
    }


def assert_store_equals_truth(
    cli: Cli, sandbox: Sandbox, prefix: str, only: set[str] | None = None
) -> list[dict[str, object]]:
    """Chats equal the truth; so do the messages of every chat (or of the ``only`` ones)."""
    truth = sandbox.get(f"truth/{prefix}")
    assert isinstance(truth, dict)
    chats = cli.json("chats", "--json")
    assert isinstance(chats, list)
    fields = ("external_id", "kind", "customer", "order_id", "product_id", "status")
    got = sorted(({k: c[k] for k in fields} for c in chats), key=lambda c: str(c["external_id"]))
    want = sorted(({k: c.get(k) for k in fields} for c in truth["chats"]), key=lambda c: str(c["external_id"]))
    assert got == want
    by_ext = {c["external_id"]: c for c in chats}
    for ext, want_msgs in truth["messages"].items():
        if only is not None and ext not in only:
            continue
        msgs = cli.json("messages", str(by_ext[ext]["id"]), "--json")
        assert isinstance(msgs, list)
        got_msgs = [
            {
                "external_id": m["external_id"],
                "author": m["author"],
                "text": m["text"],
                "created_at": m["created_at"],
                "attachments": [a["name"] for a in m["attachments"]],
            }
            for m in msgs
        ]
        assert got_msgs == want_msgs, f"chat {ext}"
    return chats


@pytest.mark.timeout(400)
@pytest.mark.parametrize(("marketplace", "prefix", "flags"), MARKETPLACES)
def test_full_cycle(cli: Cli, sandbox: Sandbox, marketplace: str, prefix: str, flags: list[str]) -> None:
    cli.run("account", "add", marketplace, "shop", "--base-url", sandbox.url(prefix), *flags, input=TOKEN + "\n")
    out = cli.run("sync", "--once").stdout
    assert "shop: ok" in out
    chats = assert_store_equals_truth(cli, sandbox, prefix)
    assert sum(1 for c in chats if c["waiting"]) > 0

    # an idle re-sync adds nothing
    assert "0 new messages" in cli.run("sync", "--once").stdout
    assert_store_equals_truth(cli, sandbox, prefix, only=set())

    # send -> accepted -> sync -> shown once, as sent
    target = next(c for c in chats if c["kind"] == "chat" and (c["status"] or "").upper() not in ("FINISHED", "CLOSED"))
    closes = target["reply_window_closes"]
    if closes is not None and (closes == "closed" or datetime.fromisoformat(closes) <= datetime.now(UTC)):
        # Ozon takes a reply only within 48 h of the buyer's last message: refused before any
        # request, and possible again once the buyer writes.
        early = cli.run("send", str(target["id"]), "Здравствуйте!", check=False)
        assert early.returncode == 2 and "reply window closed" in early.stderr
        sandbox.post(f"buyer/{prefix}", {"chat": target["external_id"]})
        cli.run("sync", "--once")
    reply = "Здравствуйте! Отправим завтра, номер для отслеживания пришлём в чат."
    sent = cli.run("send", str(target["id"]), reply)
    assert sent.stdout.startswith("sent")
    cli.run("sync", "--once")
    msgs = cli.json("messages", str(target["id"]), "--json")
    mine = [m for m in msgs if m["text"] == reply]
    assert len(mine) == 1 and mine[0]["state"] == "sent" and mine[0]["external_id"]
    assert_store_equals_truth(cli, sandbox, prefix, only={str(target["external_id"])})

    # the seller answers from the marketplace's own portal: appears once
    sandbox.post(f"portal/{prefix}", {"chat": target["external_id"], "text": "Ответ из личного кабинета"})
    # duplicated/overlapping pages and a rate limit in the middle of the next sync
    for _ in range(4):
        sandbox.post(f"buyer/{prefix}", {"chat": target["external_id"]})
    sandbox.post(f"buyer/{prefix}", {})
    sandbox.post("fault", {"kind": "duplicate", "prefix": prefix, "times": 2})
    sandbox.post("fault", rate_limit_fault(marketplace, prefix))
    assert "shop: ok" in cli.run("sync", "--once").stdout
    assert_store_equals_truth(cli, sandbox, prefix)


def test_send_refuses_over_limit_before_any_request(cli: Cli, sandbox: Sandbox) -> None:
    cli.run("account", "add", "wildberries", "wb", "--base-url", sandbox.url("wb"), input=TOKEN + "\n")
    cli.run("sync", "--once")
    chat = cli.json("chats", "--json")[0]  # type: ignore[index]
    before = sandbox.get("stats")["wb"]["total"]  # type: ignore[index]
    proc = cli.run("send", str(chat["id"]), "я" * 1001, check=False)
    assert proc.returncode == 2 and "1000" in proc.stderr and "Traceback" not in proc.stderr
    assert sandbox.get("stats")["wb"]["total"] == before  # type: ignore[index]


def test_bad_input_is_one_line_and_exit_2(cli: Cli) -> None:
    for args in (["messages", "999"], ["account", "add", "amazon", "x"], ["chats", "--bogus"], ["send", "abc", "x"]):
        proc = cli.run(*args, check=False, input="tok\n")
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_sync_once_fails_loudly_with_the_reason(cli: Cli, sandbox: Sandbox) -> None:
    cli.run("account", "add", "wildberries", "bad", "--base-url", sandbox.url("wb"), input="bad-token\n")
    proc = cli.run("sync", "--once", check=False)
    assert proc.returncode == 1 and "bad: FAILED" in proc.stderr
    assert "bad-token" not in proc.stderr + proc.stdout
