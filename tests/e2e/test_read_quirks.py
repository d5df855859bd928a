"""Issue 11 end to end: the real CLI (`sync --once`, `account list`, `messages`) against
`chatdesk sandbox serve`, which produces each quirk on demand (``POST /_sandbox/quirk``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdesk.sandbox.core import NO_QUESTIONS_TOKEN
from tests.e2e.conftest import TOKEN, Cli, Sandbox


def add(cli: Cli, sandbox: Sandbox, marketplace: str, prefix: str, *flags: str, token: str = TOKEN) -> None:
    cli.run("account", "add", marketplace, "shop", "--base-url", sandbox.url(prefix), *flags, input=token + "\n")


def texts(cli: Cli) -> list[str]:
    out: list[str] = []
    for chat in cli.json("chats", "--json"):  # type: ignore[union-attr]
        out += [m["text"] for m in cli.json("messages", str(chat["id"]), "--json")]  # type: ignore[union-attr,index]
    return out


def first_chat(sandbox: Sandbox, prefix: str) -> str:
    truth = sandbox.get(f"truth/{prefix}")
    return next(c["external_id"] for c in truth["chats"] if c["kind"] == "chat")  # type: ignore[index]


@pytest.mark.timeout(300)
def test_wb_quirks_surrogates_timestamps_missing_fields_and_a_backward_cursor(cli: Cli, sandbox: Sandbox) -> None:
    add(cli, sandbox, "wildberries", "wb")
    assert "shop: ok" in cli.run("sync", "--once").stdout
    chat = first_chat(sandbox, "wb")
    sandbox.post("buyer/wb", {"chat": chat, "text": "Спасибо! \ud83d"})  # half an emoji
    for form in ("us", "float", "s"):
        sandbox.post("quirk/wb", {"name": "timestamp", "form": form})
        sandbox.post("buyer/wb", {"chat": chat, "text": f"время в форме {form}"})
    sandbox.post("quirk/wb", {"name": "missing_optional"})
    sandbox.post("buyer/wb", {"chat": chat, "text": "без необязательных полей"})
    sandbox.post("quirk/wb", {"name": "timestamp", "form": "garbage"})
    sandbox.post("buyer/wb", {"chat": chat, "text": "без времени"})  # addTime still valid: kept
    out = cli.run("sync", "--once")
    assert "shop: ok" in out.stdout and out.returncode == 0
    got = texts(cli)
    assert "Спасибо! \ufffd" in got
    for form in ("us", "float", "s"):
        assert f"время в форме {form}" in got
    assert "без необязательных полей" in got and "без времени" in got

    # a feed whose `next` goes backwards: the round ends quickly and the next one goes on
    sandbox.post("quirk/wb", {"name": "cursor", "mode": "backward", "times": 50})
    sandbox.post("buyer/wb", {"chat": chat, "text": "после скачка курсора"})
    sandbox.post("reset-counts", {})
    assert cli.run("sync", "--once").returncode == 0
    stats = sandbox.get("stats")["wb"]["by_path"]  # type: ignore[index]
    assert stats.get("GET /api/v1/seller/events", 0) <= 3
    assert "после скачка курсора" in texts(cli)


@pytest.mark.timeout(300)
def test_wb_sign_rotation_and_a_token_without_questions(cli: Cli, sandbox: Sandbox) -> None:
    add(cli, sandbox, "wildberries", "wb", token=NO_QUESTIONS_TOKEN)
    first = cli.run("sync", "--once")
    assert first.returncode == 0, first.stderr  # a state, not a failure of each round
    assert "questions" in first.stdout and "Вопросы и отзывы" in first.stdout
    again = cli.run("sync", "--once")
    assert again.returncode == 0 and "questions" not in again.stdout  # said once
    listed = cli.json("account", "list", "--json")[0]  # type: ignore[index]
    assert any(s["stream"] == "questions" and s["unavailable"] for s in listed["streams"])

    sandbox.post("quirk/wb", {"name": "sign_rotation"})  # every cached replySign is now refused
    chat = next(c for c in cli.json("chats", "--json") if c["kind"] == "chat")  # type: ignore[union-attr]
    sent = cli.run("send", str(chat["id"]), "Здравствуйте! Уже отправили.", check=False)
    assert sent.returncode == 0 and sent.stdout.startswith("sent"), sent.stdout + sent.stderr


@pytest.mark.timeout(300)
def test_absurd_retry_hints_are_clamped_said_once_and_honoured_by_the_next_run(cli: Cli, sandbox: Sandbox) -> None:
    add(cli, sandbox, "wildberries", "wb")
    sandbox.post("quirk/wb", {"name": "retry_hint", "value": "1e12", "path": "/api/v1/seller/chats"})
    first = cli.run("sync", "--once", check=False)
    assert first.returncode == 0 and "Traceback" not in first.stderr + first.stdout
    assert "rate limit" in first.stdout
    sandbox.post("reset-counts", {})
    second = cli.run("sync", "--once", check=False)  # cron's next run: the announced wait holds
    assert second.returncode == 0 and "waiting until" in second.stdout
    assert sandbox.get("stats")["wb"]["by_path"].get("GET /api/v1/seller/chats", 0) == 0  # type: ignore[index]
    listed = cli.json("account", "list", "--json")[0]  # type: ignore[index]
    assert any(s["error_kind"] == "quota" and s["backoff_until"] for s in listed["streams"])


@pytest.mark.timeout(300)
def test_ozon_subscription_403_keeps_the_listed_chats_and_says_what_is_missing(cli: Cli, sandbox: Sandbox) -> None:
    add(cli, sandbox, "ozon", "ozon", "--client-id", "123456")
    sandbox.post("quirk/ozon", {"name": "subscription_403"})
    out = cli.run("sync", "--once")
    assert out.returncode == 0 and "Premium Plus" in out.stdout and "Client-Id" not in out.stdout
    chats = cli.json("chats", "--json")
    truth = sandbox.get("truth/ozon")
    assert {c["external_id"] for c in chats} == {c["external_id"] for c in truth["chats"]}  # type: ignore[index,union-attr]


@pytest.mark.timeout(300)
def test_ym_parallel_limit_same_second_and_a_broken_customer_name(cli: Cli, sandbox: Sandbox) -> None:
    add(cli, sandbox, "yandex", "ym", "--business-id", "12345678")
    assert cli.run("sync", "--once").returncode == 0
    chat = first_chat(sandbox, "ym")
    sandbox.post("quirk/ym", {"name": "customer_name", "chat": chat, "customer": "Иван \udc80"})
    # The race, played by the sandbox whatever this host's speed: the listing sees "первое",
    # and "в ту же секунду" lands in the same second right after the history is read, so the
    # chat's updatedAt does not move for the next poll.
    sandbox.post("quirk/ym", {"name": "same_second", "chat": chat, "first": "первое", "text": "в ту же секунду"})
    assert cli.run("sync", "--once").returncode == 0
    row = next(c for c in cli.json("chats", "--json") if c["external_id"] == chat)  # type: ignore[union-attr]
    assert row["customer"] == "Иван \ufffd"
    assert "первое" in texts(cli) and "в ту же секунду" not in texts(cli)  # the race happened
    sandbox.post("quirk/ym", {"name": "parallel_420", "times": 2})
    out = cli.run("sync", "--once")
    assert out.returncode == 0 and "shop: ok" in out.stdout
    assert "в ту же секунду" in texts(cli)


def test_a_traceback_goes_to_the_log_and_one_line_to_the_terminal(cli: Cli, sandbox: Sandbox, tmp_path: Path) -> None:
    add(cli, sandbox, "ozon", "ozon", "--client-id", "123456")
    # chat list answers with a list where an object is expected: an unexpected wire format
    sandbox.post("fault", {"kind": "status", "prefix": "ozon", "status": 200, "times": 10, "body": [1, 2]})
    out = cli.run("sync", "--once", check=False)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr + out.stdout
    assert len([line for line in out.stderr.splitlines() if "shop" in line]) == 1
    logs = list(Path(cli.env["CHATDESK_HOME"]).rglob("chatdesk.log"))
    assert logs and all(TOKEN not in log.read_text() for log in logs)
