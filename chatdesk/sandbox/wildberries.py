"""A simulated Wildberries account: buyer chats (buyer-chat-api) and product questions
(feedbacks-api), speaking the wire format of WB's ``09-communications`` spec.

State is an append-only event log (the only place chat messages live, as on WB), the chats
with their ``replySign``, the files behind ``downloadID``s, and the questions.

Events paging: ``result.next`` is the last returned event's ``addTimestamp`` + 1 ms and a
request returns the events with ``addTimestamp >= next``; timestamps are strictly
increasing, so a client that follows the spec (start without ``next``, send back
``result.next`` until ``totalEvents == 0``) gets every event exactly once. A ``duplicate``
fault makes the next events page start with the two events before ``next`` again, which a
client must dedupe by ``eventID``.

Seeded specials, for tests and the demo: events without ``message``, seller messages from
``seller-portal``, a WB (``sender: wb``) notice, one image answering 202 (moderation pending)
and one answering 451 (rejected by moderation), unanswered and answered questions.
"""

from __future__ import annotations

import bisect
import json
import random
import string
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from typing import Any

from chatdesk.connectors.base import utc_from_ms
from chatdesk.sandbox.core import (
    BAD_TOKEN,
    NO_QUESTIONS_TOKEN,
    Fault,
    MarketplaceSim,
    SimRequest,
    SimResponse,
    iso,
)
from chatdesk.sandbox.seed import NAMES, PRODUCTS, Conversation, SeedFile, new_buyer_line

PREFIX = "wb"
MIB = 1024 * 1024
ALLOWED_TYPES = {"image/jpeg", "image/png", "application/pdf"}
QUESTION_PATHS = ("/api/v1/question", "/api/v1/new-feedbacks-questions")
AUTHORS = {"client": "buyer", "seller": "seller", "wb": "marketplace"}
SENDERS = {v: k for k, v in AUTHORS.items()}

# (question, answer or None): product questions buyers ask on the product card.
QUESTIONS = [
    ("Какой состав ткани? Есть ли синтетика?", "Добрый день! 100% хлопок, без синтетики."),
    ("Подойдёт ли на рост 185 см?", None),
    ("Есть ли гарантия на товар?", "Здравствуйте! Гарантия 12 месяцев от производителя."),
    ("Когда будет поставка чёрного цвета?", None),
    ("Можно ли стирать при 40 градусах?", "Да, при 40 градусах в деликатном режиме, без отжима."),
    ("Есть ли чехол в комплекте?", None),
]
WB_NOTICE = "Покупатель оформил заявку на возврат. Решение по заявке нужно принять в течение 5 дней."
SELLER_PORTAL, PUBLIC_API = "seller-portal", "seller-public-api"
BUYER_SOURCES = ("rusite", "android", "ios")


def rate_limit_fault(path: str | None = None, seconds: int = 1, times: int = 1) -> Fault:
    """A WB 429 with the headers WB sends (``X-Ratelimit-Retry`` and ``Retry-After``)."""
    return Fault(
        kind="status",
        path=path,
        prefix=PREFIX,
        status=429,
        times=times,
        headers={
            "content-type": "application/problem+json",
            "X-Ratelimit-Retry": str(seconds),
            "Retry-After": str(seconds),
            "X-Ratelimit-Limit": "10",
            "X-Ratelimit-Remaining": "0",
            "X-Ratelimit-Reset": str(seconds),
        },
        body={
            "title": "too many requests",
            "detail": "limited by c122a060-a7fb-4bb4-abb0-32fd4e18d489",
            "code": "07e4668e-ac2242c5c8c5-[UK-4dx7JUdskGZ]",
            "requestId": "9d3c02cc698f8b041c661a7c28bed293",
            "origin": "s2s-api-auth-catalog",
            "status": 429,
            "statusText": "Too Many Requests",
            "timestamp": "2024-09-30T06:52:38Z",
        },
    )


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _wb_time(dt: datetime) -> str:
    """``addTime`` style: UTC, seconds, ``Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wb_nanos(dt: datetime) -> str:
    """feedbacks-api style: UTC with nine fractional digits, as WB's examples show."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def _fake_file(content_type: str, size: int) -> bytes:
    head = {
        "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        "image/png": b"\x89PNG\r\n\x1a\n",
        "application/pdf": b"%PDF-1.4\n",
    }.get(content_type, b"")
    return head + b"\x00" * max(0, size - len(head))


class WildberriesSim(MarketplaceSim):
    marketplace = "wildberries"
    prefix = PREFIX

    def __init__(self, rng: random.Random, now: Callable[[], datetime], page_size: int | None = None) -> None:
        super().__init__(rng, now)
        self.page_size = page_size or 50
        self.chats: dict[str, dict[str, Any]] = {}  # chatID -> {chatID, replySign, clientName, goodCard}
        self.chat_created: dict[str, int] = {}  # chatID -> ms of its first event
        self.events: list[dict[str, Any]] = []  # append-only, addTimestamp strictly increasing
        self._stamps: list[int] = []  # addTimestamp of each event, for bisect
        self.files: dict[str, tuple[str, bytes]] = {}  # downloadID -> (contentType, content)
        self.pending_download_ids: set[str] = set()  # answer 202 (moderation pending)
        self.rejected_download_ids: set[str] = set()  # answer 451 (failed moderation)
        self.questions: list[dict[str, Any]] = []
        self.stamp_forms: dict[str, str] = {}  # eventID -> how its addTimestamp is served (quirk)
        self.stripped: set[str] = set()  # eventIDs served without their optional fields (quirk)
        self.next_form: str | None = None  # the next event's timestamp form (quirk)
        self.strip_next = False  # the next event goes without optional fields (quirk)
        self.cursor_quirk: tuple[str, int] | None = None  # ("backward"|"stall", answers left)

    # ------------------------------------------------------------------ ids

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def _new_chat(self, customer: str, product: Any) -> str:
        chat_id = f"1:{self._uuid()}"
        self.chats[chat_id] = {
            "chatID": chat_id,
            "replySign": f"{chat_id}:{self.rng.randint(10_000_000, 99_999_999)}:{self._hex(128)}",
            "clientName": customer,
            "goodCard": {
                "nmID": product.article,
                "price": product.price,
                "priceCurrency": "RUB",
                "rid": self._hex(32),
                "size": product.size,
            },
        }
        return chat_id

    def _file_entry(self, f: SeedFile, at: datetime) -> dict[str, Any]:
        download_id = self._uuid()
        ext = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(f.content_type, "bin")
        self.files[download_id] = (f.content_type, _fake_file(f.content_type, f.size))
        return {
            "contentType": f.content_type,
            "date": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "downloadID": download_id,
            "name": f.name,
            "url": f"https://chat-basket-01.wbbasket.ru/vol0/part{self.rng.randint(1000, 9999)}/"
            f"{self._uuid()}/{ext}/{download_id}.{ext}",
            "size": f.size,
        }

    def _image_entry(self, at: datetime) -> dict[str, Any]:
        download_id = self._uuid()
        self.files[download_id] = ("image/jpeg", _fake_file("image/jpeg", 2048))
        return {
            "date": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "downloadID": download_id,
            "url": f"https://chat-basket-01.wbbasket.ru/vol0/part{self.rng.randint(1000, 9999)}/"
            f"{self._uuid()}/jpg/{download_id}.jpg",
        }

    # ------------------------------------------------------------------ event log

    def _append(
        self,
        chat_id: str,
        sender: str,
        at: datetime,
        *,
        text: str | None = None,
        source: str | None = None,
        files: list[dict[str, Any]] | None = None,
        images: list[dict[str, Any]] | None = None,
        with_message: bool = True,
    ) -> dict[str, Any]:
        stamp = max(_ms(at), (self._stamps[-1] + 1) if self._stamps else 0)
        chat = self.chats[chat_id]
        first = chat_id not in self.chat_created
        event: dict[str, Any] = {
            "chatID": chat_id,
            "eventID": self._uuid(),
            "eventType": "message",
            "isNewChat": first,
        }
        if with_message:
            message: dict[str, Any] = {}
            attachments: dict[str, Any] = {}
            if first:
                attachments["goodCard"] = dict(chat["goodCard"])
            if files:
                attachments["files"] = files
            if images:
                attachments["images"] = images
            if attachments:
                message["attachments"] = attachments
            message["text"] = text or ""
            event["message"] = message
        if source:
            event["source"] = source
        event["addTimestamp"] = stamp
        event["addTime"] = _wb_time(utc_from_ms(stamp))
        event["sender"] = sender
        if first:
            event["replySign"] = chat["replySign"]
            self.chat_created[chat_id] = stamp
        if sender == "client" or first:
            event["clientName"] = chat["clientName"]
        if self.next_form:
            self.stamp_forms[event["eventID"]] = self.next_form
            self.next_form = None
        if self.strip_next:
            self.stripped.add(event["eventID"])
            self.strip_next = False
        self.events.append(event)
        self._stamps.append(stamp)
        return event

    # ------------------------------------------------------------------ quirks

    def quirk(self, name: str, params: dict[str, Any]) -> list[Fault]:
        """``timestamp`` (``form``: ``us``, ``s``, ``float``, ``garbage``: the next event's
        addTimestamp), ``missing_optional`` (the next event without addTime, source,
        clientName, isNewChat, eventType), ``cursor`` (``mode``: ``backward``/``stall``,
        ``times``: events answers whose ``next`` goes back or stays), ``sign_rotation`` (every
        chat gets a new-format replySign; old ones are refused), ``retry_hint`` (``value``:
        the next 429's X-Ratelimit-Retry, e.g. 1e12, inf, -5, NaN)."""
        if name == "timestamp":
            self.next_form = str(params.get("form") or "us")
            return []
        if name == "missing_optional":
            self.strip_next = True
            return []
        if name == "cursor":
            self.cursor_quirk = (str(params.get("mode") or "backward"), int(params.get("times") or 50))
            return []
        if name == "sign_rotation":
            for chat in self.chats.values():
                chat["replySign"] = f"2:{chat['chatID']}:{self._hex(96)}"
            return []
        if name == "retry_hint":
            fault = rate_limit_fault(params.get("path"), 1, int(params.get("times") or 1))
            fault.headers["X-Ratelimit-Retry"] = str(params.get("value", "1e12"))
            fault.headers["Retry-After"] = str(params.get("value", "1e12"))
            return [fault]
        raise KeyError(name)

    def _wire(self, event: dict[str, Any]) -> dict[str, Any]:
        """An event as served, with its quirks applied."""
        eid = event["eventID"]
        if eid not in self.stamp_forms and eid not in self.stripped:
            return event
        wire = dict(event)
        stamp = event["addTimestamp"]
        form = self.stamp_forms.get(eid)
        if form == "us":
            wire["addTimestamp"] = stamp * 1000
        elif form == "s":
            wire["addTimestamp"] = stamp // 1000
        elif form == "float":
            wire["addTimestamp"] = float(stamp)
        elif form == "garbage":
            wire["addTimestamp"] = "soon"
        if eid in self.stripped:
            for key in ("addTime", "source", "clientName", "isNewChat", "eventType"):
                wire.pop(key, None)
        return wire

    # ------------------------------------------------------------------ seed and actors

    def seed(self, conversations: list[Conversation]) -> None:
        planned: list[tuple[datetime, int, str, dict[str, Any]]] = []  # (at, order, chatID, kwargs)
        order = 0
        for i, conv in enumerate(conversations):
            chat_id = self._new_chat(conv.customer, conv.product)
            seller_source = SELLER_PORTAL if i % 2 else PUBLIC_API
            for j, msg in enumerate(conv.messages):
                kwargs: dict[str, Any] = {"text": msg.text, "sender": SENDERS[msg.author]}
                if msg.author == "buyer":
                    kwargs["source"] = BUYER_SOURCES[i % len(BUYER_SOURCES)]
                elif msg.author == "seller":
                    kwargs["source"] = seller_source
                if msg.files:
                    kwargs["files"] = [self._file_entry(f, msg.at) for f in msg.files]
                if j == 0 and i in (0, 1, 3):
                    image = self._image_entry(msg.at)
                    kwargs["images"] = [image]
                    if i == 1:
                        self.pending_download_ids.add(image["downloadID"])
                    elif i == 3:
                        self.rejected_download_ids.add(image["downloadID"])
                planned.append((msg.at, order, chat_id, kwargs))
                order += 1
            last = conv.messages[-1].at
            if i % 4 == 3:  # a non-message event, as in WB's own example
                planned.append((last + timedelta(minutes=1), order, chat_id,
                                {"sender": "seller", "source": SELLER_PORTAL, "with_message": False}))
                order += 1
            if i == 2:
                planned.append((last + timedelta(minutes=2), order, chat_id, {"sender": "wb", "text": WB_NOTICE}))
                order += 1
        for at, _, chat_id, kwargs in sorted(planned, key=lambda p: (p[0], p[1])):
            sender = kwargs.pop("sender")
            self._append(chat_id, sender, at, **kwargs)
        self._seed_questions()

    def _seed_questions(self) -> None:
        now = self.now()
        alphabet = string.ascii_letters + string.digits
        for n, (text, answer) in enumerate(QUESTIONS):
            product = PRODUCTS[(n * 3) % len(PRODUCTS)]
            created = now - timedelta(days=10 - n, minutes=self.rng.randint(0, 600))
            question: dict[str, Any] = {
                "id": "".join(self.rng.choice(alphabet) for _ in range(20)),
                "text": text,
                "created": created,
                "answer": None,
                "state": "suppliersPortalSynch",
                "edited": False,
                "wasViewed": answer is not None,
                "product": product,
            }
            if answer:
                question["answer"] = {"text": answer, "created": created + timedelta(hours=3), "editable": True}
                question["state"] = "wbRu"
            self.questions.append(question)

    def buyer_writes(self, chat_external_id: str | None = None, text: str | None = None) -> str:
        text = text or new_buyer_line(self.rng)
        if chat_external_id is None:
            chat_external_id = self._new_chat(self.rng.choice(NAMES), self.rng.choice(PRODUCTS))
        elif chat_external_id not in self.chats:
            raise KeyError(f"no WB chat {chat_external_id}")
        self._append(chat_external_id, "client", self.now(), text=text, source=self.rng.choice(BUYER_SOURCES))
        return chat_external_id

    def seller_portal_writes(self, chat_external_id: str, text: str) -> None:
        if chat_external_id not in self.chats:
            raise KeyError(f"no WB chat {chat_external_id}")
        self._append(chat_external_id, "seller", self.now(), text=text, source=SELLER_PORTAL)

    # ------------------------------------------------------------------ truth

    def truth(self) -> dict[str, Any]:
        chats: list[dict[str, Any]] = []
        messages: dict[str, list[dict[str, Any]]] = {}
        for chat_id, chat in self.chats.items():
            chats.append({
                "external_id": chat_id,
                "kind": "chat",
                "customer": chat["clientName"],
                "order_id": None,
                "product_id": str(chat["goodCard"]["nmID"]),
                "status": None,
            })
            messages[chat_id] = []
        for event in self.events:
            message = event.get("message")
            if message is None:
                continue
            attachments = message.get("attachments") or {}
            names = [f["name"] for f in attachments.get("files", [])]
            names += [f"image-{n}.jpg" for n in range(1, len(attachments.get("images", [])) + 1)]
            messages[event["chatID"]].append({
                "external_id": event["eventID"],
                "author": AUTHORS[event["sender"]],
                "text": message.get("text") or "",
                "created_at": iso(utc_from_ms(event["addTimestamp"])),
                "attachments": names,
            })
        for q in self.questions:
            ext = f"q:{q['id']}"
            chats.append({
                "external_id": ext,
                "kind": "question",
                "customer": None,
                "order_id": None,
                "product_id": str(q["product"].article),
                "status": "answered" if q["answer"] else "unanswered",
            })
            thread = [{"external_id": f"{q['id']}:q", "author": "buyer", "text": q["text"],
                       "created_at": iso(q["created"]), "attachments": []}]
            if q["answer"]:
                thread.append({"external_id": f"{q['id']}:a", "author": "seller", "text": q["answer"]["text"],
                               "created_at": iso(q["answer"]["created"]), "attachments": []})
            messages[ext] = thread
        return {"chats": chats, "messages": messages}

    # ------------------------------------------------------------------ http

    def check_auth(self, req: SimRequest) -> SimResponse | None:
        token = req.headers.get("authorization", "").strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if not token or token == BAD_TOKEN:
            return self._unauthorized("token problem; token is malformed: could not base64 decode signature")
        if token == NO_QUESTIONS_TOKEN and req.path.startswith(QUESTION_PATHS):
            return self._unauthorized("token scope not allowed: the token has no questionsandfeedback category")
        return None

    def _unauthorized(self, detail: str) -> SimResponse:
        body = {
            "title": "unauthorized",
            "detail": detail,
            "code": "07e4668e--a53a3d31f8b0-[UK-oWaVDUqNrKG]",
            "requestId": self._hex(32),
            "origin": "s2s-api-auth-catalog",
            "status": 401,
            "statusText": "Unauthorized",
            "timestamp": _wb_time(self.now()),
        }
        return SimResponse.json(body, 401, {"content-type": "application/problem+json"})

    def _bad_request(self, detail: str, *, title: str = "Bad Request", problem: bool = False) -> SimResponse:
        body = {"status": 400, "title": title, "origin": "proxy-chats", "detail": detail,
                "requestId": self._hex(32), "error": detail}
        headers = {"content-type": "application/problem+json"} if problem else None
        return SimResponse.json(body, 400, headers)

    def _feedback_error(self, status: int, text: str) -> SimResponse:
        body = {"data": None, "error": True, "errorText": text, "additionalErrors": None,
                "requestId": self._uuid()}
        return SimResponse.json(body, status)

    def handle(self, req: SimRequest) -> SimResponse:
        route = (req.method, req.path)
        if route == ("GET", "/api/v1/seller/chats"):
            return self._chat_list()
        if route == ("GET", "/api/v1/seller/events"):
            return self._events(req)
        if route == ("POST", "/api/v1/seller/message"):
            return self._send(req)
        if req.method == "GET" and req.path.startswith("/api/v1/seller/download/"):
            return self._download(req.path.rsplit("/", 1)[1])
        if route == ("GET", "/api/v1/questions"):
            return self._question_list(req)
        if route == ("PATCH", "/api/v1/questions"):
            return self._patch_question(req)
        if route == ("GET", "/api/v1/question"):
            return self._one_question(req)
        return SimResponse.json({"title": "not found", "detail": f"{req.method} {req.path}", "status": 404}, 404)

    # -- chats

    def _chat_list(self) -> SimResponse:
        last: dict[str, dict[str, Any]] = {}
        for event in self.events:
            if "message" in event:
                last[event["chatID"]] = {"text": event["message"].get("text") or "",
                                         "addTimestamp": event["addTimestamp"]}
        result = []
        for chat_id, chat in self.chats.items():
            item = dict(chat)
            if chat_id in last:
                item["lastMessage"] = last[chat_id]
            result.append(item)
        result.sort(key=lambda c: c.get("lastMessage", {}).get("addTimestamp", 0), reverse=True)
        return SimResponse.json({"result": result, "errors": None})

    def _events(self, req: SimRequest) -> SimResponse:
        raw = req.param("next")
        start = 0
        if raw is not None:
            try:
                after = int(raw)
            except ValueError:
                return self._bad_request("Invalid number")
            if after <= 0:
                return self._bad_request('Invalid value for "next"')
            start = bisect.bisect_left(self._stamps, after)
        page = self.events[start : start + self.page_size]
        if self.duplicate_next > 0 and start > 0:
            page = self.events[max(0, start - 2) : start] + page
            self.duplicate_next -= 1
        result: dict[str, Any] = {"totalEvents": len(page), "events": [self._wire(e) for e in page]}
        if page:
            result["next"] = page[-1]["addTimestamp"] + 1
            if self.cursor_quirk is not None and raw is not None:
                mode, left = self.cursor_quirk
                result["next"] = int(raw) - 1000 if mode == "backward" else int(raw)
                self.cursor_quirk = (mode, left - 1) if left > 1 else None
            result["oldestEventTime"] = page[0]["addTime"]
            result["newestEventTime"] = page[-1]["addTime"]
        else:
            result["next"] = int(raw) if raw is not None else _ms(self.now())
        return SimResponse.json({"result": result, "errors": None})

    def _send(self, req: SimRequest) -> SimResponse:
        if not req.content_type.lower().startswith("multipart/form-data"):
            return self._bad_request('Invalid value for "message"', problem=True)
        parsed = BytesParser(policy=policy.HTTP).parsebytes(
            b"Content-Type: " + req.content_type.encode() + b"\r\n\r\n" + req.body
        )
        fields: dict[str, str] = {}
        uploads: list[tuple[str, str, bytes]] = []
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if name == "file" and filename is not None:
                uploads.append((filename, part.get_content_type(), payload))
            elif isinstance(name, str):
                fields[name] = payload.decode("utf-8", errors="replace")
        sign = fields.get("replySign", "")
        chat = next((c for c in self.chats.values() if c["replySign"] == sign), None)
        if not sign or len(sign) > 255 or chat is None:
            return self._bad_request("Invalid signature", problem=True)
        text = fields.get("message", "")
        if len(text) > 1000 or (not text.strip() and not uploads):
            return self._bad_request('Invalid value for "message"', problem=True)
        code = self._hex(11).upper()
        total = 0
        for filename, content_type, content in uploads:
            if content_type not in ALLOWED_TYPES:
                return self._bad_request(f'{code}: "{filename}" has unsupported mime type', problem=True)
            if len(content) > 5 * MIB:
                return self._bad_request(f"{code}: attachment too big. Max size: 5MiB", problem=True)
            total += len(content)
        if total > 30 * MIB:
            return self._bad_request(f"{code}: attachments too big. Max total size: 30MiB", problem=True)
        now = self.now()
        files = []
        for filename, content_type, content in uploads:
            entry = self._file_entry(SeedFile(filename, content_type, len(content)), now)
            self.files[entry["downloadID"]] = (content_type, content)
            files.append(entry)
        self._append(chat["chatID"], "seller", now, text=text, source=PUBLIC_API, files=files or None)
        result = {"addTime": self.chat_created[chat["chatID"]], "chatID": chat["chatID"], "sign": sign}
        return SimResponse.json({"result": result, "errors": []})

    def _download(self, download_id: str) -> SimResponse:
        if download_id in self.pending_download_ids:
            return SimResponse.json({"moderationState": "pending", "retrySeconds": 30}, 202)
        if download_id in self.rejected_download_ids:
            body = {"status": 451, "title": "Unavailable for Legal Reasons", "origin": "proxy-chats",
                    "detail": "moderation error", "requestId": self._hex(32)}
            return SimResponse.json(body, 451, {"content-type": "application/problem+json"})
        if download_id not in self.files:
            return self._bad_request("invalid fileID", title="invalid fileID")
        content_type, content = self.files[download_id]
        return SimResponse(200, content, {"content-type": content_type})

    # -- questions

    def _question_wire(self, q: dict[str, Any]) -> dict[str, Any]:
        product = q["product"]
        answer = None
        if q["answer"]:
            answer = {"text": q["answer"]["text"], "editable": q["answer"]["editable"],
                      "createDate": _wb_nanos(q["answer"]["created"])}
        return {
            "id": q["id"],
            "text": q["text"],
            "createdDate": _wb_nanos(q["created"]),
            "state": q["state"],
            "answer": answer,
            "productDetails": {
                "nmId": product.article,
                "imtId": product.article // 10,
                "productName": product.title,
                "supplierArticle": f"ART-{product.article % 100000}",
                "supplierName": "ИП Продавцов",
                "brandName": "Домашний бренд",
            },
            "wasViewed": q["wasViewed"],
            "isWarned": False,
        }

    def _question_list(self, req: SimRequest) -> SimResponse:
        answered_raw = (req.param("isAnswered") or "").lower()
        if answered_raw not in ("true", "false"):
            return self._feedback_error(400, "Something went wrong")
        try:
            take = int(req.param("take") or "")
            skip = int(req.param("skip") or "")
            date_from = int(req.param("dateFrom")) if req.param("dateFrom") else None
            date_to = int(req.param("dateTo")) if req.param("dateTo") else None
            nm_id = int(req.param("nmId")) if req.param("nmId") else None
        except ValueError:
            return self._feedback_error(400, "Something went wrong")
        if take < 0 or skip < 0 or take + skip > 10_000:
            return self._feedback_error(400, "Something went wrong")
        answered = answered_raw == "true"
        chosen = [
            q for q in self.questions
            if bool(q["answer"]) == answered
            and (date_from is None or q["created"].timestamp() >= date_from)
            and (date_to is None or q["created"].timestamp() <= date_to)
            and (nm_id is None or q["product"].article == nm_id)
        ]
        chosen.sort(key=lambda q: q["created"], reverse=req.param("order") != "dateAsc")
        data = {
            "countUnanswered": sum(1 for q in self.questions if not q["answer"]),
            "countArchive": sum(1 for q in self.questions if q["answer"]),
            "questions": [self._question_wire(q) for q in chosen[skip : skip + take]],
        }
        return SimResponse.json({"data": data, "error": False, "errorText": "", "additionalErrors": None})

    def _one_question(self, req: SimRequest) -> SimResponse:
        q = next((q for q in self.questions if q["id"] == req.param("id")), None)
        if q is None:
            return self._feedback_error(422, "Невозможно получить вопрос по id")
        body = {"data": self._question_wire(q), "error": False, "errorText": "", "additionalErrors": None}
        return SimResponse.json(body)

    def _patch_question(self, req: SimRequest) -> SimResponse:
        try:
            body = req.json()
        except (ValueError, json.JSONDecodeError):
            return self._feedback_error(400, "Something went wrong")
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            return self._feedback_error(400, "Something went wrong")
        q = next((q for q in self.questions if q["id"] == body["id"]), None)
        if q is None:
            return self._feedback_error(404, "Не найден вопрос")
        if "answer" in body:
            answer, state = body.get("answer"), body.get("state")
            text = answer.get("text") if isinstance(answer, dict) else None
            if not isinstance(text, str) or not text.strip() or state not in ("wbRu", "none"):
                return self._feedback_error(400, "Something went wrong")
            if q["answer"]:
                if q["edited"] or not q["answer"]["editable"]:
                    return self._feedback_error(422, "Не удалось отредактировать вопрос")
                q["edited"] = True
                q["answer"] = {"text": text, "created": q["answer"]["created"], "editable": False}
            else:
                q["answer"] = {"text": text, "created": self.now(), "editable": True}
            q["state"] = state
            q["wasViewed"] = True
        elif isinstance(body.get("wasViewed"), bool):
            q["wasViewed"] = body["wasViewed"]
        else:
            return self._feedback_error(400, "Something went wrong")
        return SimResponse.json({"data": None, "error": False, "errorText": "", "additionalErrors": None})
