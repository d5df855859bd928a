"""Every request chatdesk makes to Ozon and every answer the Ozon sandbox gives, checked
against the official Seller API spec (chat subset, 2026-07-12)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import httpx
import pytest

from chatdesk.connectors.base import (
    AccountConfig,
    Attachment,
    AuthError,
    ChatRef,
    KnownChat,
    OutgoingFile,
    RateLimited,
    Rejected,
    loads_exact,
)
from chatdesk.connectors.ozon import OzonConnector
from chatdesk.sandbox.core import BAD_TOKEN, Sandbox
from chatdesk.sandbox.ozon import FILE_PATH, OzonSim, rate_limit_fault
from chatdesk.sandbox.seed import conversations
from tests.contract.specs import RecordingTransport, openapi, validate

NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)
BASE = "http://sandbox.test/ozon"
UINT64_FIELDS = ("message_id", "last_message_id", "first_unread_message_id")


@pytest.fixture(autouse=True)
def _specs() -> None:
    openapi("ozon")  # skips (or fails in CI) when ../shared/specs is absent


def build(quirks: bool) -> tuple[Sandbox, OzonSim, RecordingTransport]:
    rng = random.Random(5)
    sim = OzonSim(rng, lambda: NOW, page_size=3, quirks=quirks)
    sim.seed(conversations(rng, 8, NOW))
    sandbox = Sandbox([sim])
    return sandbox, sim, RecordingTransport(sandbox.transport())


def account(secret: str = "sandbox-token") -> AccountConfig:
    return AccountConfig("shop", "ozon", secret, base_url=BASE, settings={"client_id": "123456"})


async def drive(sim: OzonSim, recorder: RecordingTransport) -> None:
    """A full first sync, an incremental one, every write method and the refusals."""
    client = httpx.AsyncClient(transport=recorder)
    conn = OzonConnector(account(), client)
    stored: dict[str, list[str]] = {}
    versions: dict[str, str | None] = {}

    async def sync() -> None:
        known = {c: KnownChat(c, versions.get(c), max(ids, key=int) if ids else None) for c, ids in stored.items()}
        async for page in conn.poll("chats", None, known):
            for info in page.chats:
                versions[info.external_id] = info.version or versions.get(info.external_id)
                stored.setdefault(info.external_id, [])
            for m in page.messages:
                stored.setdefault(m.chat_external_id, []).append(m.external_id)

    await sync()
    chat = next(c for c in sim.chats.values() if c.buyer and c.status == "OPENED" and not c.fbo_window_closed)
    sim.buyer_writes(chat.id, "А можно быстрее?")
    await conn.send(ChatRef(chat.id), "Постараемся отправить сегодня.")
    await conn.send(ChatRef(chat.id), "", (OutgoingFile("накладная.png", b"\x89PNG-bytes", "image/png"),))
    await sync()
    await conn.mark_read(ChatRef(chat.id), max(stored[chat.id], key=int))
    await conn.test()
    closed = next(c for c in sim.chats.values() if c.fbo_window_closed)
    with pytest.raises(Rejected):
        await conn.send(ChatRef(closed.id), "Ответ после окна")
    image = next(m for m in chat.messages if m.is_image)
    await conn.download(ChatRef(chat.id), Attachment(name="img", url=image.data[0]))
    # Refusals chatdesk itself never provokes: answer shapes still must match the spec.
    headers = {"Client-Id": "123456", "Api-Key": "sandbox-token"}
    await client.post(f"{BASE}/v1/chat/send/message", json={"chat_id": chat.id, "text": "я" * 1001}, headers=headers)
    await client.post(f"{BASE}/v3/chat/history", json={"chat_id": "no-such-chat", "limit": 10}, headers=headers)
    bad = OzonConnector(account(BAD_TOKEN), client)
    with pytest.raises(AuthError, match="credentials"):
        await bad.test()


def _normalize(response: httpx.Response) -> tuple[httpx.Response, int]:
    """Undo the two serializations Ozon's own examples use but its schema does not allow:
    uint64 ids as JSON strings (protobuf JSON mapping) and ``has_next`` as ``"true"``."""
    data = loads_exact(response.content)
    changes = 0

    def fix(obj: object) -> None:
        nonlocal changes
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key in UINT64_FIELDS and isinstance(value, str):
                    obj[key] = int(value)
                    changes += 1
                elif key == "has_next" and isinstance(value, str):
                    obj[key] = value.lower() == "true"
                    changes += 1
                else:
                    fix(value)
        elif isinstance(obj, list):
            for item in obj:
                fix(item)

    fix(data)
    body = json.dumps(data, ensure_ascii=False).encode()
    return httpx.Response(response.status_code, headers=response.headers, content=body), changes


def _is_spec_call(request: httpx.Request) -> bool:
    # Image files are plain URLs from a message's data (a CDN), not a Seller API method.
    return FILE_PATH not in request.url.path


async def test_every_call_matches_the_spec_strict_serialization() -> None:
    _, sim, recorder = build(quirks=False)
    await drive(sim, recorder)
    statuses = set()
    paths = set()
    for request, response in recorder.calls:
        if _is_spec_call(request):
            validate("ozon", request, response, prefix="ozon")
            statuses.add(response.status_code)
            paths.add(request.url.path)
    assert {200, 400, 403, 404} <= statuses
    assert {
        f"/ozon{p}"
        for p in ("/v3/chat/list", "/v3/chat/history", "/v1/chat/send/message", "/v1/chat/send/file", "/v2/chat/read")
    } <= paths


async def test_quirky_serialization_differs_only_as_the_official_examples_do() -> None:
    _, sim, recorder = build(quirks=True)
    await drive(sim, recorder)
    normalized = 0
    for request, response in recorder.calls:
        if not _is_spec_call(request):
            continue
        if response.status_code == 200 and request.url.path.endswith(("/chat/list", "/chat/history")):
            response, changes = _normalize(response)
            normalized += changes
        validate("ozon", request, response, prefix="ozon")
    assert normalized > 0  # the sandbox really serves string ids / "true" some of the time


async def test_rate_limit_answer_and_retried_request() -> None:
    sandbox, _, recorder = build(quirks=False)
    conn = OzonConnector(account(), httpx.AsyncClient(transport=recorder))
    sandbox.inject(rate_limit_fault(path="/v3/chat/list", seconds=0))
    with pytest.raises(RateLimited):
        await conn.test()
    await conn.test()
    (limited_req, limited), (ok_req, ok) = recorder.calls
    assert limited.status_code == 429 and limited.headers["retry-after"] == "0"
    # The chat spec declares no 429, so only the request is checked for that call.
    validate("ozon", limited_req, None, prefix="ozon")
    validate("ozon", ok_req, ok, prefix="ozon")
