"""Red-team finding 4: WB file-upload errors name files exactly, never by substring."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from chatdesk.connectors.base import AccountConfig, ChatRef, OutgoingFile
from chatdesk.connectors.wildberries import CHAT_HOST, WildberriesConnector
from chatdesk.ratelimit import RateLimiter
from chatdesk.store import views
from chatdesk.usecases import replies
from tests.reliability import make_world

SEND = f"{CHAT_HOST}/api/v1/seller/message"


def pdf(name: str) -> OutgoingFile:
    return OutgoingFile(name=name, content=b"%PDF-1.4 " + name.encode(), content_type="application/pdf")


@pytest.mark.parametrize(
    ("names", "errors", "failed"),
    [
        (("a.pdf", "data.pdf"), ["data.pdf: upload error"], ["data.pdf"]),
        (("data.pdf", "a.pdf"), ["a.pdf: upload error"], ["a.pdf"]),
        (("a.pdf", "a.pdf.pdf"), ["a.pdf.pdf: upload error"], ["a.pdf.pdf"]),
        (("a.pdf", "b.pdf"), ['upload error for "b.pdf"'], ["b.pdf"]),
        (("a.pdf", "b.pdf"), ["upload error"], ["a.pdf", "b.pdf"]),  # names none: both
    ],
)
@respx.mock
async def test_upload_errors_match_file_names_exactly(names, errors, failed) -> None:
    respx.post(SEND).respond(json={"result": {"addTime": 1764300003000, "chatID": "c1"}, "errors": errors})
    conn = WildberriesConnector(AccountConfig("w", "wildberries", "tok-123456"), httpx.AsyncClient(), RateLimiter())
    receipt = await conn.send(ChatRef("c1", "chat", reply_token="sign"), "Документы", tuple(pdf(n) for n in names))
    assert receipt is not None
    assert sorted(n for n, _ in receipt.failed_files) == failed


def test_only_the_named_file_is_offered_for_resend(tmp_path: Path) -> None:
    w = make_world(tmp_path / "h", "wildberries", chats=2, page_size=50)

    def run() -> None:
        async def go() -> None:
            engine = w.engine()
            try:
                await engine.run_once()
            finally:
                await engine.aclose()

        asyncio.run(go())

    run()
    sim = w.sim
    orig = sim._send

    def send(req: Any) -> Any:
        resp = orig(req)
        data = json.loads(resp.body)
        data["errors"] = ["data.pdf: upload error"]
        return type(resp).json(data)

    sim._send = send
    chat = next(c for c in views.list_chats(w.db) if c.kind == "chat")
    a, d = tmp_path / "a.pdf", tmp_path / "data.pdf"
    a.write_bytes(b"%PDF-1.4 A")
    d.write_bytes(b"%PDF-1.4 D")
    replies.queue_reply(w.db, chat.id, "Документы по заказу", replies.file_specs([a, d]))
    run()
    failed = [m for m in views.list_messages(w.db, chat.id) if m.state == "failed"]
    assert sorted(x.name for m in failed for x in m.attachments) == ["data.pdf"]
