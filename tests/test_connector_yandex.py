"""YandexConnector against hand-written wire answers (respx): paging, exact 64-bit ids,
incremental history, error envelopes, 420 handling and client-side refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

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
    RateLimited,
    Rejected,
    TooManyParallel,
    TransientError,
)
from chatdesk.connectors.yandex import HOST, YandexConnector

API = f"{HOST}/v2/businesses/777"
TOKEN = "ym-secret-token-123"
BIG_CHAT = "9007199254740993"  # 2^53 + 1
BIG_MSG = "9007199254740995"


def chat_json(chat_id: str, updated: str, status: str = "WAITING_FOR_PARTNER", ctx: str = "ORDER") -> str:
    context = {"ORDER": '"orderId": 9007199254740997', "RETURN": '"orderId": 5, "returnId": 42', "DIRECT": ""}[ctx]
    sep = ", " if context else ""
    return (
        f'{{"chatId": {chat_id}, "type": "CHAT", "status": "{status}", "createdAt": "2026-07-01T10:00:00+03:00",'
        f' "updatedAt": "{updated}", "context": {{"type": "{ctx}", "customer": {{"name": "Ольга"}}{sep}{context}}}}}'
    )


def ok(result: str) -> httpx.Response:
    return httpx.Response(200, content=f'{{"status": "OK", "result": {result}}}'.encode(),
                          headers={"content-type": "application/json"})


def msg_json(
    mid: str,
    sender: str = "CUSTOMER",
    text: str | None = "Здравствуйте",
    at: str = "2026-07-01T10:00:00+03:00",
    payload: str | None = None,
) -> str:
    parts = [f'"messageId": {mid}', f'"createdAt": "{at}"', f'"sender": "{sender}"']
    if text is not None:
        parts.append(f'"message": {json.dumps(text, ensure_ascii=False)}')
    if payload:
        parts.append(f'"payload": {payload}')
    return "{" + ", ".join(parts) + "}"


def history(*messages: str, token: str | None = None) -> httpx.Response:
    paging = f', "paging": {{"nextPageToken": "{token}"}}' if token else ""
    return ok(f'{{"context": {{"type": "ORDER"}}, "messages": [{", ".join(messages)}]{paging}}}')


@pytest.fixture
def connector():
    client = httpx.AsyncClient()
    account = AccountConfig("shop", "yandex", TOKEN, None, {"business_id": "777"})
    return YandexConnector(account, client)


async def collect(connector, known=None):
    pages = [p async for p in connector.poll("chats", None, known or {})]
    # The last page carries only the cursor (when this listing began, issue 11 §2).
    assert pages and pages[-1].cursor and not pages[-1].chats and not pages[-1].messages
    return pages[:-1]


def bodies(route) -> list[dict]:
    return [json.loads(call.request.content) for call in route.calls]


@respx.mock
async def test_full_poll_pages_list_and_history_with_exact_ids(connector) -> None:
    lst = respx.post(f"{API}/chats")
    lst.side_effect = [
        ok(f'{{"chats": [{chat_json(BIG_CHAT, "2026-07-01T11:00:00+03:00")}], "paging": {{"nextPageToken": "p2"}}}}'),
        ok(f'{{"chats": [{chat_json("15", "2026-07-01T12:00:00Z", "FINISHED", "DIRECT")}], "paging": {{}}}}'),
    ]
    hist = respx.post(f"{API}/chats/history")
    hist.side_effect = [
        # page 1 newest first, page 2 repeats a message: order and overlap are not promised
        history(msg_json(BIG_MSG, "partner", "Ответ", "2026-07-01T10:30:00+03:00"),
                msg_json("9007199254740994", "CUSTOMER", "Вопрос"), token="h2"),
        history(msg_json(BIG_MSG, "PARTNER", "Ответ", "2026-07-01T10:30:00+03:00"),
                msg_json("9007199254740996", "Support", None, "2026-07-01T10:45:00+03:00",
                         '[{"name": "акт.pdf", "url": "https://files.example/a", "size": 10}]')),
        history(msg_json("3", "MARKET", "Чат завершён")),
    ]
    pages = await collect(connector)

    assert [c.request.url.params.get("pageToken") for c in lst.calls] == [None, "p2"]
    assert all(c.request.url.params["limit"] == "20" for c in lst.calls)
    assert [c.request.url.params.get("pageToken") for c in hist.calls] == [None, "h2", None]
    assert hist.calls[0].request.url.params["chatId"] == BIG_CHAT
    assert hist.calls[0].request.url.params["limit"] == "100"
    assert bodies(hist) == [{}, {}, {}]  # the body is required even without a filter

    first, second = pages
    chat = first.chats[0]
    assert chat.external_id == BIG_CHAT and chat.order_id == "9007199254740997"
    assert chat.customer == "Ольга" and chat.status == "WAITING_FOR_PARTNER"
    assert chat.context == {"contextType": "ORDER", "chatType": "CHAT"}
    assert chat.version == "2026-07-01T08:00:00+00:00"
    assert [m.external_id for m in first.messages] == ["9007199254740994", BIG_MSG, "9007199254740996"]
    assert [m.author for m in first.messages] == ["buyer", "seller", "marketplace"]
    assert first.messages[2].text == "" and first.messages[2].attachments == (
        Attachment(name="акт.pdf", size=10, url="https://files.example/a"),
    )
    assert first.messages[0].created_at == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert second.chats[0].external_id == "15" and second.chats[0].order_id is None
    assert second.chats[0].status == "FINISHED"
    assert all(p.cursor is None for p in pages)


@respx.mock
async def test_incremental_poll_uses_message_id_from_and_skips_unchanged(connector) -> None:
    respx.post(f"{API}/chats").mock(return_value=ok(
        f'{{"chats": [{chat_json(BIG_CHAT, "2026-07-02T10:00:00+03:00")},'
        f' {chat_json("15", "2026-07-01T12:00:00Z", "FINISHED")},'
        f' {chat_json("16", "2026-07-01T13:00:00Z", "WAITING_FOR_CUSTOMER")}]}}'
    ))
    hist = respx.post(f"{API}/chats/history").mock(return_value=history(
        msg_json(BIG_MSG, "PARTNER", "Ответ"),  # the boundary message comes back (inclusive)
        msg_json("9007199254740999", "CUSTOMER", "Новый вопрос", "2026-07-02T10:00:00+03:00"),
    ))
    known = {
        BIG_CHAT: KnownChat(BIG_CHAT, "2026-07-01T08:00:00+00:00", BIG_MSG, "WAITING_FOR_CUSTOMER"),
        "15": KnownChat("15", "2026-07-01T12:00:00+00:00", "3", "FINISHED"),
        "16": KnownChat("16", "2026-07-01T13:00:00+00:00", "4", "WAITING_FOR_PARTNER"),
    }
    pages = await collect(connector, known)

    assert len(hist.calls) == 1
    # the id travels as an exact JSON integer, not a float or a string
    assert json.loads(hist.calls[0].request.content) == {"messageIdFrom": 9007199254740995}
    assert b"9007199254740995" in hist.calls[0].request.content
    changed, status_only = pages
    assert [m.external_id for m in changed.messages] == ["9007199254740999"]
    assert changed.chats[0].version == "2026-07-02T07:00:00+00:00"
    assert changed.chats[0].preview == "Новый вопрос"
    assert status_only.chats[0].external_id == "16" and status_only.chats[0].status == "WAITING_FOR_CUSTOMER"
    assert status_only.chats[0].version is None and not status_only.messages


@respx.mock
async def test_idle_poll_costs_list_pages_only(connector) -> None:
    lst = respx.post(f"{API}/chats").mock(return_value=ok(f'{{"chats": [{chat_json("15", "2026-07-01T12:00:00Z")}]}}'))
    hist = respx.post(f"{API}/chats/history")
    known = {"15": KnownChat("15", "2026-07-01T12:00:00+00:00", "3", "WAITING_FOR_PARTNER")}
    assert await collect(connector, known) == []
    assert lst.call_count == 1 and hist.call_count == 0
    assert bodies(lst) == [{}]


@respx.mock
async def test_chat_repeated_on_overlapping_pages_is_fetched_once(connector) -> None:
    row = chat_json("15", "2026-07-01T12:00:00Z")
    respx.post(f"{API}/chats").side_effect = [
        ok(f'{{"chats": [{row}], "paging": {{"nextPageToken": "p2"}}}}'),
        ok(f'{{"chats": [{row}]}}'),
    ]
    hist = respx.post(f"{API}/chats/history").mock(return_value=history(msg_json("3")))
    pages = await collect(connector)
    assert hist.call_count == 1 and len(pages) == 1


@respx.mock
async def test_envelope_error_and_auth_error_surface_yandex_words(connector) -> None:
    envelope = {"status": "ERROR", "errors": [{"code": "BAD_REQUEST", "message": "Bad page token"}]}
    respx.post(f"{API}/chats").mock(return_value=httpx.Response(400, json=envelope))
    with pytest.raises(Rejected, match="Bad page token"):
        await collect(connector)
    respx.post(f"{API}/chats").mock(return_value=httpx.Response(
        401, json={"status": "ERROR", "errors": [{"code": "UNAUTHORIZED", "message": f"Api-Key {TOKEN} is invalid"}]}
    ))
    with pytest.raises(AuthError) as info:
        await connector.test()
    assert "is invalid" in info.value.message and TOKEN not in info.value.message
    assert "Api-Key" in info.value.message  # says what to check
    respx.post(f"{API}/chats/message").mock(return_value=httpx.Response(
        404, json={"status": "ERROR", "errors": [{"code": "NOT_FOUND", "message": "Can't find chat by id: '5'"}]}
    ))
    with pytest.raises(Rejected, match="Can't find chat by id"):
        await connector.send(ChatRef("5"), "Добрый день")


@respx.mock
async def test_420_rate_limit_uses_resource_until_and_blocks_the_method(connector) -> None:
    until = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    respx.post(f"{API}/chats").mock(return_value=httpx.Response(
        420, headers={"X-RateLimit-Resource-Until": until},
        json={"status": "ERROR", "errors": [{"code": "LIMIT_EXCEEDED", "message": "too many"}]},
    ))
    with pytest.raises(RateLimited) as info:
        await collect(connector)
    assert 25 <= info.value.retry_after <= 31 and info.value.reached_server is False
    assert connector.limiter._buckets["getChats"].tokens == 0
    assert connector.limiter._buckets["getChats"].blocked_until > 0
    # A bare 420 (no X-RateLimit-Resource-* headers) is the cabinet's parallel-request limit
    # (issue 11 §3): a short jittered pause, not the 60 s default of a method quota.
    respx.post(f"{API}/chats/message").mock(return_value=httpx.Response(420))
    with pytest.raises(TooManyParallel) as info:
        await connector.send(ChatRef("5"), "Добрый день")
    assert 0.5 <= info.value.retry_after <= 2


@respx.mock
async def test_finished_chat_and_limits_refused_before_any_request(connector) -> None:
    route = respx.post(url__startswith=API)
    with pytest.raises(Rejected, match="the chat is finished"):
        await connector.send(ChatRef("5", status="finished"), "Спасибо")
    with pytest.raises(Rejected, match="4096"):
        await connector.send(ChatRef("5"), "я" * 4097)
    with pytest.raises(Rejected, match="empty"):
        await connector.send(ChatRef("5"), "   ")
    big = OutgoingFile("видео.mp4", b"0" * (5 * 1024 * 1024 + 1), "video/mp4")
    with pytest.raises(Rejected, match="5 MB"):
        await connector.send(ChatRef("5"), "см. файл", (big,))
    assert route.call_count == 0


@respx.mock
async def test_send_text_then_file_as_multipart(connector) -> None:
    text = respx.post(f"{API}/chats/message").mock(return_value=httpx.Response(200, json={"status": "OK"}))
    files = respx.post(f"{API}/chats/file/send").mock(return_value=httpx.Response(200, json={"status": "OK"}))
    await connector.send(ChatRef(BIG_CHAT), "я" * 4096, (OutgoingFile("чек.pdf", b"%PDF-1", "application/pdf"),))
    request = text.calls[0].request
    assert request.url.params["chatId"] == BIG_CHAT and request.headers["Api-Key"] == TOKEN
    assert json.loads(request.content) == {"message": "я" * 4096}
    upload = files.calls[0].request
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file"' in upload.content and b"%PDF-1" in upload.content


@respx.mock
async def test_server_and_transport_failures_are_transient(connector) -> None:
    route = respx.post(f"{API}/chats")
    route.mock(return_value=httpx.Response(500, json={"status": "ERROR", "errors": [{"code": "X", "message": "boom"}]}))
    with pytest.raises(TransientError) as info:
        await connector.test()
    assert not isinstance(info.value, RateLimited) and info.value.reached_server
    route.mock(return_value=httpx.Response(200, content=b'{"status": "OK", "resu'))
    with pytest.raises(TransientError, match="malformed"):
        await connector.test()
    route.mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TransientError) as info:
        await connector.test()
    assert info.value.reached_server is False
    respx.post(f"{API}/chats/message").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TransientError) as info:
        await connector.send(ChatRef("5"), "Добрый день")
    assert info.value.reached_server is True


@respx.mock
async def test_download_sends_the_key_only_to_yandex_hosts(connector) -> None:
    foreign = respx.get("https://files.example/a").mock(return_value=httpx.Response(200, content=b"PDF"))
    own = respx.get(f"{HOST}/files/1").mock(return_value=httpx.Response(200, content=b"IMG",
                                                                        headers={"content-type": "image/png"}))
    got = await connector.download(ChatRef("5"), Attachment("a.pdf", url="https://files.example/a"))
    assert got.content == b"PDF" and "Api-Key" not in foreign.calls[0].request.headers
    got = await connector.download(ChatRef("5"), Attachment("b.png", url=f"{HOST}/files/1"))
    assert got.content_type == "image/png" and own.calls[0].request.headers["Api-Key"] == TOKEN


async def test_missing_business_id_is_an_auth_problem() -> None:
    account = AccountConfig("shop", "yandex", TOKEN, None, {})
    with pytest.raises(AuthError, match="business_id"):
        await YandexConnector(account, httpx.AsyncClient()).test()


def test_declares_limits_and_budgets(connector) -> None:
    assert connector.limits["chat"].max_text == 4096
    assert connector.limits["chat"].max_file_size == 5 * 1024 * 1024
    assert connector.limiter.budgets["getChats"].limit == 5000
    assert connector.limiter.budgets["getChatHistory"].limit == 10_000
    assert connector.limiter.budgets["sendMessageToChat"].period == 3600
    assert connector.secret_headers() == {"Api-Key": TOKEN}


@respx.mock
async def test_replayed_page_token_is_followed_but_a_stuck_one_stops(connector) -> None:
    row = chat_json("15", "2026-07-01T12:00:00Z")
    known = {"15": KnownChat("15", "2026-07-01T12:00:00+00:00", "3", "WAITING_FOR_PARTNER")}
    lst = respx.post(f"{API}/chats")
    lst.side_effect = [
        ok(f'{{"chats": [{row}], "paging": {{"nextPageToken": "p2"}}}}'),
        ok(f'{{"chats": [{row}], "paging": {{"nextPageToken": "p2"}}}}'),  # the server replayed page 1
        ok('{"chats": []}'),
    ]
    assert await collect(connector, known) == []
    assert lst.call_count == 3
    lst.side_effect = None
    lst.mock(return_value=ok(f'{{"chats": [{row}], "paging": {{"nextPageToken": "same"}}}}'))
    # A stuck token ends the listing (red-team finding 9): recorded as a bad item, no cursor
    # (the next poll lists again), never an endless loop nor a failed round.
    lst.reset()
    pages = [p async for p in connector.poll("chats", None, known)]
    assert lst.call_count <= 4
    assert all(p.cursor is None for p in pages)
    assert any("paging stopped" in b.reason for p in pages for b in p.bad_items)
