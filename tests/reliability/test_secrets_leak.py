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
import contextlib
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


# ----------------------------------------------------------------------------- issue 12 §4


def _echoed_forms(secret: str) -> dict[str, str]:
    """How marketplaces and libraries echo a key back (issue 12 §4, and the red team's split,
    wrapped and partly encoded forms)."""
    from urllib.parse import quote

    half = len(secret) // 2
    basic = base64.b64encode(f"1234:{secret}".encode()).decode()
    seps = {c for c in secret if not c.isalnum()}
    return {
        "split-newline": f"{secret[:half]}\n{secret[half:]}",
        "split-crlf-indent": f"{secret[:half]}\r\n    {secret[half:]}",
        "split-escaped-newline": f"{secret[:half]}\\n{secret[half:]}",
        "separators-pct-only": "".join(quote(c, safe="") if c in seps else c for c in secret),
        "separators-pct-twice": "".join(quote(quote(c, safe=""), safe="") if c in seps else c for c in secret),
        "separators-spaced": "".join(" " if c in seps else c for c in secret),
        "base64-basic-wrapped": f"{basic[:12]}\n{basic[12:]}",
        "base64-wrapped-76": "\n".join(basic[i : i + 8] for i in range(0, len(basic), 8)),
        "zero-width-inside": f"{secret[:half]}\u200b{secret[half:]}",
        "upper": secret.upper(),
        "lower": secret.lower(),
        "url": quote(secret, safe=""),
        "url-lower-hex": quote(secret, safe="").lower(),
        "json-escaped": json.dumps(secret, ensure_ascii=True)[1:-1].replace("/", "\\/"),
        "base64": base64.b64encode(secret.encode()).decode(),
        "base64-basic": base64.b64encode(f"1234:{secret}".encode()).decode(),
        "base64-urlsafe": base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    }


ECHO_SECRET = "Ab12:Cd/Ef+LEAK9z"
UUID_SECRET = "0b7c1e2a-5f3d-4c8e-9a6b-1d2e3f4a5b6c"  # an Ozon Api-Key is a UUID


def _compact(data: bytes) -> bytes:
    """``data`` without whitespace, escaped line breaks, zero-width spaces or percent/JSON
    escapes: where a split or partly encoded key would be whole again."""
    from urllib.parse import unquote

    text = data.decode("utf-8", "replace").replace("\\n", "").replace("\\r", "").replace("\u200b", "")
    for _ in range(3):
        text = unquote(text)
    return "".join(text.split()).encode()


def _any_form_in(data: bytes, secret: str = ECHO_SECRET) -> list[str]:
    compact = _compact(data)
    alnum = bytes(c for c in compact.lower() if chr(c).isalnum())
    found = []
    core_secret = "".join(c for c in secret.lower() if c.isalnum()).encode()
    if core_secret in alnum:
        found.append("letters-and-digits")
    for name, form in _echoed_forms(secret).items():
        probe = _compact(form.encode())
        core = probe[: max(8, len(probe) - 2)]  # base64 tails depend on neighbours
        if core in data or core in compact or (not name.startswith("base64") and core.lower() in compact.lower()):
            found.append(name)
        if name.startswith("base64") and secret.encode() in _b64_decoded(compact):
            found.append(name)
    return found


def _b64_decoded(data: bytes) -> bytes:
    """Every base64 run in ``data`` decoded (at each alignment), joined."""
    import re

    out = b""
    for run in re.findall(rb"[A-Za-z0-9+/_-]{12,}={0,2}", data):
        for skip in range(4):
            chunk = run[skip:].replace(b"-", b"+").replace(b"_", b"/").rstrip(b"=")
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            with contextlib.suppress(ValueError):
                out += base64.b64decode(chunk) + b"|"
    return out


@pytest.mark.parametrize("secret", [ECHO_SECRET, UUID_SECRET])
@pytest.mark.parametrize("form", sorted(_echoed_forms(ECHO_SECRET)))
def test_a_key_echoed_in_any_encoding_is_redacted_in_store_results_and_logs(
    tmp_path: Path, form: str, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401/400 whose text quotes the key URL-encoded, upper-cased, JSON-escaped or base64,
    split over lines, partly percent-encoded or base64 wrapped: not on the terminal
    (results), not in account list (sync status), not in chatdesk.db."""
    echoed = _echoed_forms(secret)[form]

    def handler(request: httpx.Request) -> httpx.Response:
        body = {"status": "ERROR", "errors": [{"code": "BAD", "message": f"key {echoed} refused"}]}
        status = 400 if request.url.path.endswith("/chats/message") else 401
        return httpx.Response(status, json=body)

    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    acc = accounts.add_account(db, "a", "yandex", base_url="http://127.0.0.1:9/ym", settings={"business_id": "1"})
    secrets = MemorySecrets({"a": secret})
    from chatdesk.model import MessageInfo, Page
    from chatdesk.store import ingest, outbox

    ingest.apply_page(
        db, acc.id, "chats", Page(messages=(MessageInfo("7", "1", "buyer", "?", datetime(2026, 1, 1, tzinfo=UTC)),))
    )
    chat = views.list_chats(db)[0]
    mid = outbox.enqueue(db, chat.id, "Ответ")
    eng = SyncEngine(
        db, secrets=secrets, client_factory=lambda _a: httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )
    caplog.set_level(logging.DEBUG)

    async def go():  # type: ignore[no-untyped-def]
        try:
            await eng.deliver_account(acc.id)
            return await eng.poll_account(acc.id, force=True)
        finally:
            await eng.aclose()

    res = asyncio.run(go())
    state, error = outbox.message_state(db, mid)
    assert state == "failed" and "***" in (error or ""), error
    assert not _any_form_in((error or "").encode(), secret)
    assert res.errors and not _any_form_in(" ".join(res.errors).encode(), secret)
    stored = " ".join(s.last_error or "" for s in views.sync_status(db))
    assert stored and not _any_form_in(stored.encode(), secret)
    assert not _any_form_in(caplog.text.encode(), secret)
    db.close()
    for path in tmp_path.glob("r.db*"):
        assert not _any_form_in(path.read_bytes(), secret), path.name


@pytest.mark.parametrize(
    "link",
    [
        "http://api.partner.market.yandex.ru/files/1.jpg",  # plain http to the official host
        "https://api.partner.market.yandex.ru:8443/files/1.jpg",  # another port
        "https://api.partner.market.yandex.ru@evil.example/files/1.jpg",  # userinfo trick
        "https://evil.example/files/1.jpg",
    ],
)
def test_ym_attachment_links_get_the_key_only_on_the_exact_https_origin(link: str) -> None:
    from chatdesk.connectors.base import AccountConfig, Attachment, ChatRef
    from chatdesk.connectors.yandex import YandexConnector

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\xff\xd8\xff data", headers={"content-type": "image/jpeg"})

    cfg = AccountConfig("a", "yandex", ECHO_SECRET, None, {"business_id": "1"})
    conn = YandexConnector(cfg, httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    asyncio.run(conn.download(ChatRef("1"), Attachment("1.jpg", url=link)))
    assert seen and "api-key" not in {k.lower() for k in seen[0].headers}
    assert ECHO_SECRET not in str(seen[0].headers)


@pytest.mark.parametrize(
    "link",
    ["http://api-seller.ozon.ru/v1/file/1.jpg", "https://api-seller.ozon.ru:444/x.jpg", "http://cdn1.ozone.ru/x.jpg"],
)
def test_ozon_links_get_neither_api_key_nor_client_id_off_the_exact_origin(link: str) -> None:
    from chatdesk.connectors.base import AccountConfig, Attachment, ChatRef
    from chatdesk.connectors.ozon import OzonConnector

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\xff\xd8\xff data", headers={"content-type": "image/jpeg"})

    cfg = AccountConfig("a", "ozon", ECHO_SECRET, None, {"client_id": "4242"})
    conn = OzonConnector(cfg, httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    asyncio.run(conn.download(ChatRef("1"), Attachment("x.jpg", url=link)))
    names = {k.lower() for k in seen[0].headers}
    assert "api-key" not in names and "client-id" not in names


def test_the_official_https_origin_still_gets_the_key() -> None:
    from chatdesk.connectors.base import AccountConfig, Attachment, ChatRef
    from chatdesk.connectors.ozon import OzonConnector

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\xff\xd8\xff data", headers={"content-type": "image/jpeg"})

    cfg = AccountConfig("a", "ozon", ECHO_SECRET, None, {"client_id": "4242"})
    conn = OzonConnector(cfg, httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    asyncio.run(conn.download(ChatRef("1"), Attachment("x.jpg", url="https://api-seller.ozon.ru/v1/f/x.jpg")))
    assert seen[0].headers["api-key"] == ECHO_SECRET and seen[0].headers["client-id"] == "4242"
