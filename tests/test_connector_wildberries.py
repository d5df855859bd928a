"""Wildberries connector against mocked HTTP (respx): every endpoint's mapping and every error path."""

from __future__ import annotations

import base64
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
    StreamUnavailable,
    TransientError,
)
from chatdesk.connectors.wildberries import CHAT_HOST, QUESTIONS_HOST, WildberriesConnector, jwt_warning
from chatdesk.ratelimit import RateLimiter

TOKEN = "secret-token-value-123"
EVENTS = f"{CHAT_HOST}/api/v1/seller/events"
CHATS = f"{CHAT_HOST}/api/v1/seller/chats"
MESSAGE = f"{CHAT_HOST}/api/v1/seller/message"
QUESTIONS = f"{QUESTIONS_HOST}/api/v1/questions"
SIGN = "1:aaa:12345678:" + "ab" * 40
CHAT_A = "1:1e265a58-a120-b178-008c-60af2460207c"
CHAT_B = "1:22222222-a120-b178-008c-60af2460207c"


def make(settings: dict[str, str] | None = None, base_url: str | None = None) -> WildberriesConnector:
    account = AccountConfig("main", "wildberries", TOKEN, base_url=base_url, settings=settings or {})
    return WildberriesConnector(account, httpx.AsyncClient(), RateLimiter())


async def collect(conn: WildberriesConnector, stream: str, cursor: str | None, known: dict | None = None) -> list:
    return [p async for p in conn.poll(stream, cursor, known or {})]


def events_body(events: list[dict], next_: int | None = 1698045576001) -> dict:
    return {"result": {"next": next_, "totalEvents": len(events), "events": events}, "errors": None}


EMPTY = {"result": {"next": 1698045576001, "totalEvents": 0, "events": []}, "errors": None}

FIRST_PAGE = [
    {
        "chatID": CHAT_A, "eventID": "ev-1", "eventType": "message", "isNewChat": True,
        "message": {
            "attachments": {
                "goodCard": {"nmID": 12345678, "price": 500, "priceCurrency": "RUB", "rid": "r1", "size": "0"},
                "files": [{"contentType": "application/pdf", "date": "2023-10-23T08:02:19.594Z",
                           "downloadID": "dl-1", "name": "Чек.pdf", "url": "https://basket/x.pdf", "size": 1046143}],
                "images": [{"date": "2023-10-23T08:02:20.717Z", "downloadID": "dl-2", "url": "https://basket/y.jpg"}],
            },
            "text": "Здравствуйте! Вопрос по товару",
        },
        "source": "rusite", "addTimestamp": 1698037340000, "addTime": "2023-10-23T05:02:20Z",
        "replySign": SIGN, "sender": "client", "clientName": "Алёна",
        "clientID": "legacy-field", "brandNewField": {"x": 1},
    },
    {
        "chatID": CHAT_A, "eventID": "ev-2", "eventType": "message",
        "message": {"text": "Да, сейчас оформим возврат."}, "source": "seller-portal",
        "addTimestamp": 1698038124000, "addTime": "2023-10-23T05:15:24Z", "sender": "SELLER",
    },
    {"chatID": CHAT_A, "eventID": "ev-3", "eventType": "message", "addTimestamp": 1698045576000,
     "addTime": "2023-10-23T07:19:36Z", "sender": "seller"},
]
SECOND_PAGE = [
    {"chatID": CHAT_A, "eventID": "ev-4", "eventType": "message", "message": {"text": "Заявка создана"},
     "addTimestamp": 1698045577000, "addTime": "2023-10-23T07:19:37Z", "sender": "wb"},
]
CHAT_LIST = {
    "result": [{
        "chatID": CHAT_A, "replySign": SIGN, "clientName": "Алёна",
        "goodCard": {"nmID": 12345678, "price": 500, "priceCurrency": "RUB", "rid": "r1", "size": "0"},
        "lastMessage": {"text": "Заявка создана", "addTimestamp": 1698045577000},
    }],
    "errors": None,
}


# ---------------------------------------------------------------------- chats


@respx.mock
async def test_first_sync_maps_chat_list_and_event_pages() -> None:
    respx.get(CHATS).respond(json=CHAT_LIST)
    events = respx.get(EVENTS)
    events.side_effect = [
        httpx.Response(200, json=events_body(FIRST_PAGE, 1698045576001)),
        httpx.Response(200, json=events_body(SECOND_PAGE, 1698045577001)),
        httpx.Response(200, json=EMPTY),
    ]
    pages = await collect(make(), "chats", None)

    assert "next" not in events.calls[0].request.url.params  # the spec: first request without next
    assert events.calls[1].request.url.params["next"] == "1698045576001"
    assert events.calls[2].request.url.params["next"] == "1698045577001"
    assert events.calls[0].request.headers["Authorization"] == TOKEN  # raw token by default

    listed, first, second = pages
    assert listed.messages == () and listed.cursor is None
    chat = listed.chats[0]
    assert (chat.external_id, chat.customer, chat.product_id, chat.reply_token) == (CHAT_A, "Алёна", "12345678", SIGN)
    assert dict(chat.context) == {"nmID": "12345678", "size": "0", "price": "500", "currency": "RUB"}
    assert chat.order_id is None and chat.last_message_at == datetime(2023, 10, 23, 7, 19, 37, tzinfo=UTC)

    assert first.cursor == "1698045576001" and second.cursor == "1698045577001"
    # the event without `message` is skipped but the cursor moved past it
    assert [m.external_id for m in first.messages] == ["ev-1", "ev-2"]
    buyer, seller = first.messages
    assert (buyer.author, seller.author, second.messages[0].author) == ("buyer", "seller", "marketplace")
    assert buyer.created_at == datetime(2023, 10, 23, 5, 2, 20, tzinfo=UTC)
    assert buyer.text == "Здравствуйте! Вопрос по товару"
    assert [a.name for a in buyer.attachments] == ["Чек.pdf", "image-1.jpg"]
    pdf, image = buyer.attachments
    assert (pdf.size, pdf.content_type, pdf.download_id, pdf.url) == (
        1046143, "application/pdf", "dl-1", "https://basket/x.pdf")
    assert (image.download_id, image.content_type) == ("dl-2", "image/jpeg")
    page_chat = first.chats[0]
    assert page_chat.reply_token == SIGN and page_chat.version == "1698045576000"


@respx.mock
async def test_idle_poll_is_exactly_one_events_request() -> None:
    chats = respx.get(CHATS).respond(json=CHAT_LIST)
    events = respx.get(EVENTS).respond(json=EMPTY)
    pages = await collect(make(), "chats", "1698045577001", {CHAT_A: KnownChat(CHAT_A, None, None)})
    assert pages == []
    assert events.call_count == 1 and chats.call_count == 0
    assert events.calls[0].request.url.params["next"] == "1698045577001"


@respx.mock
async def test_chat_list_requested_only_for_an_unknown_chat_without_reply_sign() -> None:
    unknown = {"chatID": CHAT_B, "eventID": "ev-9", "message": {"text": "Привет"}, "sender": "client",
               "addTimestamp": 1698045578000, "clientName": "Иван"}
    listed = {"result": [{"chatID": CHAT_B, "replySign": "sign-b", "clientName": "Иван"}], "errors": None}
    chats = respx.get(CHATS).respond(json=listed)
    respx.get(EVENTS).side_effect = [
        httpx.Response(200, json=events_body([unknown], 1698045578001)),
        httpx.Response(200, json=EMPTY),
    ]
    pages = await collect(make(), "chats", "1698045577001", {CHAT_A: KnownChat(CHAT_A, None, None)})
    assert chats.call_count == 1
    assert pages[0].chats[0].reply_token == "sign-b"

    # a known chat, or a new chat introduced by its own isNewChat event, needs no chat list
    chats.reset()
    new_chat = {**unknown, "chatID": "1:new", "eventID": "ev-10", "isNewChat": True, "replySign": "sign-new"}
    known_chat = {**unknown, "chatID": CHAT_A, "eventID": "ev-11"}
    respx.get(EVENTS).side_effect = [
        httpx.Response(200, json=events_body([new_chat, known_chat], 1698045579001)),
        httpx.Response(200, json=EMPTY),
    ]
    pages = await collect(make(), "chats", "1698045577001", {CHAT_A: KnownChat(CHAT_A, None, None)})
    assert chats.call_count == 0
    assert {c.external_id: c.reply_token for c in pages[0].chats} == {"1:new": "sign-new", CHAT_A: None}


@respx.mock
async def test_null_next_keeps_cursor_and_duplicates_within_a_poll_are_dropped() -> None:
    event = {"chatID": CHAT_A, "eventID": "ev-1", "message": {"text": "x"}, "sender": "client",
             "addTimestamp": 1698045578000}
    respx.get(EVENTS).side_effect = [
        httpx.Response(200, json=events_body([event], 1698045578001)),
        httpx.Response(200, json=events_body([event], None)),
    ]
    pages = await collect(make(), "chats", "5", {CHAT_A: KnownChat(CHAT_A, None, None)})
    assert [p.cursor for p in pages] == ["1698045578001", None]
    assert [len(p.messages) for p in pages] == [1, 0]


@respx.mock
async def test_base_url_replaces_both_hosts_and_bearer_scheme() -> None:
    route = respx.get("http://127.0.0.1:9/wb/api/v1/seller/chats").respond(json=CHAT_LIST)
    q = respx.get("http://127.0.0.1:9/wb/api/v1/questions").respond(
        json={"data": {"questions": []}, "error": False, "errorText": "", "additionalErrors": None})
    conn = make({"auth_scheme": "bearer"}, base_url="http://127.0.0.1:9/wb/")
    assert await conn.test() == "1 chats"
    assert route.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert conn.secret_headers() == {"Authorization": f"Bearer {TOKEN}"}
    await collect(conn, "questions", None)
    assert q.call_count == 2


# ---------------------------------------------------------------------- errors


@respx.mock
async def test_401_is_auth_error_without_the_token() -> None:
    respx.get(EVENTS).respond(401, json={"title": "unauthorized", "detail": f"token {TOKEN} is malformed",
                                         "status": 401}, headers={"content-type": "application/problem+json"})
    with pytest.raises(AuthError) as err:
        await collect(make(), "chats", "5")
    assert TOKEN not in err.value.message and "Чат с покупателями" in err.value.message
    assert err.value.status == 401


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Ratelimit-Retry": "7", "Retry-After": "3"}, 7.0),
        ({"Retry-After": "3"}, 3.0),
        ({"X-Ratelimit-Reset": "4"}, 4.0),
        ({}, 10.0),
    ],
)
@respx.mock
async def test_429_uses_wb_headers_and_blocks_the_budget(headers: dict[str, str], expected: float) -> None:
    respx.get(EVENTS).respond(429, json={"title": "too many requests", "status": 429}, headers=headers)
    conn = make()
    blocked: list[tuple[str, float]] = []
    conn.limiter.block = lambda key, seconds: blocked.append((key, seconds))  # type: ignore[method-assign]
    with pytest.raises(RateLimited) as err:
        await collect(conn, "chats", "5")
    assert err.value.retry_after == expected and err.value.reached_server is False
    assert blocked == [("wb.events", expected)]


@respx.mock
async def test_server_errors_malformed_json_and_transport_errors_are_transient() -> None:
    route = respx.get(EVENTS)
    route.respond(502, text="bad gateway")
    with pytest.raises(TransientError) as err:
        await collect(make(), "chats", "5")
    assert err.value.reached_server and err.value.status == 502

    route.respond(200, content=b'{"result": {"next": 1, "totalEv')
    with pytest.raises(TransientError, match="malformed"):
        await collect(make(), "chats", "5")

    route.side_effect = httpx.ConnectError("refused")
    with pytest.raises(TransientError) as err:
        await collect(make(), "chats", "5")
    assert err.value.reached_server is False and not isinstance(err.value, RateLimited)

    route.side_effect = httpx.ReadTimeout("slow")
    with pytest.raises(TransientError) as err:
        await collect(make(), "chats", "5")
    assert err.value.reached_server is True


@respx.mock
async def test_events_400_is_rejected_with_wb_detail() -> None:
    respx.get(EVENTS).respond(400, json={"status": 400, "title": "Bad Request", "detail": 'Invalid value for "next"'})
    with pytest.raises(Rejected, match='Invalid value for "next"'):
        await collect(make(), "chats", "5")


# ---------------------------------------------------------------------- send


def multipart_fields(request: httpx.Request) -> dict[str, list[bytes]]:
    from email import policy
    from email.parser import BytesParser

    msg = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.content
    )
    out: dict[str, list[bytes]] = {}
    for part in msg.iter_parts():
        out.setdefault(part.get_param("name", header="content-disposition"), []).append(
            part.get_payload(decode=True))
    return out


@respx.mock
async def test_send_posts_multipart_with_reply_sign_text_and_files() -> None:
    route = respx.post(MESSAGE).respond(json={"result": {"addTime": 1, "chatID": CHAT_A, "sign": SIGN},
                                              "errors": []})
    photo = OutgoingFile("photo.jpg", b"\xff\xd8jpeg", "image/jpeg")
    await make().send(ChatRef(CHAT_A, reply_token=SIGN), "Здравствуйте!", (photo,))
    request = route.calls[0].request
    assert request.headers["content-type"].startswith("multipart/form-data")
    fields = multipart_fields(request)
    assert fields["replySign"] == [SIGN.encode()]
    assert fields["message"] == ["Здравствуйте!".encode()]
    assert fields["file"] == [b"\xff\xd8jpeg"]

    await make().send(ChatRef(CHAT_A, reply_token=SIGN), "only text")
    assert route.calls[1].request.headers["content-type"].startswith("multipart/form-data")


@pytest.mark.parametrize(
    ("chat", "text", "files", "reason"),
    [
        (ChatRef(CHAT_A, reply_token=SIGN), "я" * 1001, (), "1001 characters"),
        (ChatRef(CHAT_A, reply_token=None), "hi", (), "no reply signature yet; sync first"),
        (ChatRef(CHAT_A, reply_token=SIGN), "hi", (OutgoingFile("v.mp4", b"x", "video/mp4"),), "JPEG, PNG and PDF"),
        (ChatRef(CHAT_A, reply_token=SIGN), "hi", (OutgoingFile("a.pdf", b"x" * (5 * 2**20 + 1),
                                                                 "application/pdf"),), "5 MB"),
        (ChatRef(CHAT_A, reply_token=SIGN), "hi",
         tuple(OutgoingFile(f"{i}.pdf", b"x" * (5 * 2**20), "application/pdf") for i in range(7)), "30 MB"),
        (ChatRef(CHAT_A, reply_token=SIGN), "  ", (), "empty"),
        (ChatRef("q:abc", kind="question"), "я" * 5001, (), "5001 characters"),
    ],
)
async def test_send_refuses_before_any_request(chat: ChatRef, text: str, files: tuple, reason: str) -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        with pytest.raises(Rejected, match=reason):
            await make().send(chat, text, files)
    assert route.call_count == 0


@respx.mock
async def test_send_4xx_is_rejected_with_wb_detail_and_errors_list_is_a_refusal() -> None:
    route = respx.post(MESSAGE)
    route.respond(400, json={"status": 400, "title": "Bad Request", "detail": "Invalid signature"},
                  headers={"content-type": "application/problem+json"})
    # The chat list still gives the same sign: the refusal stands (one re-read, no loop).
    listed = respx.get(CHATS).respond(json={"result": [{"chatID": CHAT_A, "replySign": SIGN}], "errors": None})
    with pytest.raises(Rejected, match="Invalid signature"):
        await make().send(ChatRef(CHAT_A, reply_token=SIGN), "hi")
    assert listed.call_count == 1 and route.call_count == 1
    route.respond(200, json={"result": {"chatID": CHAT_A}, "errors": ["file upload failed"]})
    with pytest.raises(Rejected, match="file upload failed"):
        await make().send(ChatRef(CHAT_A, reply_token=SIGN), "hi")
    route.respond(503)
    with pytest.raises(TransientError):
        await make().send(ChatRef(CHAT_A, reply_token=SIGN), "hi")


@respx.mock
async def test_answer_question_patches_and_explains_the_edit_limit() -> None:
    route = respx.patch(QUESTIONS).respond(json={"data": None, "error": False, "errorText": "",
                                                 "additionalErrors": None})
    await make().send(ChatRef("q:n5um6IUBQOOSTxXoo0gV", kind="question"), "Спасибо за вопрос!")
    assert json.loads(route.calls[0].request.content) == {
        "id": "n5um6IUBQOOSTxXoo0gV", "answer": {"text": "Спасибо за вопрос!"}, "state": "wbRu"}
    route.respond(422, json={"data": None, "error": True, "errorText": "Не удалось отредактировать вопрос"})
    with pytest.raises(Rejected) as err:
        await make().send(ChatRef("q:n5um6IUBQOOSTxXoo0gV", kind="question"), "Новый ответ")
    assert "Не удалось отредактировать вопрос" in err.value.message and "60 days" in err.value.message
    route.respond(200, json={"data": None, "error": True, "errorText": "Текст слишком короткий"})
    with pytest.raises(Rejected, match="Текст слишком короткий"):
        await make().send(ChatRef("q:n5um6IUBQOOSTxXoo0gV", kind="question"), "Ок")


# ---------------------------------------------------------------------- download


@respx.mock
async def test_download_200_202_451() -> None:
    route = respx.get(f"{CHAT_HOST}/api/v1/seller/download/dl-1")
    att = Attachment("Чек.pdf", download_id="dl-1")
    route.respond(200, content=b"%PDF-1.4", headers={"content-type": "application/pdf"})
    got = await make().download(ChatRef(CHAT_A), att)
    assert (got.content, got.content_type, got.retry_after) == (b"%PDF-1.4", "application/pdf", None)
    route.respond(202, json={"moderationState": "pending", "retrySeconds": 45})
    got = await make().download(ChatRef(CHAT_A), att)
    assert got.content is None and got.retry_after == 45
    route.respond(451, json={"status": 451, "title": "Unavailable for Legal Reasons", "detail": "moderation error"})
    with pytest.raises(Rejected, match="rejected by WB moderation"):
        await make().download(ChatRef(CHAT_A), att)
    route.respond(400, json={"status": 400, "title": "invalid fileID", "detail": "invalid fileID"})
    with pytest.raises(Rejected, match="invalid fileID"):
        await make().download(ChatRef(CHAT_A), att)


# ---------------------------------------------------------------------- questions


def question(qid: str, created: str, answer: dict | None = None) -> dict:
    return {"id": qid, "text": f"Вопрос {qid}", "createdDate": created, "state": "wbRu" if answer else "none",
            "answer": answer, "productDetails": {"nmId": 14917842, "productName": "Кофе", "brandName": "Nescafe"},
            "wasViewed": False, "isWarned": False, "futureField": 1}


def q_body(questions: list[dict]) -> dict:
    return {"data": {"countUnanswered": 1, "countArchive": 1, "questions": questions},
            "error": False, "errorText": "", "additionalErrors": None}


@respx.mock
async def test_questions_poll_maps_both_lists_and_builds_a_cursor() -> None:
    open_q = question("open1", "2026-07-01T11:18:08.769513469Z")
    done_q = question("done1", "2026-07-02T10:00:00Z",
                      {"text": "Ответ", "editable": True, "createDate": "2026-07-02T12:00:00.5Z"})
    route = respx.get(QUESTIONS)
    route.side_effect = lambda request: httpx.Response(
        200, json=q_body([open_q] if request.url.params["isAnswered"] == "false" else [done_q]))
    conn = make()
    conn.clock = lambda: datetime(2026, 7, 10, tzinfo=UTC)  # type: ignore[method-assign]
    (page,) = await collect(conn, "questions", None)

    unanswered, answered = (c.request.url.params for c in route.calls)
    assert unanswered["isAnswered"] == "false" and "dateFrom" not in unanswered
    assert (unanswered["take"], unanswered["skip"]) == ("100", "0")
    assert answered["isAnswered"] == "true"
    assert int(answered["dateFrom"]) == int((datetime(2026, 7, 10, tzinfo=UTC) - timedelta(days=30)).timestamp())

    chats = {c.external_id: c for c in page.chats}
    assert chats["q:open1"].status == "unanswered" and chats["q:done1"].status == "answered"
    assert chats["q:open1"].kind == "question" and chats["q:open1"].product_id == "14917842"
    assert [(m.external_id, m.author) for m in page.messages] == [
        ("open1:q", "buyer"), ("done1:q", "buyer"), ("done1:a", "seller")]
    assert page.messages[0].created_at == datetime(2026, 7, 1, 11, 18, 8, 769513, tzinfo=UTC)
    assert page.messages[2].created_at == datetime(2026, 7, 2, 12, 0, 0, 500000, tzinfo=UTC)
    newest = int(datetime(2026, 7, 2, 10, tzinfo=UTC).timestamp())
    assert json.loads(page.cursor) == {"from": newest - 300}

    # idle: both lists again, nothing changed, same cursor -> no page at all
    known = {c.external_id: KnownChat(c.external_id, None, None, c.status) for c in page.chats}
    route.reset()
    assert await collect(conn, "questions", page.cursor, known) == []
    assert route.call_count == 2
    assert route.calls[1].request.url.params["dateFrom"] == str(newest - 300)


@respx.mock
async def test_questions_answered_on_portal_are_fetched_by_id() -> None:
    respx.get(QUESTIONS).respond(json=q_body([]))
    one = respx.get(f"{QUESTIONS_HOST}/api/v1/question").respond(json={
        "data": question("old1", "2026-01-01T00:00:00Z", {"text": "Ответили на портале",
                                                          "createDate": "2026-07-05T00:00:00Z"}),
        "error": False, "errorText": "", "additionalErrors": None})
    known = {"q:old1": KnownChat("q:old1", None, None, "unanswered"), CHAT_A: KnownChat(CHAT_A, None, None)}
    (page,) = await collect(make(), "questions", json.dumps({"from": 1751000000}), known)
    assert one.calls[0].request.url.params["id"] == "old1"
    assert page.chats[0].status == "answered"
    assert [m.external_id for m in page.messages] == ["old1:q", "old1:a"]


@pytest.mark.parametrize("status", [401, 403])
@respx.mock
async def test_questions_without_category_is_stream_unavailable(status: int) -> None:
    respx.get(QUESTIONS).respond(status, json={"title": "unauthorized", "detail": "scope", "status": status})
    with pytest.raises(StreamUnavailable, match="Вопросы и отзывы"):
        await collect(make(), "questions", None)


@respx.mock
async def test_test_reports_chat_count() -> None:
    respx.get(CHATS).respond(json={"result": [{"chatID": "1:a"}, {"chatID": "1:b"}], "errors": None})
    assert await make().test() == "2 chats"


def _jwt(exp: datetime) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"exp": int(exp.timestamp())}).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJFUzI1NiJ9.{payload}.c2ln"


def test_jwt_warning() -> None:
    now = datetime(2026, 7, 1, tzinfo=UTC)
    assert jwt_warning(_jwt(now + timedelta(days=90)), now) is None
    assert "expires on 2026-07-04" in (jwt_warning(_jwt(now + timedelta(days=3)), now) or "")
    assert "expired on 2026-06-30" in (jwt_warning(_jwt(now - timedelta(days=1)), now) or "")
    assert jwt_warning("not-a-jwt", now) is None


@respx.mock
async def test_a_rotated_reply_sign_is_re_read_and_the_send_retried_once() -> None:
    """Issue 11 §3: WB's new replySign format (2026-06-04) refuses a cached sign with 400
    "Invalid signature"; fresh signs come only from the chat list. Re-read, retry once, and
    hand the fresh sign to the next poll so the store keeps it."""
    new_sign = "2:" + "cd" * 60
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sign = next(p for p in request.content.split(b"\r\n\r\n")[1:2])
        seen.append(sign.split(b"\r\n")[0].decode())
        if seen[-1] != new_sign:
            return httpx.Response(400, json={"status": 400, "title": "Bad Request", "detail": "Invalid signature"})
        return httpx.Response(200, json={"result": {"chatID": CHAT_A}, "errors": []})

    respx.post(MESSAGE).mock(side_effect=answer)
    listed = respx.get(CHATS).respond(json={"result": [{"chatID": CHAT_A, "replySign": new_sign}], "errors": None})
    conn = make()
    await conn.send(ChatRef(CHAT_A, reply_token=SIGN), "Добрый день!")
    assert seen == [SIGN, new_sign] and listed.call_count == 1
    respx.get(EVENTS).respond(json=EMPTY)
    pages = [p async for p in conn.poll("chats", "1698045576000", {})]
    assert any(c.external_id == CHAT_A and c.reply_token == new_sign for p in pages for c in p.chats)
