"""Red-team findings 7, 8, 9 (and WB for the same kinds): one bad Ozon/YM item never blocks a
stream, and paging loops are bounded — through the real connector, engine and store against
the in-process sandbox, with the sandbox's answers altered the way the red team did."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from chatdesk.store import views
from tests.reliability import make_world, store_view, truth_view, virtual_time

EXTREME = "9999-12-31T23:59:59-23:59"  # RFC 3339 allows -23:59; its UTC form is past year 9999


def run(world: Any) -> list[Any]:
    async def go() -> list[Any]:
        engine = world.engine()
        try:
            return await engine.run_once()
        finally:
            await engine.aclose()

    return asyncio.run(go())


def texts(world: Any) -> list[str]:
    return [m["text"] for msgs in store_view(world.db)["messages"].values() for m in msgs]


def bad_reasons(world: Any) -> list[str]:
    return [b.reason for b in views.bad_items(world.db, limit=100)]


def patch(sim: Any, name: str, change: Any) -> None:
    orig = getattr(sim, name)

    def patched(req: Any) -> Any:
        resp = orig(req)
        data = json.loads(resp.body)
        change(req, data)
        return type(resp).json(data)

    setattr(sim, name, patched)


@pytest.mark.parametrize(
    "where", ["message_id", "unread_count", "last_message_id", "created_at_overflow", "created_at_garbage"]
)
def test_one_bad_ozon_item_never_blocks_the_stream(tmp_path: Path, where: str) -> None:
    w = make_world(tmp_path / "h", "ozon", chats=3, page_size=50)
    sim = w.sim
    run(w)
    victim = sim.buyer_writes(None, "чат с кривым id")
    other = sorted(c["external_id"] for c in truth_view(sim)["chats"] if c["external_id"] != victim)[0]
    sim.buyer_writes(other, "обычный покупатель пишет")

    def history(body: Any, data: dict[str, Any]) -> None:
        if body.get("chat_id") != victim:
            return
        if where == "message_id":
            data["messages"].append(dict(data["messages"][-1], message_id="²", text=["?"], data=["?"]))
        elif where.startswith("created_at"):
            for m in data["messages"]:
                m["created_at"] = EXTREME if where.endswith("overflow") else "2026-13-45T99:00:00Z"

    def listing(body: Any, data: dict[str, Any]) -> None:
        for item in data.get("chats", []):
            if item["chat"]["chat_id"] == victim and where == "unread_count":
                item["unread_count"] = "²"
            if item["chat"]["chat_id"] == victim and where == "last_message_id":
                item["last_message_id"] = "²"

    patch(sim, "_history", history)
    patch(sim, "_list", listing)
    first = run(w)
    second = run(w)
    assert "обычный покупатель пишет" in texts(w)
    assert all(not r.errors for r in first + second), [r.errors for r in first + second]
    if where in ("message_id", "created_at_overflow", "created_at_garbage", "last_message_id"):
        assert bad_reasons(w), "the unreadable item is recorded, not dropped silently"


@pytest.mark.parametrize("field", ["updatedAt", "createdAt"])
def test_one_ym_chat_with_an_extreme_offset_never_blocks_the_stream(tmp_path: Path, field: str) -> None:
    w = make_world(tmp_path / "h", "yandex", chats=3, page_size=50)
    sim = w.sim
    run(w)
    victim = sim.buyer_writes(None, "чат с датой 9999")
    other = sorted(c["external_id"] for c in truth_view(sim)["chats"] if c["external_id"] != victim)[0]
    sim.buyer_writes(other, "обычный покупатель пишет")

    def listing(req: Any, data: dict[str, Any]) -> None:
        for chat in data["result"]["chats"]:
            if field == "updatedAt" and str(chat["chatId"]) == victim:
                chat["updatedAt"] = EXTREME

    def history(req: Any, data: dict[str, Any]) -> None:
        if field == "createdAt" and str(req.param("chatId")) == victim:
            for m in data["result"]["messages"]:
                m["createdAt"] = EXTREME

    patch(sim, "_list", listing)
    patch(sim, "_history", history)
    results = run(w)
    assert "обычный покупатель пишет" in texts(w)
    assert all(not r.errors for r in results), [r.errors for r in results]
    assert bad_reasons(w)


def test_wb_event_with_extreme_offset_and_unicode_digit_never_blocks_the_stream(tmp_path: Path) -> None:
    w = make_world(tmp_path / "h", "wildberries", chats=3, page_size=50)
    sim = w.sim
    run(w)
    sim.buyer_writes(None, "событие со странной датой")
    sim.buyer_writes(None, "обычный покупатель пишет")

    def events(req: Any, data: dict[str, Any]) -> None:
        for e in data["result"].get("events") or []:
            if (e.get("message") or {}).get("text") == "событие со странной датой":
                e["addTime"] = EXTREME
                e["addTimestamp"] = "²"

    patch(sim, "_events", events)
    results = run(w)
    assert "обычный покупатель пишет" in texts(w)
    assert all(not r.errors for r in results), [r.errors for r in results]


def test_ozon_list_with_a_stuck_cursor_ends_and_stores_what_it_fetched(tmp_path: Path) -> None:
    w = make_world(tmp_path / "h", "ozon", chats=3, page_size=50)
    sim = w.sim
    run(w)
    chat = sorted(c["external_id"] for c in truth_view(sim)["chats"])[0]
    sim.buyer_writes(chat, "новое сообщение при зависшем курсоре")
    calls = {"n": 0}

    def stuck(body: Any, data: dict[str, Any]) -> None:
        calls["n"] += 1
        data["has_next"], data["cursor"] = True, "STUCK"

    patch(sim, "_list", stuck)
    with virtual_time():
        results = run(w)
    assert calls["n"] <= 5
    assert "новое сообщение при зависшем курсоре" in texts(w)
    assert all(not r.errors for r in results)
    assert any("paging stopped" in r for r in bad_reasons(w))


def test_ozon_list_with_fresh_cursors_forever_is_capped(tmp_path: Path) -> None:
    w = make_world(tmp_path / "h", "ozon", chats=3, page_size=50)
    sim = w.sim
    calls = {"n": 0}

    def cycling(body: Any, data: dict[str, Any]) -> None:
        calls["n"] += 1
        data["has_next"], data["cursor"] = True, f"c{calls['n']}"

    patch(sim, "_list", cycling)
    with virtual_time():
        run(w)
    assert calls["n"] <= 5  # pages that bring no new chat end the listing
    assert len(store_view(w.db)["chats"]) == 3


def test_ym_fresh_page_token_forever_is_bounded(tmp_path: Path) -> None:
    w = make_world(tmp_path / "h", "yandex", chats=3, page_size=50)
    sim = w.sim
    orig = sim._list
    calls = {"n": 0}

    def listing(req: Any) -> Any:
        calls["n"] += 1
        req = dataclasses.replace(req, query={k: v for k, v in req.query.items() if k != "pageToken"})
        resp = orig(req)
        data = json.loads(resp.body)
        data["result"].setdefault("paging", {})["nextPageToken"] = f"tok-{calls['n']}"  # never repeats
        return type(resp).json(data)

    sim._list = listing
    with virtual_time():
        results = run(w)
    assert calls["n"] <= 5
    assert all(not r.errors for r in results)
    assert len(store_view(w.db)["chats"]) == 3  # what was listed is stored
    assert any("paging stopped" in r for r in bad_reasons(w))


def test_replies_are_delivered_between_the_pages_of_a_long_poll(tmp_path: Path) -> None:
    w = make_world(tmp_path / "h", "yandex", chats=4, page_size=50)
    sim = w.sim
    run(w)
    chats = sorted(c["external_id"] for c in truth_view(sim)["chats"])
    for chat in chats:
        sim.buyer_writes(chat, "покупатель пишет снова")
    target = next(c for c in views.list_chats(w.db) if (c.status or "").upper() != "FINISHED")
    from chatdesk.usecases import replies

    replies.queue_reply(w.db, target.id, "Ответ во время долгого опроса")
    seen: list[bool] = []
    orig = sim._history

    def history(req: Any) -> Any:
        seen.append("Ответ во время долгого опроса" in json.dumps(sim.truth(), ensure_ascii=False))
        return orig(req)

    sim._history = history

    async def go() -> None:
        engine = w.engine()
        engine.DELIVER_DURING_POLL = 0.0  # every page is "long": the outbox gets its turn at once
        try:
            await engine.run_once()
        finally:
            await engine.aclose()

    asyncio.run(go())
    assert len(seen) >= 2 and seen[-1], seen  # delivered before the poll's last request
