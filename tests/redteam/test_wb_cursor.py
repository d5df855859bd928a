"""Red-team finding 5: an implausible WB ``next`` (e.g. in microseconds) is ignored and
recorded; chat sync keeps working, also for a cursor stored earlier from such a value."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import respx

from chatdesk.connectors.base import AccountConfig, KnownChat
from chatdesk.connectors.wildberries import CHAT_HOST, WildberriesConnector
from chatdesk.ratelimit import RateLimiter
from chatdesk.store import ingest
from tests.reliability import make_world, store_view, truth_view

EVENTS = f"{CHAT_HOST}/api/v1/seller/events"
CHATS = f"{CHAT_HOST}/api/v1/seller/chats"
CHAT = "1:1e265a58-a120-b178-008c-60af2460207c"
T0 = 1764300003000  # ms


def event(n: int) -> dict[str, Any]:
    return {
        "chatID": CHAT,
        "eventID": f"ev-{n}",
        "eventType": "message",
        "sender": "client",
        "addTimestamp": T0 + n,
        "message": {"text": f"m{n}"},
    }


def body(events: list[dict[str, Any]], next_: int) -> dict[str, Any]:
    return {"result": {"next": next_, "totalEvents": len(events), "events": events}, "errors": None}


def connector() -> WildberriesConnector:
    return WildberriesConnector(AccountConfig("main", "wildberries", "tok-123456"), httpx.AsyncClient(), RateLimiter())


@respx.mock
async def test_next_in_microseconds_is_ignored_and_recorded() -> None:
    route = respx.get(EVENTS)
    route.side_effect = [
        httpx.Response(200, json=body([event(1)], (T0 + 2) * 1000)),
        httpx.Response(200, json=body([], T0 + 2)),
    ]
    pages = [p async for p in connector().poll("chats", str(T0), {CHAT: KnownChat(CHAT, None, None)})]
    cursors = [p.cursor for p in pages if p.cursor]
    assert cursors == [str(T0 + 2)]  # just after the newest event, not 55,000 years ahead
    assert any("implausible" in b.reason for p in pages for b in p.bad_items)
    assert [m.text for p in pages for m in p.messages] == ["m1"]


@respx.mock
async def test_a_stored_cursor_far_ahead_is_dropped_and_the_chats_reread() -> None:
    respx.get(CHATS).respond(json={"result": [], "errors": None})
    route = respx.get(EVENTS)
    route.side_effect = [httpx.Response(200, json=body([event(1)], T0 + 2)), httpx.Response(200, json=body([], T0 + 2))]
    pages = [p async for p in connector().poll("chats", str(T0 * 1000), {CHAT: KnownChat(CHAT, None, None)})]
    assert "next" not in route.calls[0].request.url.params  # started over, not at the µs cursor
    assert [p.cursor for p in pages if p.cursor] == [str(T0 + 2)]
    assert any("stored events cursor ignored" in b.reason for p in pages for b in p.bad_items)


def test_one_microsecond_next_never_stops_wb_sync(tmp_path: Path) -> None:
    w = make_world(tmp_path / "h", "wildberries", chats=2, page_size=50)

    def run() -> list[Any]:
        async def go() -> list[Any]:
            engine = w.engine()
            try:
                return await engine.run_once()
            finally:
                await engine.aclose()

        return asyncio.run(go())

    run()
    sim = w.sim
    orig = sim._events
    armed = {"on": True}

    def events(req: Any) -> Any:
        resp = orig(req)
        data = json.loads(resp.body)
        if armed["on"] and data["result"].get("events"):
            data["result"]["next"] = data["result"]["next"] * 1000
            armed["on"] = False
            resp = type(resp).json(data)
        return resp

    sim._events = events
    chat = sim.buyer_writes(None, "первое сообщение после сдвига")
    run()
    for i in range(2):
        sim.buyer_writes(chat, f"новое сообщение {i}")
        results = run()
        assert all(not r.errors for r in results)
    got = sum(len(v) for v in store_view(w.db)["messages"].values())
    want = sum(len(v) for v in truth_view(sim)["messages"].values())
    assert got == want
    cursor = ingest.get_cursor(w.db, w.account_id, "chats")
    assert cursor is not None and int(cursor) < 10**14
