"""Every request chatdesk makes to Wildberries and every answer the WB sandbox gives, checked
against the official spec (09-communications, chat + questions subset, 2026-07-22)."""

from __future__ import annotations

import functools
import json
import random
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import yaml

from chatdesk.connectors.base import (
    AccountConfig,
    Attachment,
    AuthError,
    ChatRef,
    KnownChat,
    OutgoingFile,
    Page,
    RateLimited,
    Rejected,
    StreamUnavailable,
)
from chatdesk.connectors.wildberries import BUDGETS, WildberriesConnector
from chatdesk.ratelimit import Budget, RateLimiter
from chatdesk.sandbox.core import BAD_TOKEN, NO_QUESTIONS_TOKEN, Fault, Sandbox
from chatdesk.sandbox.seed import conversations
from chatdesk.sandbox.wildberries import WildberriesSim, rate_limit_fault
from tests.contract import specs
from tests.contract.specs import SPEC_FILES, RecordingTransport, require_specs, validate

NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)
BASE = "http://sandbox.test/wb"


@functools.cache
def _wb_openapi() -> Any:
    """The derived WB spec has no ``info.version``, which openapi-core's spec validator requires,
    so ``specs.openapi`` cannot load it as is. Load it here with only that field filled in
    (the paths and schemas are untouched); drop this once ``specs.openapi`` tolerates it."""
    from openapi_core import Config, OpenAPI

    data = yaml.safe_load((require_specs() / SPEC_FILES["wildberries"]).read_text(encoding="utf-8"))
    data.setdefault("info", {}).setdefault("version", "derived")
    # WB declares its 400/401/429/451 bodies as application/problem+json; openapi-core has no
    # deserializer for that media type and would check the raw bytes against the object schema.
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_dict(data, config=config)


@pytest.fixture(autouse=True)
def _specs(monkeypatch: pytest.MonkeyPatch) -> None:
    real = specs.openapi
    monkeypatch.setattr(specs, "openapi", lambda m: _wb_openapi() if m == "wildberries" else real(m))
    # openapi-core 0.23 reads request parameters as ``parameters["query"]``; specs._Params only
    # has attributes. Give it item access for this test (see the report for the shared fix).
    monkeypatch.setattr(specs._Params, "__getitem__", lambda self, key: getattr(self, key), raising=False)
    specs.openapi("wildberries")  # skips (or fails in CI) when ../shared/specs is absent


def build() -> tuple[Sandbox, WildberriesSim, RecordingTransport]:
    rng = random.Random(11)
    sim = WildberriesSim(rng, lambda: NOW, page_size=4)
    sim.seed(conversations(rng, 8, NOW))
    sandbox = Sandbox([sim])
    return sandbox, sim, RecordingTransport(sandbox.transport())


def connector(recorder: RecordingTransport, secret: str = "sandbox-token") -> WildberriesConnector:
    fast = RateLimiter({key: Budget(100_000, 1.0) for key in BUDGETS})
    conn = WildberriesConnector(
        AccountConfig("shop", "wildberries", secret, base_url=BASE), httpx.AsyncClient(transport=recorder), fast
    )
    conn.clock = lambda: NOW  # type: ignore[method-assign]
    return conn


async def drive(sandbox: Sandbox, sim: WildberriesSim, recorder: RecordingTransport) -> None:
    """A full first sync of both streams, incremental ones, every write method and the refusals."""
    conn = connector(recorder)
    cursors: dict[str, str | None] = {}
    known: dict[str, KnownChat] = {}
    signs: dict[str, str] = {}

    async def sync(stream: str) -> list[Page]:
        pages = [p async for p in conn.poll(stream, cursors.get(stream), known)]
        for page in pages:
            for chat in page.chats:
                known[chat.external_id] = KnownChat(chat.external_id, chat.version, None, chat.status)
                if chat.reply_token:
                    signs[chat.external_id] = chat.reply_token
            cursors[stream] = page.cursor or cursors.get(stream)
        return pages

    await sync("chats")
    await sync("questions")
    chat_id = next(iter(sim.chats))
    sim.buyer_writes(chat_id, "А когда отправка?")
    sim.buyer_writes(None, "Здравствуйте! Новый чат.")
    photo = OutgoingFile("фото.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg")
    await conn.send(ChatRef(chat_id, reply_token=signs[chat_id]), "Отправим завтра.", (photo,))
    await conn.send(ChatRef(chat_id, reply_token=signs[chat_id]), "Без вложений.")
    sandbox.inject(Fault(kind="duplicate", path="/api/v1/seller/events", prefix="wb"))
    pages = await sync("chats")
    echo = next(m for p in pages for m in p.messages if m.text == "Отправим завтра.")
    await conn.download(ChatRef(chat_id), echo.attachments[0])
    (pending,), (rejected,) = sim.pending_download_ids, sim.rejected_download_ids
    assert (await conn.download(ChatRef(chat_id), Attachment("x", download_id=pending))).retry_after
    with pytest.raises(Rejected, match="moderation"):
        await conn.download(ChatRef(chat_id), Attachment("x", download_id=rejected))
    question = next(k for k, c in known.items() if c.status == "unanswered")
    await conn.send(ChatRef(question, kind="question"), "Да, подойдёт.")
    await sync("questions")  # the answered question leaves the unanswered list: fetched by id
    await conn.send(ChatRef(question, kind="question"), "Уточнение ответа.")
    with pytest.raises(Rejected, match="60 days"):
        await conn.send(ChatRef(question, kind="question"), "Вторая правка.")
    await sync("chats")  # idle
    await conn.test()

    # refusals the sandbox answers in WB's documented shapes
    # (a chat WB does not list: a refused sign of a listed chat is re-read and retried, issue 11 §3)
    with pytest.raises(Rejected):
        await conn.send(ChatRef("1:not-listed", reply_token="1:not-a-real-sign"), "Неверная подпись")
    sandbox.inject(rate_limit_fault("/api/v1/seller/events", seconds=1))
    with pytest.raises(RateLimited):
        await sync("chats")
    sandbox.inject(rate_limit_fault("/api/v1/questions", seconds=1))
    conn.limiter = RateLimiter()
    with pytest.raises(RateLimited):
        await sync("questions")
    with pytest.raises(AuthError):
        await connector(recorder, BAD_TOKEN).test()
    with pytest.raises(StreamUnavailable):
        await anext(aiter(connector(recorder, NO_QUESTIONS_TOKEN).poll("questions", None, {})))


async def test_every_wb_request_and_response_matches_the_spec() -> None:
    sandbox, sim, recorder = build()
    await drive(sandbox, sim, recorder)
    seen = {(req.method, req.url.path.split("/download/")[0], resp.status_code) for req, resp in recorder.calls}
    # the drive covered every method chatdesk uses and the documented non-200 answers
    assert {
        ("GET", "/wb/api/v1/seller/chats", 200),
        ("GET", "/wb/api/v1/seller/chats", 401),
        ("GET", "/wb/api/v1/seller/events", 200),
        ("GET", "/wb/api/v1/seller/events", 429),
        ("POST", "/wb/api/v1/seller/message", 200),
        ("POST", "/wb/api/v1/seller/message", 400),
        ("GET", "/wb/api/v1/seller", 200),
        ("GET", "/wb/api/v1/seller", 202),
        ("GET", "/wb/api/v1/seller", 451),
        ("GET", "/wb/api/v1/questions", 200),
        ("GET", "/wb/api/v1/questions", 401),
        ("GET", "/wb/api/v1/questions", 429),
        ("GET", "/wb/api/v1/question", 200),
        ("PATCH", "/wb/api/v1/questions", 200),
        ("PATCH", "/wb/api/v1/questions", 422),
    } <= seen
    for request, response in recorder.calls:
        validate("wildberries", request, response, prefix="wb")
