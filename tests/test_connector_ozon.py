"""Ozon connector wire handling with respx: paging, filtering, exact 64-bit ids, casing, errors."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
import respx

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
    TransientError,
    loads_exact,
)
from chatdesk.connectors.ozon import HOST, OzonConnector

SECRET = "ozon-secret-api-key-123"
BIG = "3000000000817031942"  # > 2^53: a float would turn it into ...031936
HUGE = "30000000001280042740"  # the spec's own example, even above 2^64
LIST = f"{HOST}/v3/chat/list"
HISTORY = f"{HOST}/v3/chat/history"


def conn(settings: dict[str, str] | None = None, base_url: str | None = None) -> OzonConnector:
    account = AccountConfig(
        "shop", "ozon", SECRET, base_url=base_url, settings={"client_id": "777"} if settings is None else settings
    )
    return OzonConnector(account, httpx.AsyncClient())


def raw_json(body: str) -> httpx.Response:
    """A response whose JSON text is written by hand, so ids can be bare numbers above 2^53."""
    return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})


def listed(chat_id: str, chat_type: str, last: str, *, status: str = "OPENED", unread: int = 0) -> dict:
    return {
        "chat": {
            "chat_id": chat_id,
            "chat_type": chat_type,
            "chat_status": status,
            "created_at": "2026-07-01T10:00:00Z",
        },
        "last_message_id": last,
        "unread_count": unread,
    }


def msg(mid: str, user_type: str, *data: str, image: bool = False, context: bool = True) -> dict:
    out = {
        "message_id": mid,
        "created_at": "2026-07-02T08:07:19.581Z",
        "data": list(data),
        "is_image": image,
        "user": {"id": "1", "type": user_type},
    }
    if context:
        out["context"] = {"order_number": "47873153-0052-1", "sku": "987654321"}
    return out


def bodies(route: respx.Route) -> list[dict]:
    return [loads_exact(call.request.content) for call in route.calls]  # type: ignore[misc]


async def collect(c: OzonConnector, known: dict[str, KnownChat] | None = None) -> list[Page]:
    return [p async for p in c.poll("chats", None, known or {})]


@respx.mock
async def test_list_paging_buyer_filter_and_string_has_next() -> None:
    lists = respx.post(LIST).mock(
        side_effect=[
            httpx.Response(
                200,
                json={
                    "chats": [
                        listed("b1", "buyer_seller", "0"),
                        listed("s1", "SELLER_SUPPORT", "5"),
                        listed("n1", "seller_notification_logistics", "6"),
                    ],
                    "cursor": "c2",
                    "has_next": "true",
                },
            ),
            httpx.Response(
                200,
                json={
                    "chats": [listed("b2", "Buyer_Seller_Select", "0"), listed("u1", "SELLER_API_UPDATES", "9")],
                    "cursor": "c3",
                    "has_next": False,
                },
            ),
        ]
    )
    history = respx.post(HISTORY).mock(return_value=httpx.Response(200, json={"messages": []}))
    pages = await collect(conn())
    assert bodies(lists) == [{"limit": 100}, {"limit": 100, "cursor": "c2"}]
    assert [p.chats[0].external_id for p in pages] == ["b1", "b2"]  # support/notification/API chats left out
    assert not history.called  # empty chats need no history
    assert all(p.cursor is None for p in pages)
    headers = lists.calls[0].request.headers
    assert headers["Client-Id"] == "777" and headers["Api-Key"] == SECRET


@respx.mock
async def test_first_sync_pages_backward_dedupes_and_keeps_ids_exact() -> None:
    respx.post(LIST).mock(
        return_value=raw_json(
            '{"chats":[{"chat":{"chat_id":"c1","chat_type":"BUYER_SELLER","chat_status":"opened"},'
            f'"last_message_id":{HUGE},"unread_count":"2"}}],"has_next":false}}'
        )
    )
    history = respx.post(HISTORY).mock(
        side_effect=[
            # newest first; ids as bare JSON numbers above 2^53 and 2^64
            raw_json(
                '{"has_next":"true","messages":['
                f'{{"message_id":{HUGE},"user":{{"type":"SELLER"}},"data":["Ответ"],"created_at":"2026-07-02T09:00:00Z"}},'
                f'{{"message_id":{BIG},"user":{{"type":"customer"}},"data":["Вопрос","вторая строка"],'
                '"created_at":"2026-07-02T08:00:00+03:00","context":{"order_number":"47873153-0052-1","sku":"987654321"}}]}'
            ),
            # inclusive from_message_id: the oldest message comes again, plus an older one as a string id
            httpx.Response(
                200,
                json={
                    "has_next": False,
                    "messages": [
                        msg(BIG, "customer", "Вопрос", "вторая строка"),
                        msg("3000000000000000001", "Crm", "Заказ оформлен", context=False),
                    ],
                },
            ),
        ]
    )
    pages = await collect(conn())
    assert len(pages) == 1
    (page,) = pages
    sent = [call.request.content for call in history.calls]
    assert json.loads(sent[0]) == {"chat_id": "c1", "direction": "Backward", "limit": 1000}
    assert f'"from_message_id":{BIG}'.encode() in sent[1]  # bare number, exact, no quotes
    assert [m.external_id for m in page.messages] == ["3000000000000000001", BIG, HUGE]
    assert [m.author for m in page.messages] == ["marketplace", "buyer", "seller"]
    assert page.messages[1].text == "Вопрос\nвторая строка"
    assert page.messages[1].created_at.isoformat() == "2026-07-02T05:00:00+00:00"
    (info,) = page.chats
    assert (info.version, info.status, info.unread) == (HUGE, "OPENED", 2)
    assert (info.order_id, info.product_id, info.customer) == ("47873153-0052-1", "987654321", None)


@respx.mock
async def test_known_chats_forward_only_when_changed() -> None:
    respx.post(LIST).mock(
        return_value=httpx.Response(
            200,
            json={
                "chats": [
                    listed("same", "BUYER_SELLER", BIG),
                    listed("closed", "BUYER_SELLER", "42", status="CLOSED"),
                    listed("changed", "BUYER_SELLER", "3000000000817031999", unread=1),
                ],
                "has_next": False,
            },
        )
    )
    history = respx.post(HISTORY).mock(
        return_value=httpx.Response(
            200,
            json={
                "has_next": False,
                "messages": [
                    msg(BIG, "Customer", "уже есть"),  # from_message_id came back (inclusive)
                    msg("3000000000817031999", "Courier", "Курьер: буду через час"),
                ],
            },
        )
    )
    known = {
        "same": KnownChat("same", BIG, BIG, "OPENED"),
        "closed": KnownChat("closed", "42", "42", "OPENED"),
        "changed": KnownChat("changed", BIG, BIG, "OPENED"),
    }
    pages = await collect(conn(), known)
    assert len(history.calls) == 1
    body = history.calls[0].request.content
    assert json.loads(body)["direction"] == "Forward"
    assert f'"from_message_id":{BIG}'.encode() in body
    status_only, changed = pages
    assert status_only.chats[0].external_id == "closed" and status_only.chats[0].status == "CLOSED"
    assert status_only.chats[0].version is None and not status_only.messages
    assert [m.external_id for m in changed.messages] == ["3000000000817031999"]
    assert changed.messages[0].author == "marketplace"
    assert changed.chats[0].version == "3000000000817031999" and changed.chats[0].unread == 1


@respx.mock
async def test_image_message_becomes_attachment_and_download_keeps_secret_home() -> None:
    respx.post(LIST).mock(
        return_value=httpx.Response(200, json={"chats": [listed("c1", "BUYER_SELLER", BIG)], "has_next": False})
    )
    respx.post(HISTORY).mock(
        return_value=httpx.Response(
            200,
            json={
                "has_next": False,
                "messages": [msg(BIG, "Customer", "![](https://cdn1.ozone.ru/s3/chat/x.jpg)", image=True)],
            },
        )
    )
    c = conn()
    (page,) = await collect(c)
    (m,) = page.messages
    assert m.text == ""
    assert m.attachments == (Attachment(name=f"image-{BIG}", url="https://cdn1.ozone.ru/s3/chat/x.jpg"),)
    cdn = respx.get("https://cdn1.ozone.ru/s3/chat/x.jpg").mock(
        return_value=httpx.Response(200, content=b"JPEG", headers={"content-type": "image/jpeg"})
    )
    got = await c.download(ChatRef("c1"), m.attachments[0])
    assert got.content == b"JPEG" and got.content_type == "image/jpeg"
    assert "Api-Key" not in cdn.calls[0].request.headers  # the key goes only to api-seller.ozon.ru
    with pytest.raises(Rejected):
        await c.download(ChatRef("c1"), Attachment(name="x", url="https://evil.example/x.jpg"))


@respx.mock
async def test_send_text_file_read_and_test_bodies() -> None:
    send = respx.post(f"{HOST}/v1/chat/send/message").mock(return_value=httpx.Response(200, json={"result": "success"}))
    send_file = respx.post(f"{HOST}/v1/chat/send/file").mock(
        return_value=httpx.Response(200, json={"result": "success"})
    )
    read = respx.post(f"{HOST}/v2/chat/read").mock(return_value=httpx.Response(200, json={"unread_count": 0}))
    lists = respx.post(LIST).mock(return_value=httpx.Response(200, json={"chats": [], "total_unread_count": 3}))
    c = conn()
    await c.send(ChatRef("c1"), "Здравствуйте! **Отправили** сегодня.")
    assert bodies(send) == [{"chat_id": "c1", "text": "Здравствуйте! **Отправили** сегодня."}]
    await c.send(ChatRef("c1"), "", (OutgoingFile("чек.pdf", b"%PDF-1.4", "application/pdf"),))
    (fb,) = bodies(send_file)
    assert fb == {"chat_id": "c1", "base64_content": base64.b64encode(b"%PDF-1.4").decode(), "name": "чек.pdf"}
    await c.mark_read(ChatRef("c1"), HUGE)
    assert f'"from_message_id":{HUGE}'.encode() in read.calls[0].request.content
    assert "3 unread" in await c.test()
    assert bodies(lists) == [{"limit": 1}]


@respx.mock
async def test_limits_refused_before_any_request() -> None:
    route = respx.post(url__startswith=HOST).mock(return_value=httpx.Response(200, json={"result": "success"}))
    c = conn()
    for text, files in [
        ("я" * 1001, ()),
        ("", ()),
        ("  \n", ()),
        ("text", (OutgoingFile("a.png", b"x", "image/png"),)),
        ("", (OutgoingFile("a.png", b"x", "image/png"), OutgoingFile("b.png", b"y", "image/png"))),
        ("", (OutgoingFile("a.exe", b"MZ", "application/x-msdownload"),)),
        ("", (OutgoingFile("a.png", b"x" * (10 * 1024 * 1024 + 1), "image/png"),)),
    ]:
        with pytest.raises(Rejected):
            await c.send(ChatRef("c1"), text, files)
    await c.send(ChatRef("c1"), "я" * 1000)
    assert route.call_count == 1
    with pytest.raises(AuthError, match="Client-Id"):
        await conn(settings={}).test()
    assert route.call_count == 1


def rpc(status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"code": 3, "message": message, "details": []}, headers=headers)


@pytest.mark.parametrize(
    ("response", "error", "words"),
    [
        (rpc(400, "You can send messages within 48 hours after the buyer's last message"), Rejected, "48 h"),
        (rpc(403, "Method is available only with Premium Plus subscription"), Rejected, "Premium Plus or Premium Pro"),
        (rpc(400, "text is too long"), Rejected, "Ozon: text is too long"),
        (rpc(404, "chat not found"), Rejected, "chat not found"),
        (rpc(403, f"invalid Api-Key {SECRET}"), AuthError, "Api-Key"),
        (rpc(401, "unauthorized"), AuthError, "credentials"),
        (rpc(429, "rate limit", {"Retry-After": "3"}), RateLimited, "rate limit"),
        (rpc(500, "internal"), TransientError, "server error"),
        (httpx.Response(200, content=b'{"result":'), TransientError, "unreadable"),
    ],
)
@respx.mock
async def test_send_errors_in_plain_words(response: httpx.Response, error: type[Exception], words: str) -> None:
    respx.post(f"{HOST}/v1/chat/send/message").mock(return_value=response)
    with pytest.raises(error) as info:
        await conn().send(ChatRef("c1"), "Ответ")
    text = info.value.message  # type: ignore[attr-defined]
    assert words in text and SECRET not in text
    if isinstance(info.value, Rejected) and response.status_code == 400 and "48" in words:
        assert "48 hours after the buyer" in text  # Ozon's own words kept
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after == 3


@respx.mock
async def test_read_errors_and_transport_failures() -> None:
    route = respx.post(LIST)
    route.mock(return_value=rpc(403, "Offer not signed"))
    with pytest.raises(AuthError, match="Offer not signed"):
        await collect(conn())
    route.mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TransientError) as refused:
        await collect(conn())
    assert refused.value.reached_server is False
    route.mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TransientError) as slow:
        await collect(conn())
    assert slow.value.reached_server is True


@respx.mock
async def test_base_url_replaces_host() -> None:
    route = respx.post("http://127.0.0.1:8765/ozon/v3/chat/list").mock(
        return_value=httpx.Response(200, json={"chats": [], "has_next": False})
    )
    assert await collect(conn(base_url="http://127.0.0.1:8765/ozon/")) == []
    assert route.called
