"""Tokens live only in the keyring.

A full run of the real CLI with distinctive tokens — account add/test/list, sync, send, a
refused send, marketplaces that *echo the token back* in 401/500/400 bodies, every --json
output, follow-ups, search — and then every byte chatdesk wrote (the DB with its -wal/-shm,
config, logs, downloads) and everything it printed is searched for the tokens. They may
appear only in the keyring file. In-process: httpx errors and unexpected exceptions carrying
a token are redacted in results, the store and logs. WB JWT expiry is warned ahead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from chatdesk.errors import ChatdeskError
from chatdesk.secrets import MemorySecrets
from chatdesk.store import accounts, views
from chatdesk.store.db import Database
from chatdesk.sync import SyncEngine
from chatdesk.usecases import accounts as actions
from tests.e2e.conftest import Cli, start_sandbox
from tests.reliability import cli_env

TOKENS = {
    "wb": "wbLEAKPROBE7f3c9a1e5d",
    "ozon": "ozLEAKPROBE2b8e6f4a0c",
    "ym": "ymLEAKPROBE9d1a7c3e5b",
}
KEYRING_FILE = "test-keyring.json"


def echoing_faults(prefix: str, token: str) -> list[dict[str, object]]:
    """Marketplaces that put the caller's token into their error text."""
    bodies = {
        "wb": {"title": "unauthorized", "detail": f"token {token} is invalid", "status": 401},
        "ozon": {"code": 16, "message": f"Api-Key {token} is invalid", "details": []},
        "ym": {"status": "ERROR", "errors": [{"code": "UNAUTHORIZED", "message": f"bad key {token}"}]},
    }
    body = bodies[prefix]
    return [
        {"kind": "status", "prefix": prefix, "status": 401, "body": body, "times": 1},
        {"kind": "status", "prefix": prefix, "status": 500, "body": body, "times": 2},
    ]


def leaks(data: bytes | str) -> list[str]:
    raw = data if isinstance(data, bytes) else data.encode()
    return [name for name, tok in TOKENS.items() if tok.encode() in raw or tok.encode("utf-16-le") in raw]


@pytest.mark.timeout(180)
def test_tokens_appear_nowhere_but_the_keyring(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path / "sandbox.log", "--page-size", "3", "--chats", "4")
    home = tmp_path / "home"
    cli = Cli(cli_env(home))
    outputs: list[str] = []

    def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        proc = cli.run(*args, input=input, check=False)
        outputs.append(f"$ {' '.join(args)}\n{proc.stdout}\n{proc.stderr}")
        return proc

    try:
        run("account", "add", "wildberries", "wb", "--base-url", sandbox.url("wb"), input=TOKENS["wb"] + "\n")
        run("account", "add", "ozon", "oz", "--base-url", sandbox.url("ozon"), "--client-id", "7", input=TOKENS["ozon"])
        run("account", "add", "yandex", "ym", "--base-url", sandbox.url("ym"), "--business-id", "1", input=TOKENS["ym"])
        for name in ("wb", "oz", "ym"):
            run("account", "test", name)
        run("sync", "--once")
        chats = json.loads(cli.run("chats", "--json").stdout)
        wb_chat = next(c for c in chats if c["marketplace"] == "wildberries" and c["kind"] == "chat")
        run("send", str(wb_chat["id"]), "Здравствуйте! Отправили сегодня.")
        run("send", str(wb_chat["id"]), "я" * 1001)  # refused before any request
        run("followup", "add", str(wb_chat["id"]), "Как вам покупка?", "--in", "3d")
        # marketplaces echo the token in 401 and 500 bodies, and in a send refusal
        for prefix in ("wb", "ozon", "ym"):
            for fault in echoing_faults(prefix, TOKENS[prefix]):
                sandbox.post("fault", fault)
        echoed = run("sync", "--once")
        assert echoed.returncode == 1 and echoed.stderr.count("FAILED") == 3, echoed.stderr  # the faults were hit
        errors = json.loads(run("account", "list", "--json").stdout)
        assert all(any(s["last_error"] for s in a["streams"]) for a in errors)
        for name in ("wb", "oz", "ym"):
            run("account", "test", name)
        sandbox.post(
            "fault",
            {
                "kind": "status",
                "prefix": "wb",
                "status": 400,
                "times": 1,
                "body": {"title": "Bad Request", "detail": f"bad sign for {TOKENS['wb']}", "status": 400},
            },
        )
        run("send", str(wb_chat["id"]), "Ответ, который отклонят.")
        run("sync", "--once")
        for args in (
            ("chats", "--json"),
            ("chats",),
            ("messages", str(wb_chat["id"]), "--json"),
            ("messages", str(wb_chat["id"])),
            ("account", "list", "--json"),
            ("account", "list"),
            ("followup", "list", "--json"),
            ("search", "Здравствуйте", "--json"),
            ("templates", "list", "--json"),
        ):
            run(*args)
        # the refused send carries the marketplace's words, minus the token
        msgs = json.loads(cli.run("messages", str(wb_chat["id"]), "--json").stdout)
        failed = [m for m in msgs if m["state"] == "failed"]
        assert failed and "bad sign for ***" in failed[-1]["error"]
    finally:
        sandbox.proc.terminate()
        sandbox.proc.wait(10)

    assert not leaks("\n".join(outputs)), [o for o in outputs if leaks(o)]
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "chatdesk.db-wal" or p.name == "chatdesk.db" for p in files)
    for path in files:
        found = leaks(path.read_bytes())
        if path.name == KEYRING_FILE:
            assert sorted(found) == sorted(TOKENS), "the keyring should hold every token"
        else:
            assert not found, f"{path.relative_to(home)} contains the {found} token"
    # private to the user
    assert (home.stat().st_mode & 0o777) == 0o700
    assert ((home / "chatdesk.db").stat().st_mode & 0o777) == 0o600


# ----------------------------------------------------------------------------- in-process redaction

SECRET = "inprocSECRET5e1f0b7a"


def world(tmp_path: Path, handler) -> tuple[Database, int, SyncEngine]:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    acc = accounts.add_account(db, "a", "yandex", base_url="http://127.0.0.1:9/ym", settings={"business_id": "1"})
    eng = SyncEngine(
        db,
        secrets=MemorySecrets({"a": SECRET}),
        client_factory=lambda _a: httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    return db, acc.id, eng


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError(f"cannot connect with key {SECRET}"),
        httpx.ReadTimeout(f"timed out sending Api-Key: {SECRET}"),
        httpx.LocalProtocolError(f"Illegal header value b'{SECRET}\\n'"),
        RuntimeError(f"a bug that prints {SECRET}"),
    ],
    ids=["connect", "read-timeout", "protocol", "unexpected"],
)
def test_error_text_carrying_the_token_is_redacted_everywhere(
    tmp_path: Path, exc: Exception, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatdesk.sync import SyncEngine as _Engine

    monkeypatch.setattr(_Engine, "INLINE_RETRIES", 0)

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    db, account_id, eng = world(tmp_path, handler)
    caplog.set_level(logging.DEBUG)

    async def go():  # type: ignore[no-untyped-def]
        try:
            return await eng.poll_account(account_id, force=True)
        finally:
            await eng.aclose()

    res = asyncio.run(go())
    assert res.errors and SECRET not in " ".join(res.errors)
    stored = [s.last_error or "" for s in views.sync_status(db)]
    assert any(stored) and not any(SECRET in e for e in stored)
    assert SECRET not in caplog.text
    with pytest.raises(ChatdeskError) as info:
        actions.test_account(
            db, MemorySecrets({"a": SECRET}), "a", lambda _a: httpx.AsyncClient(transport=httpx.MockTransport(handler))
        )
    assert SECRET not in str(info.value)
    db.close()
    assert SECRET.encode() not in (tmp_path / "r.db").read_bytes()
    wal = tmp_path / "r.db-wal"
    assert not wal.exists() or SECRET.encode() not in wal.read_bytes()


# ----------------------------------------------------------------------------- WB token expiry


def jwt(exp: datetime) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'ES256', 'kid': 'x'})}.{part({'exp': int(exp.timestamp()), 'ent': 1})}.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("delta", "words"),
    [(timedelta(days=-2), "expired on"), (timedelta(days=3), "expires on"), (timedelta(days=90), None)],
    ids=["expired", "expiring", "fine"],
)
@pytest.mark.timeout(60)
def test_wb_jwt_expiry_is_warned_ahead_by_account_add_and_test(tmp_path: Path, delta: timedelta, words) -> None:  # type: ignore[no-untyped-def]
    sandbox = start_sandbox(tmp_path / "sandbox.log", "--chats", "2")
    cli = Cli(cli_env(tmp_path / "home"))
    token = jwt(datetime.now(UTC) + delta)
    try:
        started = time.monotonic()
        added = cli.run("account", "add", "wildberries", "wb", "--base-url", sandbox.url("wb"), input=token + "\n")
        tested = cli.run("account", "test", "wb")
        assert time.monotonic() - started < 30
    finally:
        sandbox.proc.terminate()
        sandbox.proc.wait(10)
    for proc in (added, tested):
        assert token not in proc.stdout + proc.stderr
        if words is None:
            assert "warning" not in proc.stderr
        else:
            day = (datetime.now(UTC) + delta).strftime("%Y-%m-%d")
            assert f"warning: The Wildberries token {words} {day}" in proc.stderr
            assert "create a new one" in proc.stderr
