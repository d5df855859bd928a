"""The Ozon connector against the Ozon sandbox: full and idle polls, paging, faults, sending."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from chatdesk.connectors.base import (
    AccountConfig,
    AuthError,
    ChatRef,
    KnownChat,
    OutgoingFile,
    Page,
    RateLimited,
    Rejected,
)
from chatdesk.connectors.ozon import OzonConnector
from chatdesk.sandbox.core import BAD_TOKEN, Fault, Sandbox, iso
from chatdesk.sandbox.ozon import OzonSim, rate_limit_fault
from chatdesk.sandbox.seed import conversations

NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)


def make(page_size: int | None = None, chats: int = 12) -> tuple[Sandbox, OzonSim]:
    rng = random.Random(11)
    sim = OzonSim(rng, lambda: NOW, page_size=page_size)
    sim.seed(conversations(rng, chats, NOW))
    return Sandbox([sim]), sim


def connector(sandbox: Sandbox, secret: str = "sandbox-token") -> OzonConnector:
    account = AccountConfig(
        "shop", "ozon", secret, base_url="http://sandbox.test/ozon", settings={"client_id": "123456"}
    )
    return OzonConnector(account, httpx.AsyncClient(transport=sandbox.transport()))


class Store:
    """Just enough of the store to apply pages the way sync does."""

    def __init__(self) -> None:
        self.chats: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}

    def apply(self, page: Page) -> None:
        for info in page.chats:
            row = self.chats.setdefault(info.external_id, {})
            for name in ("customer", "order_id", "product_id", "status", "version", "unread"):
                value = getattr(info, name)
                if value is not None:
                    row[name] = value
        for m in page.messages:
            self.chats.setdefault(m.chat_external_id, {})
            self.messages.setdefault(f"{m.chat_external_id}/{m.external_id}", m)

    def known(self) -> Mapping[str, KnownChat]:
        out = {}
        for chat_id, row in self.chats.items():
            ids = [int(k.split("/")[1]) for k in self.messages if k.startswith(chat_id + "/")]
            out[chat_id] = KnownChat(chat_id, row.get("version"), str(max(ids)) if ids else None, row.get("status"))
        return out

    def as_truth(self) -> dict[str, Any]:
        msgs: dict[str, list[dict[str, Any]]] = {c: [] for c in self.chats}
        for m in sorted(self.messages.values(), key=lambda m: int(m.external_id)):
            msgs[m.chat_external_id].append(
                {
                    "external_id": m.external_id,
                    "author": m.author,
                    "text": m.text,
                    "created_at": iso(m.created_at),
                    "attachments": [a.name for a in m.attachments],
                }
            )
        chats = [
            {
                "external_id": c,
                "kind": "chat",
                "customer": row.get("customer"),
                "order_id": row.get("order_id"),
                "product_id": row.get("product_id"),
                "status": row.get("status"),
            }
            for c, row in self.chats.items()
        ]
        return {"chats": chats, "messages": msgs}


async def sync(conn: OzonConnector, store: Store) -> int:
    pages = 0
    async for page in conn.poll("chats", None, store.known()):
        assert page.cursor is None  # Ozon needs no stream cursor
        store.apply(page)
        pages += 1
    return pages


def same(store: Store, truth: dict[str, Any]) -> None:
    got = store.as_truth()
    key = lambda c: c["external_id"]  # noqa: E731
    assert sorted(got["chats"], key=key) == sorted(truth["chats"], key=key)
    assert got["messages"] == truth["messages"]


def history_requests(sim: OzonSim) -> int:
    return sim.requests["POST /v3/chat/history"]


def list_requests(sim: OzonSim) -> int:
    return sim.requests["POST /v3/chat/list"]


@pytest.mark.parametrize("page_size", [None, 2])
async def test_full_poll_equals_truth_and_idle_poll_costs_only_list_pages(page_size: int | None) -> None:
    sandbox, sim = make(page_size)
    conn, store = connector(sandbox), Store()
    await sync(conn, store)
    truth = sim.truth()
    same(store, truth)
    # Ids above 2^53 survive exactly; support and notification chats stay out.
    ids = [int(m["external_id"]) for ms in truth["messages"].values() for m in ms]
    assert min(ids) > 2**53
    assert len(store.chats) == len(truth["chats"]) == 12
    assert {"buyer", "seller", "marketplace"} <= {m["author"] for ms in truth["messages"].values() for m in ms}
    assert any(m["attachments"] for ms in truth["messages"].values() for m in ms)

    sandbox.reset_counts()
    assert await sync(conn, store) == 0
    assert history_requests(sim) == 0
    assert list_requests(sim) == math.ceil(len(sim.chats) / (page_size or 100))


async def test_new_messages_fetch_only_changed_chats_forward() -> None:
    sandbox, sim = make(page_size=3)
    conn, store = connector(sandbox), Store()
    await sync(conn, store)
    existing = next(iter(store.chats))
    sim.buyer_writes(existing, "Ещё вопрос: есть ли гарантия?")
    fresh = sim.buyer_writes(None, "Здравствуйте, когда отправка?")
    sim.seller_portal_writes(fresh, "Завтра отправим.")
    sandbox.reset_counts()
    await sync(conn, store)
    assert history_requests(sim) == 2
    same(store, sim.truth())
    texts = [m.text for m in store.messages.values() if m.chat_external_id == fresh]
    assert texts == ["Здравствуйте, когда отправка?", "Завтра отправим."]


async def test_duplicated_pages_are_deduplicated() -> None:
    sandbox, sim = make(page_size=2)
    conn, store = connector(sandbox), Store()
    sandbox.inject(
        Fault(kind="duplicate", prefix="ozon", path="/v3/chat/list", times=2),
        Fault(kind="duplicate", prefix="ozon", path="/v3/chat/history", times=2),
    )
    await sync(conn, store)
    same(store, sim.truth())
    assert sim.duplicate_next == 0 and sim.replayed == 4  # every requested replay was served


async def test_send_echo_and_refusals() -> None:
    sandbox, sim = make()
    conn, store = connector(sandbox), Store()
    await sync(conn, store)
    open_chat = next(c for c in sim.chats.values() if c.buyer and c.status == "OPENED" and not c.fbo_window_closed)
    await conn.send(ChatRef(open_chat.id), "Добрый день! Отправили сегодня.")
    await sync(conn, store)
    echoes = [m for m in store.messages.values() if m.chat_external_id == open_chat.id and m.author == "seller"]
    assert echoes[-1].text == "Добрый день! Отправили сегодня."
    same(store, sim.truth())

    closed = next(c for c in sim.chats.values() if c.fbo_window_closed)
    with pytest.raises(Rejected, match="48 h") as info:
        await conn.send(ChatRef(closed.id), "Ответ")
    assert "48 hours" in info.value.message  # Ozon's own words are kept

    before = sum(sim.requests.values())
    with pytest.raises(Rejected, match="1000"):
        await conn.send(ChatRef(open_chat.id), "я" * 1001)
    with pytest.raises(Rejected):
        await conn.send(ChatRef(open_chat.id), "   ")
    assert sum(sim.requests.values()) == before

    sim.premium = False
    with pytest.raises(Rejected, match="Premium Plus"):
        await conn.send(ChatRef(open_chat.id), "Ответ")


async def test_send_file_download_and_mark_read() -> None:
    sandbox, sim = make()
    conn, store = connector(sandbox), Store()
    await sync(conn, store)
    chat = next(c for c in sim.chats.values() if c.buyer and c.status == "OPENED" and not c.fbo_window_closed)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    await conn.send(ChatRef(chat.id), "", (OutgoingFile("label.png", png, "image/png"),))
    await sync(conn, store)
    same(store, sim.truth())
    sent = [m for m in store.messages.values() if m.chat_external_id == chat.id and m.attachments][-1]
    assert sent.author == "seller" and sent.text == ""
    got = await conn.download(ChatRef(chat.id), sent.attachments[0])
    assert got.content == png and got.content_type == "image/png"

    unread_chat = next(c for c in sim.chats.values() if c.buyer and c.unread)
    last = max(m.id for m in unread_chat.messages)
    await conn.mark_read(ChatRef(unread_chat.id), str(last))
    assert unread_chat.unread == 0


async def test_bad_token_and_rate_limit() -> None:
    sandbox, _ = make()
    with pytest.raises(AuthError) as info:
        await sync(connector(sandbox, BAD_TOKEN), Store())
    assert BAD_TOKEN not in info.value.message

    conn = connector(sandbox)
    sandbox.inject(rate_limit_fault(path="/v3/chat/list", seconds=1))
    with pytest.raises(RateLimited) as limited:
        await sync(conn, Store())
    assert limited.value.retry_after == 1
    assert "Ozon" in await conn.test()  # waits out the 1 s block, then works


async def test_duplicates_and_rate_limit_after_activity_lose_nothing() -> None:
    sandbox, sim = make()
    conn, store = connector(sandbox), Store()
    await sync(conn, store)
    chat = next(c for c in sim.chats.values() if c.buyer and c.status == "OPENED" and not c.fbo_window_closed)
    sim.seller_portal_writes(chat.id, "Ответ из личного кабинета")
    for _ in range(4):
        sim.buyer_writes(chat.id)
    sim.buyer_writes()
    sandbox.inject(Fault(kind="duplicate", prefix="ozon", times=2), rate_limit_fault(seconds=0))
    with pytest.raises(RateLimited):
        await sync(conn, store)
    await sync(conn, store)  # one sync after the refusal brings everything, deduped
    same(store, sim.truth())
    assert sim.replayed >= 1  # an overlapping page really was served
