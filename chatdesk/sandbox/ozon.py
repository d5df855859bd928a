"""A simulated Ozon seller account speaking the Seller API chat wire format (spec 2026-07-12).

What it reproduces, because real clients trip over it:

* ``/v3/chat/list`` pages with an opaque ``cursor``; support and notification chats are listed
  next to buyer chats and must stay out of the inbox.
* 64-bit ids above 2^53, serialized as JSON strings (as every official example does) in some
  responses and as bare numbers (as the schema says) in others; ``has_next`` sometimes as the
  string ``"true"`` (the official example); ``user.type`` in mixed casing.
* ``/v3/chat/history`` ``Forward``/``Backward`` with ``from_message_id`` (exclusive here; the
  spec does not say) and ``limit``; a ``duplicate`` fault serves the previous page again
  (list and history), so clients must dedupe.
* Send refusals as ``rpcStatus``: text outside 1..1000 characters, a chat whose FBO 48-hour
  window has closed, a seller without Premium Plus/Pro (``premium = False``).

``quirks=False`` serializes strictly per the schema (numbers, booleans) so contract tests can
validate every response unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chatdesk.sandbox.core import BAD_TOKEN, Fault, MarketplaceSim, SimRequest, SimResponse, iso
from chatdesk.sandbox.seed import Conversation, new_buyer_line

FIRST_ID = 3_000_000_000_817_031_942  # above 2^53, like Ozon's
CDN = "https://cdn1.ozone.ru/s3/chat-files"
FILE_PATH = "/s3/chat-files/"
SELLER_USER_ID = "7"
LIST_MAX = 100
HISTORY_MAX = 1000
BUYER_TYPES = ("BUYER_SELLER", "BUYER_SELLER_SELECT")
_CASINGS = {
    "buyer": ("Customer", "customer", "CUSTOMER"),
    "seller": ("Seller", "seller", "SELLER"),
}
WINDOW_MESSAGE = "Chat is closed for sending: you can reply within 48 hours after the buyer's last message (FBO)"
PREMIUM_MESSAGE = "The method is available only to sellers with a Premium Plus or Premium Pro subscription"


def rpc_status(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> SimResponse:
    """Ozon's error body for every declared error status (``rpcStatus``)."""
    return SimResponse.json({"code": code, "message": message, "details": []}, status, headers)


def subscription_fault(times: int = 1000) -> Fault:
    """A 403 on chat history naming the subscription, as older Ozon docs and SDKs describe it
    (buyer chat history needs Premium Plus)."""
    return Fault(
        kind="status",
        prefix="ozon",
        path="/v3/chat/history",
        status=403,
        headers={"content-type": "application/json"},
        body={"code": 7, "message": "Chat history is available only with the Premium Plus subscription", "details": []},
        times=times,
    )


def rate_limit_fault(path: str | None = None, seconds: int = 1, times: int = 1) -> Fault:
    """A 429 for the next matching request.

    The chat spec documents no 429 at all (only the 50 req/s rule in the "Process" tag), so the
    shape is Ozon's usual ``rpcStatus`` body plus a ``Retry-After`` header.
    """
    return Fault(
        kind="status",
        prefix="ozon",
        path=path,
        status=429,
        headers={"Retry-After": str(seconds), "content-type": "application/json"},
        body={"code": 8, "message": "You have reached request rate limit per second", "details": []},
        times=times,
    )


@dataclass
class _Msg:
    id: int
    author: str  # buyer | seller | marketplace (truth)
    user_type: str  # as sent on the wire, casing included
    user_id: str
    at: datetime
    data: list[str]
    is_image: bool = False
    is_read: bool = True
    image_name: str | None = None


@dataclass
class _Chat:
    id: str
    chat_type: str
    status: str
    created_at: datetime
    order_number: str | None = None
    sku: str | None = None
    fbo_window_closed: bool = False
    messages: list[_Msg] = field(default_factory=list)

    @property
    def buyer(self) -> bool:
        return self.chat_type in BUYER_TYPES

    @property
    def unread(self) -> int:
        return sum(1 for m in self.messages if m.author != "seller" and not m.is_read)


class OzonSim(MarketplaceSim):
    marketplace = "ozon"
    prefix = "ozon"

    def __init__(
        self,
        rng: random.Random,
        now: Callable[[], datetime],
        page_size: int | None = None,
        quirks: bool = True,
    ) -> None:
        super().__init__(rng, now)
        self.page_size = page_size
        self.quirks = quirks
        self.premium = True  # False: send/read answer 403 like a seller without Premium Plus/Pro
        self.chats: dict[str, _Chat] = {}
        self.files: dict[str, tuple[bytes, str]] = {}  # key -> (content, content type)
        self._next_id = FIRST_ID
        self._answers = 0  # alternates id serialization between responses
        self.replayed = 0  # pages served again because of ``duplicate`` faults

    # ------------------------------------------------------------------ state

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _new_id(self) -> int:
        self._next_id += self.rng.randint(1_000, 90_000)
        return self._next_id

    def _moment(self) -> datetime:
        """Now, to the second, never before the newest message (ids and times both increase)."""
        at = self.now().astimezone(UTC).replace(microsecond=0)
        newest = max((m.at for c in self.chats.values() for m in c.messages), default=at)
        return max(at, newest)

    def _user(self, author: str) -> tuple[str, str]:
        if author in _CASINGS:
            user_type = self.rng.choice(_CASINGS[author])
            user_id = SELLER_USER_ID if author == "seller" else str(self.rng.randint(100_000, 999_999))
            return user_type, user_id
        return self.rng.choice(("Crm", "support", "NotificationUser")), "0"

    def _add(self, chat: _Chat, author: str, text: str, at: datetime, read: bool = True) -> _Msg:
        user_type, user_id = self._user(author)
        msg = _Msg(self._new_id(), author, user_type, user_id, at, [text], is_read=read)
        chat.messages.append(msg)
        return msg

    def _add_file(self, chat: _Chat, author: str, name: str, content_type: str, content: bytes, at: datetime) -> None:
        user_type, user_id = self._user(author)
        key = f"{self._uuid()}{_ext(name)}"
        self.files[key] = (content, content_type)
        url = f"{CDN}/{key}"
        image = content_type.startswith("image/")
        msg = _Msg(self._new_id(), author, user_type, user_id, at, [url if image else f"[{name}]({url})"])
        msg.is_image = image
        msg.is_read = author == "seller"
        chat.messages.append(msg)

    def seed(self, conversations: list[Conversation]) -> None:
        # Build every message first, then hand out ids in time order across chats, as Ozon does.
        pending: list[tuple[datetime, int, Callable[[], None]]] = []
        for n, conv in enumerate(conversations):
            first = conv.messages[0].at.astimezone(UTC).replace(microsecond=0)
            chat = _Chat(
                id=self._uuid(),
                chat_type="BUYER_SELLER_SELECT" if n % 5 == 4 else "BUYER_SELLER",
                status="CLOSED" if n == 1 else "OPENED",
                created_at=first - timedelta(seconds=5),
                order_number=conv.order_number,
                sku=str(conv.product.article),
                fbo_window_closed=n == 2,
            )
            self.chats[chat.id] = chat
            last = len(conv.messages) - 1
            for i, m in enumerate(conv.messages):
                at = m.at.astimezone(UTC).replace(microsecond=0)
                read = not (m.author == "buyer" and i == last)
                pending.append((at, len(pending), _bind(self._add, chat, m.author, m.text, at, read)))
                for f in m.files:
                    content = f"sandbox file {f.name}".encode() * 8
                    pending.append(
                        (at, len(pending), _bind(self._add_file, chat, m.author, f.name, f.content_type, content, at))
                    )
            if n == 0:
                note = "Покупатель оформил заказ. Подробнее в [карточке заказа](https://seller.ozon.ru/app/postings)."
                before = first - timedelta(seconds=1)
                pending.append((before, len(pending), _bind(self._add, chat, "crm", note, before)))
        start = min((p[0] for p in pending), default=self.now().replace(microsecond=0))
        support = _Chat(self._uuid(), "SELLER_SUPPORT", "OPENED", start - timedelta(days=1))
        notices = _Chat(self._uuid(), "SELLER_NOTIFICATION_LOGISTICS", "OPENED", start - timedelta(days=1))
        self.chats[support.id] = support
        self.chats[notices.id] = notices
        hello = "Здравствуйте! Чем можем помочь?"
        pending.append((start, len(pending), _bind(self._add, support, "support", hello, start)))
        notice = "Поставка принята на склад."
        pending.append((start, len(pending), _bind(self._add, notices, "crm", notice, start, False)))
        for _, _, add in sorted(pending, key=lambda p: (p[0], p[1])):
            add()

    def buyer_writes(self, chat_external_id: str | None = None, text: str | None = None) -> str:
        at = self._moment()
        if chat_external_id is None:
            chat = _Chat(
                id=self._uuid(),
                chat_type="BUYER_SELLER",
                status="OPENED",
                created_at=at,
                order_number=f"{self.rng.randint(10_000_000, 99_999_999)}-{self.rng.randint(1000, 9999)}-1",
                sku=str(self.rng.randint(100_000_000, 999_999_999)),
            )
            self.chats[chat.id] = chat
        else:
            chat = self.chats[chat_external_id]
            chat.status = "OPENED"
        self._add(chat, "buyer", text or new_buyer_line(self.rng), at, read=False)
        return chat.id

    def seller_portal_writes(self, chat_external_id: str, text: str) -> None:
        chat = self.chats[chat_external_id]
        self._add(chat, "seller", text, self._moment())

    def quirk(self, name: str, params: dict[str, Any]) -> list[Fault]:
        """``subscription_403`` (chat history refused with a 403 naming Premium Plus, ``times``
        requests), ``retry_hint`` (``value``: the next 429's Retry-After, e.g. 1e12, inf)."""
        if name == "subscription_403":
            return [subscription_fault(int(params.get("times") or 1000))]
        if name == "retry_hint":
            fault = rate_limit_fault(params.get("path"), 1, int(params.get("times") or 1))
            fault.headers["Retry-After"] = str(params.get("value", "1e12"))
            return [fault]
        raise KeyError(name)

    def truth(self) -> dict[str, Any]:
        chats = [c for c in sorted(self.chats.values(), key=lambda c: c.created_at) if c.buyer]
        return {
            "chats": [
                {
                    "external_id": c.id,
                    "kind": "chat",
                    "customer": None,  # Ozon gives no buyer name
                    "order_id": c.order_number,
                    "product_id": c.sku,
                    "status": c.status,
                }
                for c in chats
            ],
            "messages": {
                c.id: [
                    {
                        "external_id": str(m.id),
                        "author": m.author if m.author in ("buyer", "seller") else "marketplace",
                        "text": "" if m.is_image else "\n".join(m.data),
                        "created_at": iso(m.at),
                        "attachments": [f"image-{m.id}"] if m.is_image else [],
                    }
                    for m in sorted(c.messages, key=lambda m: m.id)
                ]
                for c in chats
            },
        }

    # ------------------------------------------------------------------ wire

    def check_auth(self, req: SimRequest) -> SimResponse | None:
        if req.path.startswith(FILE_PATH):
            return None  # the CDN serves by unguessable key
        key = req.headers.get("api-key", "")
        if not key or key == BAD_TOKEN or not req.headers.get("client-id"):
            return rpc_status(403, 7, "Api-Key or Client-Id is invalid")
        return None

    def handle(self, req: SimRequest) -> SimResponse:
        if req.method == "GET" and req.path.startswith(FILE_PATH):
            return self._file(req.path[len(FILE_PATH) :])
        if req.method != "POST":
            return rpc_status(404, 5, "Not found")
        try:
            body = req.json()
        except ValueError:
            return rpc_status(400, 3, "invalid JSON body")
        if not isinstance(body, dict):
            return rpc_status(400, 3, "body must be a JSON object")
        routes = {
            "/v3/chat/list": self._list,
            "/v3/chat/history": self._history,
            "/v1/chat/send/message": self._send_message,
            "/v1/chat/send/file": self._send_file,
            "/v2/chat/read": self._read,
        }
        route = routes.get(req.path)
        if route is None:
            return rpc_status(404, 5, f"method {req.path} not found")
        return route(body)

    def _ids_as_strings(self) -> bool:
        self._answers += 1
        return self.quirks and self._answers % 2 == 1

    def _id(self, value: int, as_string: bool) -> int | str:
        return str(value) if as_string else value

    def _has_next(self, value: bool) -> bool | str:
        if value and self.quirks and self._answers % 3 == 0:
            return "true"
        return value

    def _overlap(self, position: int, limit: int) -> int:
        """Where a page starts: one page earlier when a ``duplicate`` fault is pending.

        The earlier page is computed from current data (a real server repeating a cursor's
        result would not serve stale data), and its continuation points back at the
        requested position, so the client sees overlap it must dedupe. On a first page
        there is nothing to repeat yet: the fault waits for the next request.
        """
        if position > 0 and self.duplicate_next > 0:
            self.duplicate_next -= 1
            self.replayed += 1
            return max(0, position - limit)
        return position

    def _page(self, requested: Any, maximum: int, default: int) -> int | SimResponse:
        limit = default if requested is None else requested
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1 or limit > maximum:
            return rpc_status(400, 3, f"limit must be between 1 and {maximum}")
        return min(limit, self.page_size) if self.page_size else limit

    def _list(self, body: dict[str, Any]) -> SimResponse:
        if "limit" not in body:
            return rpc_status(400, 3, "limit is required")
        limit = self._page(body["limit"], LIST_MAX, 30)
        if isinstance(limit, SimResponse):
            return limit
        offset = _decode_cursor(body.get("cursor"))
        if offset is None:
            return rpc_status(400, 3, "invalid cursor")
        offset = self._overlap(offset, limit)
        flt = body.get("filter") if isinstance(body.get("filter"), dict) else {}
        wanted = str(flt.get("chat_status") or "ALL").upper()
        chats = sorted(self.chats.values(), key=lambda c: (c.created_at, c.id), reverse=True)
        if wanted in ("OPENED", "CLOSED"):
            chats = [c for c in chats if c.status == wanted]
        if flt.get("unread_only") is True:
            chats = [c for c in chats if c.unread]
        page = chats[offset : offset + limit]
        more = offset + limit < len(chats)
        strings = self._ids_as_strings()
        out = {
            "chats": [
                {
                    "chat": {
                        "created_at": _wire_time(c.created_at),
                        "chat_id": c.id,
                        "chat_status": c.status,
                        "chat_type": c.chat_type,
                    },
                    **self._unread_ids(c, strings),
                    "unread_count": c.unread,
                }
                for c in page
            ],
            "total_unread_count": sum(c.unread for c in self.chats.values()),
            "cursor": _encode_cursor(offset + limit if more else offset + len(page)),
            "has_next": self._has_next(more),
        }
        return SimResponse.json(out)

    def _unread_ids(self, chat: _Chat, strings: bool) -> dict[str, int | str]:
        out: dict[str, int | str] = {}
        unread = [m.id for m in chat.messages if m.author != "seller" and not m.is_read]
        if unread:
            out["first_unread_message_id"] = self._id(min(unread), strings)
        if chat.messages:
            out["last_message_id"] = self._id(max(m.id for m in chat.messages), strings)
        return out

    def _history(self, body: dict[str, Any]) -> SimResponse:
        chat = self.chats.get(str(body.get("chat_id") or ""))
        if chat is None:
            return rpc_status(404, 5, "chat not found")
        direction = str(body.get("direction") or "Backward").lower()
        if direction not in ("forward", "backward"):
            return rpc_status(400, 3, "direction must be Forward or Backward")
        raw_from = body.get("from_message_id")
        if raw_from is None and direction == "forward":
            return rpc_status(400, 3, "from_message_id is required when direction = Forward")
        try:
            start = None if raw_from is None else int(str(raw_from))
        except ValueError:
            return rpc_status(400, 3, "from_message_id must be an unsigned integer")
        limit = self._page(body.get("limit"), HISTORY_MAX, 50)
        if isinstance(limit, SimResponse):
            return limit
        msgs = sorted(chat.messages, key=lambda m: m.id, reverse=direction == "backward")
        flt = body.get("filter") if isinstance(body.get("filter"), dict) else {}
        if flt.get("message_ids"):
            wanted = {str(x) for x in flt["message_ids"]}
            msgs = [m for m in msgs if str(m.id) in wanted]
        # from_message_id is exclusive here: the page starts after it in the chosen direction.
        position = 0
        if start is not None:
            position = sum(1 for m in msgs if (m.id <= start if direction == "forward" else m.id >= start))
        position = self._overlap(position, limit)
        page = msgs[position : position + limit]
        strings = self._ids_as_strings()
        out = {
            "has_next": self._has_next(position + limit < len(msgs)),
            "messages": [self._wire_message(chat, m, strings) for m in page],
        }
        return SimResponse.json(out)

    def _wire_message(self, chat: _Chat, m: _Msg, strings: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "created_at": _wire_time(m.at),
            "data": list(m.data),
            "is_image": m.is_image,
            "is_read": m.is_read,
            "message_id": self._id(m.id, strings),
            "user": {"id": m.user_id, "type": m.user_type},
        }
        if chat.order_number or chat.sku:
            out["context"] = {"order_number": chat.order_number or "", "sku": chat.sku or ""}
        if m.is_image:
            out["moderate_image_status"] = "SUCCESS"
        return out

    def _sendable(self, body: dict[str, Any]) -> _Chat | SimResponse:
        chat = self.chats.get(str(body.get("chat_id") or ""))
        if chat is None:
            return rpc_status(404, 5, "chat not found")
        if not self.premium:
            return rpc_status(403, 7, PREMIUM_MESSAGE)
        if not chat.buyer:
            return rpc_status(400, 3, "sending is allowed only to buyer chats")
        if chat.fbo_window_closed or chat.status == "CLOSED":
            return rpc_status(400, 9, WINDOW_MESSAGE)
        return chat

    def _send_message(self, body: dict[str, Any]) -> SimResponse:
        text = body.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 1000:
            return rpc_status(400, 3, "text must be from 1 to 1000 characters")
        chat = self._sendable(body)
        if isinstance(chat, SimResponse):
            return chat
        self._add(chat, "seller", text, self._moment())
        return SimResponse.json({"result": "success"})

    def _send_file(self, body: dict[str, Any]) -> SimResponse:
        name, content = body.get("name"), body.get("base64_content")
        if not isinstance(name, str) or not name or not isinstance(content, str) or not content:
            return rpc_status(400, 3, "chat_id, base64_content and name are required")
        try:
            raw = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            return rpc_status(400, 3, "base64_content is not valid base64")
        chat = self._sendable(body)
        if isinstance(chat, SimResponse):
            return chat
        self._add_file(chat, "seller", name, _content_type(name), raw, self._moment())
        return SimResponse.json({"result": "success"})

    def _read(self, body: dict[str, Any]) -> SimResponse:
        chat = self.chats.get(str(body.get("chat_id") or ""))
        if chat is None:
            return rpc_status(404, 5, "chat not found")
        if not self.premium:
            return rpc_status(403, 7, PREMIUM_MESSAGE)
        raw = body.get("from_message_id")
        upto = max((m.id for m in chat.messages), default=0) if raw is None else int(str(raw))
        for m in chat.messages:
            if m.id <= upto:
                m.is_read = True
        return SimResponse.json({"unread_count": chat.unread})

    def _file(self, key: str) -> SimResponse:
        stored = self.files.get(key)
        if stored is None:
            return SimResponse(404, b"not found", {"content-type": "text/plain"})
        return SimResponse(200, stored[0], {"content-type": stored[1]})


def _bind(fn: Callable[..., Any], *args: Any) -> Callable[[], None]:
    def call() -> None:
        fn(*args)

    return call


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 and len(name) - dot <= 6 else ""


def _content_type(name: str) -> str:
    return {
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".png": "image/png",
        ".gif": "image/gif",
        ".webp": "image/webp",
        ".pdf": "application/pdf",
    }.get(_ext(name), "application/octet-stream")


def _wire_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: Any) -> int | None:
    if cursor in (None, ""):
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(str(cursor) + "=" * (-len(str(cursor)) % 4)))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    return offset if offset >= 0 else None
