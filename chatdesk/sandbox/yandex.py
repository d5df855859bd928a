"""Simulated Yandex Market Partner API chats, mounted at ``/ym``.

Speaks the official wire format (``/v2/businesses/{businessId}/chats…``, ``Api-Key`` header,
``{"status":"OK","result":…}`` / ``{"status":"ERROR","errors":[…]}`` envelopes, HTTP 420
for rate limits). Any numeric ``businessId`` is accepted; the demo uses :data:`BUSINESS_ID`.

Deliberately awkward where the spec allows it, so the connector cannot lean on luck:

* chat ids and message ids cross 2^53 (a float would corrupt them);
* ``messageIdFrom`` is inclusive, so a client asking "from my last id" gets it again;
* chats are listed newest-``updatedAt`` first with opaque page tokens;
* a ``duplicate`` fault replays the previous page (or one older message).
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from chatdesk.sandbox.core import BAD_TOKEN, Fault, MarketplaceSim, SimRequest, SimResponse, iso
from chatdesk.sandbox.seed import Conversation, new_buyer_line

BUSINESS_ID = 12345678  # the business id the demo account uses
BIG_CHAT_ID = 2**53 + 1  # 9007199254740993: not representable as a float
FIRST_MESSAGE_ID = 2**53 - 4  # seeded message ids run across 2^53
LIST_MAX, LIST_DEFAULT = 20, 10
HISTORY_MAX, HISTORY_DEFAULT = 100, 50
MAX_TEXT = 4096
MAX_FILE = 5 * 1024 * 1024
MSK = timezone(timedelta(hours=3))  # YM writes times with the Moscow offset
SENDERS = {"buyer": "CUSTOMER", "seller": "PARTNER", "marketplace": "MARKET"}
AUTHORS = {"CUSTOMER": "buyer", "PARTNER": "seller", "MARKET": "marketplace", "SUPPORT": "marketplace"}
_PATH = re.compile(r"^/v2/businesses/(\d+)(/.*)$")


@dataclass
class _File:
    name: str
    content_type: str
    content: bytes


@dataclass
class _Message:
    id: int
    sender: str
    text: str | None
    at: datetime
    files: list[_File] = field(default_factory=list)


@dataclass
class _Chat:
    id: int
    context_type: str  # ORDER | RETURN | DIRECT
    customer: str
    status: str
    created_at: datetime
    updated_at: datetime
    order_id: int | None = None
    return_id: int | None = None
    messages: list[_Message] = field(default_factory=list)


def _time(dt: datetime) -> str:
    return dt.astimezone(MSK).isoformat(timespec="seconds")


def _envelope(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> SimResponse:
    body = {"status": "ERROR", "errors": [{"code": code, "message": message}]}
    return SimResponse.json(body, status, headers)


def _token(data: dict[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _untoken(token: str) -> dict[str, int] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _content(name: str, size: int) -> bytes:
    """Deterministic bytes of exactly ``size`` for a seeded attachment."""
    seed = f"sandbox file {name}\n".encode()
    return (seed * (size // len(seed) + 1))[:size]


def rate_limit_fault(path: str | None = None, seconds: int = 1) -> Fault:
    """A 420 "Enhance Your Calm" exactly as YM answers a spent method budget."""
    until = (datetime.now(MSK) + timedelta(seconds=seconds)).isoformat(timespec="seconds")
    return Fault(
        kind="status",
        path=path,
        prefix="ym",
        status=420,
        headers={"X-RateLimit-Resource-Until": until},
        body={"status": "ERROR", "errors": [{"code": "LIMIT_EXCEEDED", "message": "Too many requests"}]},
    )


def parallel_limit_fault(times: int = 1, limit: int = 3) -> Fault:
    """YM's cabinet-wide limit on simultaneous requests: 420 without X-RateLimit-Resource-*."""
    return Fault(
        kind="status",
        prefix="ym",
        status=420,
        times=times,
        headers={"content-type": "application/json"},
        body={
            "status": "ERROR",
            "errors": [{"code": "LIMIT_EXCEEDED", "message": f"Hit rate limit of {limit} parallel requests"}],
        },
    )


class YandexSim(MarketplaceSim):
    marketplace = "yandex"
    prefix = "ym"

    def __init__(self, rng: random.Random, now: Callable[[], datetime], page_size: int | None = None) -> None:
        super().__init__(rng, now)
        self.page_size = page_size
        self.chats: dict[int, _Chat] = {}
        self.replays = 0  # duplicate data actually served (tests check faults took effect)
        self._next_message = FIRST_MESSAGE_ID
        self.same_second = False  # the next buyer message keeps the chat's updatedAt (quirk)
        # The race itself (quirk same_second with a chat): (chat id, first text, second text).
        self._race: tuple[int, str, str] | None = None
        self._race_second: str | None = None  # armed after the listing: the text still to land

    # ------------------------------------------------------------------------- state

    def _stamp(self, chat: _Chat | None = None) -> datetime:
        """Now, to the second, strictly after the chat's last activity, so ``updatedAt``
        always moves when a message is added (even under a frozen test clock)."""
        at = self.now().replace(microsecond=0)
        if chat is not None and self.same_second:
            self.same_second = False  # written in the same second as the last message
            return chat.updated_at
        if chat is not None and at <= chat.updated_at:
            at = chat.updated_at + timedelta(seconds=1)
        return at

    def _add(self, chat: _Chat, sender: str, text: str | None, at: datetime, files: tuple[_File, ...] = ()) -> _Message:
        self._next_message += self.rng.randint(1, 3)
        message = _Message(self._next_message, sender, text, at, list(files))
        chat.messages.append(message)
        chat.updated_at = max(chat.updated_at, at)
        return message

    def seed(self, conversations: list[Conversation]) -> None:
        """ORDER chats by default, RETURN when the buyer asks about a return, every fourth
        DIRECT (no order); the first chat gets an id above 2^53 and one answered chat is
        FINISHED. Message ids follow global time order, as a real id sequence would."""
        pending: list[tuple[datetime, int, Any]] = []
        finished_done = False
        for i, conv in enumerate(conversations):
            first = conv.messages[0]
            if "возврат" in first.text.lower():
                kind = "RETURN"
            elif i % 4 == 3:
                kind = "DIRECT"
            else:
                kind = "ORDER"
            chat_id = BIG_CHAT_ID if i == 0 else self.rng.randint(10**9, 10**11)
            while chat_id in self.chats:
                chat_id += 1
            chat = _Chat(
                id=chat_id,
                context_type=kind,
                customer=conv.customer,
                status="WAITING_FOR_PARTNER",
                created_at=first.at.replace(microsecond=0),
                updated_at=first.at.replace(microsecond=0),
                order_id=int(conv.order_number.split("-")[0]) if kind != "DIRECT" else None,
                return_id=self.rng.randint(1_000_000, 9_999_999) if kind == "RETURN" else None,
            )
            self.chats[chat_id] = chat
            for m in conv.messages:
                pending.append((m.at, chat_id, m))
            last = conv.messages[-1].author
            if last == "seller" and not finished_done and i >= 2:
                chat.status, finished_done = "FINISHED", True
            elif last == "seller":
                chat.status = "WAITING_FOR_CUSTOMER"
        for at, chat_id, m in sorted(pending, key=lambda p: (p[0], p[1])):
            files = [_File(f.name, f.content_type, _content(f.name, f.size)) for f in m.files]
            self._add(self.chats[chat_id], SENDERS[m.author], m.text, at.replace(microsecond=0), tuple(files))

    def buyer_writes(self, chat_external_id: str | None = None, text: str | None = None) -> str:
        """A buyer writes; a new chat is a DIRECT one (only buyers start those). Writing to a
        finished chat reopens it, as a buyer's new question does on the portal."""
        line = text or new_buyer_line(self.rng)
        if chat_external_id is None:
            chat_id = self.rng.randint(10**9, 10**11)
            while chat_id in self.chats:
                chat_id += 1
            at = self._stamp()
            names = ["Вероника", "Глеб", "Полина", "Тимур"]
            chat = _Chat(chat_id, "DIRECT", self.rng.choice(names), "NEW", at, at)
            self.chats[chat_id] = chat
        else:
            chat = self.chats[int(chat_external_id)]
        self._add(chat, "CUSTOMER", line, self._stamp(chat))
        chat.status = "WAITING_FOR_PARTNER"
        return str(chat.id)

    def seller_portal_writes(self, chat_external_id: str, text: str) -> None:
        chat = self.chats[int(chat_external_id)]
        self._add(chat, "PARTNER", text, self._stamp(chat))
        chat.status = "WAITING_FOR_CUSTOMER"

    def quirk(self, name: str, params: dict[str, Any]) -> list[Fault]:
        """``same_second`` (the next buyer message lands in the same second as the chat's last
        one: updatedAt does not move; with ``chat`` the whole race is played out whatever the
        host's speed: the next chat listing sees a new buyer message ``first`` written that
        second, and right after the chat's history is read, ``text`` lands in the same second),
        ``customer_name`` (``chat``, ``name``: e.g. with a lone
        surrogate), ``parallel_420`` (``times`` bare 420 "parallel requests" answers),
        ``retry_hint`` (``value``: the next 420's X-RateLimit-Resource-Until)."""
        if name == "same_second":
            if params.get("chat") is not None:
                first, second = str(params.get("first") or "первое"), str(params.get("text") or "в ту же секунду")
                self._race = (int(params["chat"]), first, second)
            else:
                self.same_second = True
            return []
        if name == "customer_name":
            self.chats[int(params["chat"])].customer = str(params["customer"])
            return []
        if name == "parallel_420":
            return [parallel_limit_fault(int(params.get("times") or 1))]
        if name == "retry_hint":
            fault = rate_limit_fault(params.get("path"), 1)
            fault.headers["X-RateLimit-Resource-Until"] = str(params.get("value", "9999-12-31T23:59:59Z"))
            return [fault]
        raise KeyError(name)

    def truth(self) -> dict[str, Any]:
        chats = sorted(self.chats.values(), key=lambda c: c.id)
        return {
            "chats": [
                {
                    "external_id": str(c.id),
                    "kind": "chat",
                    "customer": c.customer,
                    "order_id": str(c.order_id) if c.order_id is not None else None,
                    "product_id": None,
                    "status": c.status,
                }
                for c in chats
            ],
            "messages": {
                str(c.id): [
                    {
                        "external_id": str(m.id),
                        "author": AUTHORS[m.sender],
                        "text": m.text or "",
                        "created_at": iso(m.at),
                        "attachments": [f.name for f in m.files],
                    }
                    for m in sorted(c.messages, key=lambda m: (m.at, m.id))
                ]
                for c in chats
            },
        }

    # ------------------------------------------------------------------------- wire

    def check_auth(self, req: SimRequest) -> SimResponse | None:
        if req.path.startswith("/files/"):
            return None  # file links are pre-signed, like a storage URL
        key = req.headers.get("api-key") or ""
        bearer = req.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if (key or bearer) and BAD_TOKEN not in (key, bearer):
            return None
        return _envelope(401, "UNAUTHORIZED", "Api-Key token is invalid")

    def handle(self, req: SimRequest) -> SimResponse:
        if req.method == "GET" and req.path.startswith("/files/"):
            return self._file(req)
        match = _PATH.match(req.path)
        if match is None or int(match.group(1)) < 1:
            return _envelope(404, "NOT_FOUND", f"Unknown path: {req.path}")
        route = (req.method, match.group(2))
        handlers = {
            ("POST", "/chats"): self._list,
            ("GET", "/chat"): self._get_chat,
            ("POST", "/chats/history"): self._history,
            ("POST", "/chats/message"): self._send,
            ("GET", "/chats/message"): self._get_message,
            ("POST", "/chats/file/send"): self._send_file,
        }
        handler = handlers.get(route)
        if handler is None:
            return _envelope(404, "NOT_FOUND", f"Unknown method: {req.method} {req.path}")
        return handler(req)

    # -- helpers

    def _host(self, req: SimRequest) -> str:
        host = req.headers.get("host")
        return f"http://{host}/{self.prefix}" if host else f"/{self.prefix}"

    def _limit(self, req: SimRequest, default: int, maximum: int) -> int | SimResponse:
        raw = req.param("limit")
        if raw is None:
            limit = default
        elif not raw.isdigit() or not 1 <= int(raw) <= maximum:
            return _envelope(400, "BAD_REQUEST", f"limit must be between 1 and {maximum}")
        else:
            limit = int(raw)
        return min(limit, self.page_size) if self.page_size else limit

    def _json_body(self, req: SimRequest) -> dict[str, Any] | SimResponse:
        try:
            body = req.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _envelope(400, "BAD_REQUEST", "Request body is required and must be a JSON object")
        return body

    def _chat(self, req: SimRequest) -> _Chat | SimResponse:
        raw = req.param("chatId") or ""
        if not raw.isdigit() or int(raw) < 1:
            return _envelope(400, "BAD_REQUEST", "chatId must be a positive integer")
        chat = self.chats.get(int(raw))
        if chat is None:
            return _envelope(404, "NOT_FOUND", f"Can't find chat by id: '{raw}'")
        return chat

    def _replay(self, possible: bool = True) -> bool:
        """Consume one pending ``duplicate`` fault when this request can serve old data
        again; otherwise it waits for a request that can."""
        if possible and self.duplicate_next > 0:
            self.duplicate_next -= 1
            self.replays += 1
            return True
        return False

    def _page(self, total: int, offset: int, limit: int, token: dict[str, int]) -> tuple[int, str | None]:
        """The page start and the next token. A pending duplicate replays the previous page
        (token requests) or makes the next page overlap this one by an item (first pages)."""
        step = limit
        if token.get("o") is not None and self._replay(offset > 0):
            offset = max(0, offset - limit)
        elif token.get("o") is None and self._replay(limit > 1 and offset + limit < total):
            step = limit - 1
        if offset + step >= total:
            return offset, None
        return offset, _token({k: v for k, v in token.items() if k != "o"} | {"o": offset + step})

    def _context(self, chat: _Chat) -> dict[str, Any]:
        context: dict[str, Any] = {
            "type": chat.context_type,
            "customer": {"name": chat.customer, "publicId": f"c{chat.id % 10**8}"},
        }
        if chat.context_type != "DIRECT":
            context["campaignId"] = 2 * BUSINESS_ID + 1
            context["orderId"] = chat.order_id
        if chat.return_id is not None:
            context["returnId"] = chat.return_id
        return context

    def _chat_dto(self, chat: _Chat) -> dict[str, Any]:
        return {
            "chatId": chat.id,
            "context": self._context(chat),
            "type": "CHAT",
            "status": chat.status,
            "createdAt": _time(chat.created_at),
            "updatedAt": _time(chat.updated_at),
        }

    def _message_dto(self, req: SimRequest, chat: _Chat, m: _Message) -> dict[str, Any]:
        dto: dict[str, Any] = {"messageId": m.id, "createdAt": _time(m.at), "sender": m.sender}
        if m.text:
            dto["message"] = m.text
        if m.files:
            base = self._host(req)
            dto["payload"] = [
                {"name": f.name, "url": f"{base}/files/{chat.id}/{m.id}/{n}", "size": len(f.content)}
                for n, f in enumerate(m.files)
            ]
        return dto

    # -- methods

    def _list(self, req: SimRequest) -> SimResponse:
        limit = self._limit(req, LIST_DEFAULT, LIST_MAX)
        if isinstance(limit, SimResponse):
            return limit
        body = self._json_body(req)
        if isinstance(body, SimResponse):
            return body
        if self._race is not None and self._race[0] in self.chats:
            chat_id, first, second = self._race
            self._race, self._race_second = None, second
            race_chat = self.chats[chat_id]
            self._add(race_chat, "CUSTOMER", first, self._stamp(race_chat))
            race_chat.status = "WAITING_FOR_PARTNER"
        chats = sorted(self.chats.values(), key=lambda c: (c.updated_at, c.id), reverse=True)
        for name, attr in (("statuses", "status"), ("contextTypes", "context_type")):
            wanted = body.get(name)
            if wanted:
                chats = [c for c in chats if getattr(c, attr) in wanted]
        data: dict[str, Any] = {}
        raw_token = req.param("pageToken") or req.param("page_token")
        if raw_token:
            data = _untoken(raw_token) or {}
            if not isinstance(data.get("o"), int):
                return _envelope(400, "BAD_REQUEST", "Bad page token")
        offset, next_token = self._page(len(chats), data.get("o", 0), limit, {"o": data.get("o")})
        page = chats[offset : offset + limit]
        result: dict[str, Any] = {"chats": [self._chat_dto(c) for c in page]}
        if next_token:
            result["paging"] = {"nextPageToken": next_token}
        return SimResponse.json({"status": "OK", "result": result})

    def _get_chat(self, req: SimRequest) -> SimResponse:
        chat = self._chat(req)
        if isinstance(chat, SimResponse):
            return chat
        return SimResponse.json({"status": "OK", "result": self._chat_dto(chat)})

    def _history(self, req: SimRequest) -> SimResponse:
        chat = self._chat(req)
        if isinstance(chat, SimResponse):
            return chat
        limit = self._limit(req, HISTORY_DEFAULT, HISTORY_MAX)
        if isinstance(limit, SimResponse):
            return limit
        body = self._json_body(req)
        if isinstance(body, SimResponse):
            return body
        since = body.get("messageIdFrom")
        if since is not None and (not isinstance(since, int) or since < 1):
            return _envelope(400, "BAD_REQUEST", "messageIdFrom must be a positive integer")
        messages = sorted(chat.messages, key=lambda m: m.id)
        start = 0
        if since is not None:
            start = next((i for i, m in enumerate(messages) if m.id >= since), len(messages))
        data: dict[str, Any] = {}
        raw_token = req.param("pageToken") or req.param("page_token")
        if raw_token:
            data = _untoken(raw_token) or {}
            if data.get("c") != chat.id or not isinstance(data.get("o"), int):
                return _envelope(400, "BAD_REQUEST", "Bad page token")
            start = data["o"]
        elif start > 0 and self._replay():
            start -= 1  # one message older than asked for: an overlap the client must dedupe
        start, next_token = self._page(len(messages), start, limit, {"c": chat.id, "o": data.get("o")})
        page = messages[start : start + limit]
        result: dict[str, Any] = {
            "context": self._context(chat),
            "messages": [self._message_dto(req, chat, m) for m in page],
        }
        if next_token:
            result["paging"] = {"nextPageToken": next_token}
        elif self._race_second is not None:
            # The history is read; a buyer message lands in the very second of the last one.
            self._add(chat, "CUSTOMER", self._race_second, chat.updated_at)
            self._race_second = None
        return SimResponse.json({"status": "OK", "result": result})

    def _get_message(self, req: SimRequest) -> SimResponse:
        chat = self._chat(req)
        if isinstance(chat, SimResponse):
            return chat
        raw = req.param("messageId") or ""
        found = next((m for m in chat.messages if raw.isdigit() and m.id == int(raw)), None)
        if found is None:
            return _envelope(404, "NOT_FOUND", f"Can't find message by id: '{raw}' for chat '{chat.id}'")
        return SimResponse.json({"status": "OK", "result": self._message_dto(req, chat, found)})

    def _writable(self, chat: _Chat) -> SimResponse | None:
        if chat.status == "FINISHED":
            return _envelope(400, "BAD_REQUEST", f"Chat {chat.id} is finished: new messages are not accepted")
        return None

    def _send(self, req: SimRequest) -> SimResponse:
        chat = self._chat(req)
        if isinstance(chat, SimResponse):
            return chat
        body = self._json_body(req)
        if isinstance(body, SimResponse):
            return body
        text = body.get("message")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
            return _envelope(400, "BAD_REQUEST", f"message must be 1 to {MAX_TEXT} characters long")
        refused = self._writable(chat)
        if refused is not None:
            return refused
        self._add(chat, "PARTNER", text, self._stamp(chat))
        chat.status = "WAITING_FOR_CUSTOMER"
        return SimResponse.json({"status": "OK"})

    def _send_file(self, req: SimRequest) -> SimResponse:
        chat = self._chat(req)
        if isinstance(chat, SimResponse):
            return chat
        upload = self._multipart_file(req)
        if upload is None:
            return _envelope(400, "BAD_REQUEST", "multipart/form-data field 'file' is required")
        if len(upload.content) > MAX_FILE:
            return _envelope(400, "BAD_REQUEST", "File size must not exceed 5 MB")
        refused = self._writable(chat)
        if refused is not None:
            return refused
        self._add(chat, "PARTNER", None, self._stamp(chat), (upload,))
        chat.status = "WAITING_FOR_CUSTOMER"
        return SimResponse.json({"status": "OK"})

    @staticmethod
    def _multipart_file(req: SimRequest) -> _File | None:
        if not req.content_type.lower().startswith("multipart/form-data"):
            return None
        head = f"Content-Type: {req.content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + req.body)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                content = part.get_payload(decode=True) or b""
                name = part.get_filename() or "file"
                return _File(name, part.get_content_type(), content)
        return None

    def _file(self, req: SimRequest) -> SimResponse:
        parts = req.path.strip("/").split("/")
        try:
            _, chat_id, message_id, index = parts
            chat = self.chats[int(chat_id)]
            message = next(m for m in chat.messages if m.id == int(message_id))
            f = message.files[int(index)]
        except (ValueError, KeyError, StopIteration, IndexError):
            return SimResponse(404, b"not found", {"content-type": "text/plain"})
        return SimResponse(200, f.content, {"content-type": f.content_type})
