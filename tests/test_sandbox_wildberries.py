"""The Wildberries connector against the in-process sandbox: full sync equals the ground truth,
idle polls are cheap, pagination, duplicates, echoes, questions, downloads and faults."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import httpx
import pytest

from chatdesk.connectors.base import (
    AccountConfig,
    AuthError,
    ChatInfo,
    ChatRef,
    KnownChat,
    MessageInfo,
    OutgoingFile,
    Page,
    RateLimited,
    Rejected,
    StreamUnavailable,
)
from chatdesk.connectors.wildberries import BUDGETS, WildberriesConnector
from chatdesk.ratelimit import Budget, RateLimiter
from chatdesk.sandbox import Fault, Sandbox, build_sandbox
from chatdesk.sandbox.core import BAD_TOKEN, NO_QUESTIONS_TOKEN, iso
from chatdesk.sandbox.wildberries import WildberriesSim, rate_limit_fault


class MiniStore:
    """Just enough of the real store's semantics: upsert chats (None leaves a field alone),
    insert messages deduped by (chat, external id), keep the stream cursor."""

    def __init__(self) -> None:
        self.chats: dict[str, ChatInfo] = {}
        self.messages: dict[tuple[str, str], MessageInfo] = {}
        self.cursors: dict[str, str | None] = {}
        self.yielded: list[str] = []  # every message id the connector yielded, duplicates included

    def apply(self, stream: str, page: Page) -> None:
        for chat in page.chats:
            old = self.chats.get(chat.external_id)
            if old is None:
                self.chats[chat.external_id] = chat
            else:
                changes = {k: v for k, v in vars(chat).items() if v is not None and v != {}}
                self.chats[chat.external_id] = replace(old, **changes)
        for m in page.messages:
            self.yielded.append(m.external_id)
            self.messages.setdefault((m.chat_external_id, m.external_id), m)
        if page.cursor is not None:
            self.cursors[stream] = page.cursor

    def known(self) -> dict[str, KnownChat]:
        return {k: KnownChat(k, c.version, None, c.status) for k, c in self.chats.items()}

    def normalized(self) -> dict[str, Any]:
        chats = sorted(
            ({"external_id": c.external_id, "kind": c.kind, "customer": c.customer, "order_id": c.order_id,
              "product_id": c.product_id, "status": c.status} for c in self.chats.values()),
            key=lambda c: c["external_id"],
        )
        messages: dict[str, list[dict[str, Any]]] = {c["external_id"]: [] for c in chats}
        for m in sorted(self.messages.values(), key=lambda m: m.created_at):
            messages[m.chat_external_id].append({
                "external_id": m.external_id, "author": m.author, "text": m.text,
                "created_at": iso(m.created_at), "attachments": [a.name for a in m.attachments],
            })
        return {"chats": chats, "messages": messages}


def truth(sandbox: Sandbox, kinds: tuple[str, ...] = ("chat", "question")) -> dict[str, Any]:
    t = sandbox.sims["wb"].truth()
    chats = sorted((c for c in t["chats"] if c["kind"] in kinds), key=lambda c: c["external_id"])
    return {"chats": chats, "messages": {c["external_id"]: t["messages"][c["external_id"]] for c in chats}}


def make_sandbox(**options: Any) -> Sandbox:
    return build_sandbox(marketplaces=("wildberries",), **options)


def connector(sandbox: Sandbox, token: str = "sandbox-token") -> WildberriesConnector:
    fast = RateLimiter({key: Budget(100_000, 1.0) for key in BUDGETS})  # tests must not wait on WB's budgets
    account = AccountConfig("wb", "wildberries", token, base_url="http://sandbox/wb")
    return WildberriesConnector(account, httpx.AsyncClient(transport=sandbox.transport()), fast)


async def sync(conn: WildberriesConnector, store: MiniStore, streams: tuple[str, ...] = ("chats", "questions")) -> None:
    for stream in streams:
        async for page in conn.poll(stream, store.cursors.get(stream), store.known()):
            store.apply(stream, page)


def sim(sandbox: Sandbox) -> WildberriesSim:
    s = sandbox.sims["wb"]
    assert isinstance(s, WildberriesSim)
    return s


async def test_full_sync_equals_truth_and_idle_polls_are_cheap() -> None:
    sandbox = make_sandbox()
    conn, store = connector(sandbox), MiniStore()
    await sync(conn, store)
    assert store.normalized() == truth(sandbox)
    # seeded specials made it through the mapping
    authors = {m.author for m in store.messages.values()}
    assert authors == {"buyer", "seller", "marketplace"}
    assert all(c.reply_token for c in store.chats.values() if c.kind == "chat")

    sandbox.reset_counts()
    before = dict(store.messages)
    await sync(conn, store, ("chats",))
    assert sandbox.request_count("wb") == 1  # idle chats poll: exactly one events request
    await sync(conn, store, ("questions",))
    assert sandbox.request_count("wb") == 3  # idle questions poll: unanswered list + answered window
    assert store.messages == before


async def test_small_pages_are_followed_until_total_events_is_zero() -> None:
    sandbox = make_sandbox(page_size=3)
    conn, store = connector(sandbox), MiniStore()
    conn.questions_take = 2  # page the questions lists too
    await sync(conn, store)
    assert store.normalized() == truth(sandbox)
    events = len(sim(sandbox).events)
    stats = sim(sandbox).requests
    assert stats["GET /api/v1/seller/events"] == math.ceil(events / 3) + 1  # + the empty last page
    assert stats["GET /api/v1/seller/chats"] == 1
    assert stats["GET /api/v1/questions"] > 2


async def test_duplicated_events_across_pages_are_deduped_by_event_id() -> None:
    sandbox = make_sandbox(page_size=4)
    conn, store = connector(sandbox), MiniStore()
    sandbox.inject(Fault(kind="duplicate", path="/api/v1/seller/events", prefix="wb"))
    await sync(conn, store, ("chats",))
    chat = next(iter(sim(sandbox).chats))
    sim(sandbox).buyer_writes(chat, "Ещё вопрос")
    sandbox.inject(Fault(kind="duplicate", path="/api/v1/seller/events", prefix="wb"))
    await sync(conn, store, ("chats",))  # this poll's page repeats the last two events of the previous one
    assert len(store.yielded) > len(set(store.yielded))  # the sim really replayed events
    truth_ids = {m["external_id"] for c, ms in sim(sandbox).truth()["messages"].items() if not c.startswith("q:")
                 for m in ms}
    assert set(store.yielded) == truth_ids
    assert {k[1] for k in store.messages} == truth_ids


async def test_send_then_poll_shows_the_echo_as_a_seller_message() -> None:
    sandbox = make_sandbox()
    conn, store = connector(sandbox), MiniStore()
    await sync(conn, store, ("chats",))
    chat = next(c for c in store.chats.values() if c.kind == "chat")
    photo = OutgoingFile("фото.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png")
    await conn.send(ChatRef(chat.external_id, reply_token=chat.reply_token), "Добрый день! Отправили.", (photo,))
    sim(sandbox).seller_portal_writes(chat.external_id, "Ответ с портала")
    sandbox.reset_counts()
    await sync(conn, store, ("chats",))
    assert sandbox.request_count("wb") == 2  # one page with the new events, one empty page
    mine = [m for m in store.messages.values() if m.chat_external_id == chat.external_id]
    echo, portal = sorted(mine, key=lambda m: m.created_at)[-2:]
    assert (echo.author, echo.text, [a.name for a in echo.attachments]) == (
        "seller", "Добрый день! Отправили.", ["фото.png"])
    assert (portal.author, portal.text) == ("seller", "Ответ с портала")
    assert store.normalized() == truth(sandbox, ("chat",))
    got = await conn.download(ChatRef(chat.external_id), echo.attachments[0])
    assert got.content == photo.content and got.content_type == "image/png"


async def test_new_buyer_chat_arrives_with_its_reply_sign_without_a_chat_list_request() -> None:
    sandbox = make_sandbox()
    conn, store = connector(sandbox), MiniStore()
    await sync(conn, store, ("chats",))
    sandbox.reset_counts()
    new_id = sim(sandbox).buyer_writes(None, "Здравствуйте, есть размер S?")
    await sync(conn, store, ("chats",))
    assert sim(sandbox).requests["GET /api/v1/seller/chats"] == 0
    assert store.chats[new_id].reply_token == sim(sandbox).chats[new_id]["replySign"]
    await conn.send(ChatRef(new_id, reply_token=store.chats[new_id].reply_token), "Да, есть.")
    await sync(conn, store, ("chats",))
    assert store.normalized() == truth(sandbox, ("chat",))


async def test_questions_answer_roundtrip_and_edit_limit() -> None:
    sandbox = make_sandbox()
    conn, store = connector(sandbox), MiniStore()
    await sync(conn, store, ("questions",))
    open_q = next(c for c in store.chats.values() if c.status == "unanswered")
    await conn.send(ChatRef(open_q.external_id, kind="question"), "Да, подойдёт.")
    await sync(conn, store, ("questions",))
    assert store.chats[open_q.external_id].status == "answered"
    answer = store.messages[(open_q.external_id, open_q.external_id[2:] + ":a")]
    assert (answer.author, answer.text) == ("seller", "Да, подойдёт.")
    assert store.normalized()["messages"][open_q.external_id] == truth(sandbox)["messages"][open_q.external_id]

    await conn.send(ChatRef(open_q.external_id, kind="question"), "Исправленный ответ")  # the one allowed edit
    with pytest.raises(Rejected, match="60 days"):
        await conn.send(ChatRef(open_q.external_id, kind="question"), "Ещё раз")


async def test_tokens_bad_and_without_questions_category() -> None:
    sandbox = make_sandbox()
    with pytest.raises(AuthError):
        await sync(connector(sandbox, BAD_TOKEN), MiniStore(), ("chats",))
    conn, store = connector(sandbox, NO_QUESTIONS_TOKEN), MiniStore()
    await sync(conn, store, ("chats",))
    assert store.chats
    with pytest.raises(StreamUnavailable, match="Вопросы и отзывы"):
        await sync(conn, store, ("questions",))


async def test_downloads_ok_pending_and_rejected() -> None:
    sandbox = make_sandbox()
    conn, store = connector(sandbox), MiniStore()
    await sync(conn, store, ("chats",))
    by_id = {a.download_id: a for m in store.messages.values() for a in m.attachments}
    s = sim(sandbox)
    (pending,) = s.pending_download_ids
    (rejected,) = s.rejected_download_ids
    ok = next(d for d in by_id if d not in (pending, rejected))
    got = await conn.download(ChatRef("x"), by_id[ok])
    assert got.content == s.files[ok][1] and got.content_type == s.files[ok][0]
    assert (await conn.download(ChatRef("x"), by_id[pending])).retry_after == 30
    with pytest.raises(Rejected, match="moderation"):
        await conn.download(ChatRef("x"), by_id[rejected])


async def test_rate_limit_mid_sync_then_resume_completes_the_store() -> None:
    sandbox = make_sandbox(page_size=5)
    conn, store = connector(sandbox), MiniStore()
    pages = 0
    with pytest.raises(RateLimited) as err:
        async for page in conn.poll("chats", None, {}):
            store.apply("chats", page)
            pages += 1
            if pages == 3:
                sandbox.inject(rate_limit_fault("/api/v1/seller/events", seconds=2))
    assert err.value.retry_after == 2
    assert "wb.events" in conn.limiter._buckets and conn.limiter._buckets["wb.events"].blocked_until > 0
    conn.limiter = RateLimiter()  # the 429 blocked the bucket for 2 s; a fresh limiter stands in for waiting
    await sync(conn, store, ("chats", "questions"))
    assert store.normalized() == truth(sandbox)


async def test_sim_refuses_bad_multipart_with_wb_problem_json() -> None:
    sandbox = make_sandbox()
    chat = next(iter(sim(sandbox).chats.values()))
    async with httpx.AsyncClient(transport=sandbox.transport()) as client:
        url = "http://sandbox/wb/api/v1/seller/message"
        headers = {"Authorization": "tok"}
        r = await client.post(url, headers=headers, files=[("replySign", (None, "wrong"))])
        assert (r.status_code, r.json()["detail"]) == (400, "Invalid signature")
        assert r.headers["content-type"] == "application/problem+json"
        r = await client.post(url, headers=headers, files=[("replySign", (None, chat["replySign"])),
                                                           ("file", ("v.mp4", b"x", "video/mp4"))])
        assert r.status_code == 400 and "unsupported mime type" in r.json()["detail"]
        r = await client.post(url, headers=headers, files=[("replySign", (None, chat["replySign"])),
                                                           ("message", (None, "я" * 1001))])
        assert r.json()["detail"] == 'Invalid value for "message"'
        r = await client.get("http://sandbox/wb/api/v1/seller/events", headers=headers, params={"next": 0})
        assert r.status_code == 400 and r.json()["detail"] == 'Invalid value for "next"'
