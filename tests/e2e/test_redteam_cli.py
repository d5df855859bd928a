"""Red-team findings seen end to end through the real CLI against ``chatdesk sandbox serve``:
userinfo in base URLs (10), rate-limit hints at the calendar's edge (6), partial multi-part
sends (3), refused files settled by another file's echo (1) and split/re-encoded key echoes (2)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, Sandbox, start_sandbox
from tests.reliability import cli_env

PROXY_PASSWORD = "Pr0xyPassw0rd"


@pytest.mark.parametrize(
    "url",
    [
        f"https://proxyuser:{PROXY_PASSWORD}@127.0.0.1:9/",
        f"ftp://proxyuser:{PROXY_PASSWORD}@127.0.0.1:9/",  # wrong scheme: still never echoed
        f"https://{PROXY_PASSWORD}@example.com/",
    ],
)
def test_base_url_with_userinfo_is_refused_and_never_stored_or_printed(cli: Cli, tmp_path: Path, url: str) -> None:
    p = cli.run("account", "add", "wildberries", "wb1", "--base-url", url, input="wb-token-123456", check=False)
    assert p.returncode == 2
    out = p.stdout + p.stderr
    assert PROXY_PASSWORD not in out
    assert len([line for line in out.splitlines() if line.strip()]) == 1, out
    listed = cli.run("account", "list", "--json").stdout
    assert PROXY_PASSWORD not in listed
    stored = b"".join(f.read_bytes() for f in (tmp_path / "home").rglob("*") if f.is_file())
    assert PROXY_PASSWORD.encode() not in stored


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
YM_REFUSED = {"status": "ERROR", "errors": [{"code": "BAD_REQUEST", "message": "file rejected"}]}


@pytest.fixture(scope="module")
def ym(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Cli, Path]]:
    """One sandbox and one Yandex Market account shared by this module's YM tests."""
    root = tmp_path_factory.mktemp("ym")
    sb = start_sandbox(root / "sb.log", "--page-size", "3", "--chats", "6")
    cli = Cli(cli_env(root / "home"))
    try:
        cli.run(
            "account", "add", "yandex", "ym", "--base-url", sb.url("ym"), "--business-id", "1", input="ymkey-123456"
        )
        cli.run("sync", "--once")
        yield sb, cli, root
    finally:
        sb.proc.terminate()
        sb.proc.wait(10)


def _open_chats(cli: Cli) -> list[dict[str, object]]:
    chats = json.loads(cli.run("chats", "--json").stdout)
    return [c for c in chats if str(c.get("status") or "").upper() != "FINISHED"]


def _count(sb: Sandbox, needle: str) -> int:
    return json.dumps(sb.get("truth/ym"), ensure_ascii=False).count(needle)


def test_refused_file_is_not_settled_by_the_other_files_echo(ym: tuple[Sandbox, Cli, Path]) -> None:
    sb, cli, root = ym
    chat = _open_chats(cli)[0]["id"]
    a, b = root / "invoice.png", root / "label.png"
    a.write_bytes(PNG)
    b.write_bytes(PNG + b"\0")
    sb.post(
        "fault",
        {"kind": "status", "prefix": "ym", "path": "/chats/file/send", "status": 400, "body": YM_REFUSED, "times": 1},
    )
    p = cli.run("send", str(chat), "", "--attach", str(a), "--attach", str(b), check=False)
    assert p.returncode == 5 and "label.png" in p.stdout and "invoice.png" in p.stdout, p.stdout + p.stderr
    cli.run("sync", "--once")
    mine = {
        m["attachments"][0]["name"]: m
        for m in json.loads(cli.run("messages", str(chat), "--json").stdout)
        if m.get("attachments") and m["attachments"][0]["name"] in ("invoice.png", "label.png")
    }
    assert _count(sb, "invoice.png") == 0 and _count(sb, "label.png") == 1
    assert mine["invoice.png"]["state"] == "failed" and mine["invoice.png"]["error"]
    assert mine["label.png"]["state"] == "sent"


def test_text_sent_file_refused_is_a_distinct_partial_outcome(ym: tuple[Sandbox, Cli, Path]) -> None:
    sb, cli, root = ym
    chat = _open_chats(cli)[1]["id"]
    img = root / "photo.png"
    img.write_bytes(PNG)
    sb.post(
        "fault",
        {"kind": "status", "prefix": "ym", "path": "/chats/file/send", "status": 400, "body": YM_REFUSED, "times": 1},
    )
    p = cli.run("send", str(chat), "Текст ответа RED-3", "--attach", str(img), check=False)
    out = p.stdout + p.stderr
    assert p.returncode == 5, out
    assert "went out" in out and "Текст ответа RED-3" in out and "refused" in out and "photo.png" in out
    assert "--attach 'photo.png'" in out  # how to send only what was refused
    assert _count(sb, "Текст ответа RED-3") == 1
    again = cli.run("send", str(chat), "", "--attach", str(img), check=False)  # the file alone, as told
    assert again.returncode == 0, again.stdout + again.stderr
    assert _count(sb, "Текст ответа RED-3") == 1
    help_text = cli.run("send", "--help").stdout
    assert "5 partly sent" in " ".join(help_text.split())


def test_rate_limit_with_a_date_at_the_calendar_edge_is_queued_not_unconfirmed(ym: tuple[Sandbox, Cli, Path]) -> None:
    sb, cli, _root = ym
    chat = _open_chats(cli)[2]["id"]
    hint = "9999-12-31T23:59:59-23:59"
    limited = {"status": "ERROR", "errors": [{"code": "LIMIT_EXCEEDED", "message": "Too many requests"}]}
    sb.post(
        "fault",
        {
            "kind": "status",
            "prefix": "ym",
            "path": "/chats/message",
            "status": 420,
            "headers": {"X-RateLimit-Resource-Until": hint},
            "body": limited,
            "times": 1,
        },
    )
    p = cli.run("send", str(chat), "Ответ RED-420", check=False)
    out = p.stdout + p.stderr
    assert p.returncode == 3 and "rate limit" in out and "Traceback" not in out and "Overflow" not in out, out
    state = [m for m in json.loads(cli.run("messages", str(chat), "--json").stdout) if m.get("text") == "Ответ RED-420"]
    assert state and state[0]["state"] == "queued"
    assert _count(sb, "Ответ RED-420") == 0
    sb.post(
        "fault",
        {
            "kind": "status",
            "prefix": "ym",
            "path": "/chats",
            "status": 420,
            "headers": {"X-RateLimit-Resource-Until": hint},
            "body": limited,
            "times": 1,
        },
    )
    s = cli.run("sync", "--once", check=False)
    assert "Overflow" not in s.stdout + s.stderr and "Traceback" not in s.stdout + s.stderr


def test_ozon_key_echoed_split_wrapped_or_partly_encoded_never_leaks(tmp_path: Path) -> None:
    key = "0b7c1e2a-5f3d-4c8e-9a6b-1d2e3f4a5b6c"
    b64 = base64.b64encode(f"123456:{key}".encode()).decode()
    sb = start_sandbox(tmp_path / "sb.log", "--page-size", "3", "--chats", "3")
    home = tmp_path / "home"
    cli = Cli(cli_env(home))
    outs: list[str] = []
    try:
        cli.run("account", "add", "ozon", "oz", "--base-url", sb.url("ozon"), "--client-id", "123456", input=key)
        cli.run("sync", "--once")
        first = json.loads(cli.run("chats", "--json").stdout)[0]
        # the buyer writes now, so Ozon's 48 h reply window is open and the send reaches the wire
        sb.post("buyer/ozon", {"chat": first["external_id"]})
        cli.run("sync", "--once")
        chat = first["id"]
        message = f"bad key {key[:18]}\n{key[18:]} / {b64[:24]}\n{b64[24:]} / {key.replace('-', '%2D')}"
        sb.post(
            "fault",
            {
                "kind": "status",
                "prefix": "ozon",
                "path": "/v1/chat/send/message",
                "status": 400,
                "body": {"code": 3, "message": message, "details": []},
                "times": 1,
            },
        )
        p = cli.run("send", str(chat), "Ответ", check=False)
        outs.append(p.stdout + p.stderr)
        sb.post(
            "fault",
            {
                "kind": "status",
                "prefix": "ozon",
                "status": 500,
                "body": {"code": 13, "message": message, "details": []},
                "times": 3,
            },
        )
        for args in (("sync", "--once"), ("account", "list", "--json"), ("messages", str(chat), "--json")):
            r = cli.run(*args, check=False)
            outs.append(r.stdout + r.stderr)
    finally:
        sb.proc.terminate()
        sb.proc.wait(10)
    blob = b"".join(f.read_bytes() for f in home.rglob("*") if f.is_file() and "keyring" not in f.name)
    blob += "".join(outs).encode()
    compact = b"".join(blob.split())
    assert key.encode() not in compact
    assert key[:18].encode() not in blob and key[18:].encode() not in blob
    assert b64[:24].encode() not in blob and b64[24:].encode() not in blob
    assert key.replace("-", "%2D").encode() not in blob
    assert "***" in "".join(outs)
