"""Ozon Seller API chats: ``/v3/chat/list``, ``/v3/chat/history``, send, send file, read.

Every method is ``POST`` with a JSON body and the ``Client-Id`` + ``Api-Key`` headers.

Polling (stream ``chats``, no stream cursor: Ozon has no event feed, so the per-chat
``version`` = ``last_message_id`` from the list does the job):

1. Page through ``/v3/chat/list`` (``limit`` 100, ``cursor``/``has_next``) and keep only buyer
   chats (``BUYER_SELLER``, ``BUYER_SELLER_SELECT``); support and notification chats never
   reach the inbox.
2. For each buyer chat whose ``last_message_id`` differs from the stored ``version``:
   * known messages: ``/v3/chat/history`` ``direction=Forward`` from the stored last
     ``message_id`` (the spec requires ``from_message_id`` for Forward), ``limit`` 1000,
     continuing from the last id received while ``has_next``;
   * no stored messages (first sync): ``direction=Backward`` without ``from_message_id``
     (the spec's default: "the last visible message"), continuing from the oldest id received
     while ``has_next``. Nothing is yielded until the whole history is in hand, because a
     partial newest-first history would make the next Forward poll skip the older part.
   The chat's ``ChatInfo`` (``version``, status, unread) goes only into the page that
   completes its history. The spec does not say whether ``from_message_id`` is inclusive, so
   messages are deduplicated by ``message_id``.

**Idle poll cost:** ``ceil(all chats / 100)`` list requests (the list has no buyer-only
filter, so support/notification chats count too) and **zero** history requests.

64-bit ids (``message_id``, ``last_message_id``) arrive as JSON strings or numbers: every body
is parsed with :func:`loads_exact` and ids are kept as exact decimal strings; request bodies
carry them as exact JSON integers (Python ints serialize exactly; nothing passes through float).

Budget: the spec's only published limit is 50 requests/second per Client-Id across all
methods; chatdesk keeps one shared bucket at 40/s so bursts from several chats stay under it.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, BinaryIO, ClassVar
from urllib.parse import urlsplit

import httpx

from chatdesk import marketplaces
from chatdesk.connectors.base import (
    AccountConfig,
    Attachment,
    AuthError,
    Author,
    BadItem,
    ChatInfo,
    ChatRef,
    Connector,
    ConnectorError,
    Download,
    KnownChat,
    Limits,
    MessageInfo,
    MissingAccess,
    OutgoingFile,
    Page,
    RateLimited,
    Rejected,
    TransientError,
    exact_id,
    json_object,
    loads_exact,
    parse_iso,
    redact,
)
from chatdesk.connectors.errors import ErrorTable
from chatdesk.ratelimit import RateLimiter

HOST = "https://api-seller.ozon.ru"
BUDGET_KEY = "ozon"
LIST_LIMIT = 100  # v3 maximum
HISTORY_LIMIT = 1000  # v3 maximum
MAX_PAGES = 10_000  # a server that never says has_next=false must not hang a poll
# Chat-list pages per poll: the list is read whole each poll, so this bounds a poll whose
# cursor never ends (100,000 chats; 25 s at the 40 requests/s budget). When the answer states
# ``total_chats_count``, the cap is that many pages plus a few (pages may overlap).
MAX_LIST_PAGES = 1000
MAX_CURSOR_REPEATS = 3  # a cursor already sent this often ends the listing (replays are fine)
ITEM_ERRORS = (KeyError, ValueError, TypeError, AttributeError, OverflowError)
MAX_STALLS = 3  # history pages in a row that bring nothing new (e.g. a repeated page)
BUYER_CHAT_TYPES = {"BUYER_SELLER", "BUYER_SELLER_SELECT"}
# everyone else (crm, courier, support...) -> marketplace
AUTHORS: dict[str, Author] = {"customer": "buyer", "seller": "seller"}
# Limits and budget are the marketplace row's (chatdesk.marketplaces, which cites the spec and
# says which numbers are chatdesk's own: the spec states no file type or size limit).
ROW = marketplaces.OZON
FILE_TYPES = ROW.limits["chat"].file_types or frozenset()
MAX_FILE_SIZE = ROW.limits["chat"].max_file_size or 0

WINDOW_HINT = (
    "Ozon allows replies only within 48 h of the buyer's last message (FBO); for FBS/rFBS you may "
    "write until 72 h after delivery, then only reply within 48 h of the buyer's last message"
)
PREMIUM_HINT = "sending needs the Premium Plus or Premium Pro subscription"
_WINDOW_WORDS = ("48", "72", "window", "expired", "time limit", "срок", "истек", "час", "окн")
_PREMIUM_WORDS = ("premium", "подписк", "subscription")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a message without created_at (never seen) sorts first
_URL = re.compile(r"https?://[^\s)\]]+")


def _flag(value: object) -> bool:
    """``has_next`` is boolean in the schema but the string ``"true"`` in Ozon's own example."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def _digits(text: str) -> bool:
    """ASCII decimal digits only: ``"²".isdigit()`` is true, but ``int("²")`` fails."""
    return text.isascii() and text.isdigit()


def _uint(value: str) -> int:
    """An id for a request body: an exact int, so JSON carries it as a bare number."""
    text = exact_id(value)
    if not _digits(text):
        raise ValueError(f"not an Ozon message id: {value!r}")
    return int(text)


def _body(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _page_cap(total: object) -> int:
    """Pages needed for ``total_chats_count`` chats plus a few for overlap, at most
    :data:`MAX_LIST_PAGES`; the maximum when the count is missing or unreadable."""
    text = str(total).strip() if isinstance(total, int | str) and not isinstance(total, bool) else ""
    if not _digits(text) or len(text) > 9:
        return MAX_LIST_PAGES
    return min(MAX_LIST_PAGES, -(-int(text) // LIST_LIMIT) + 3)


def _raw_chat_id(item: object) -> str:
    chat = item.get("chat") if isinstance(item, dict) and isinstance(item.get("chat"), dict) else item
    raw = chat.get("chat_id") if isinstance(chat, dict) else None
    return str(raw)[:40] if raw is not None else ""


@dataclass(frozen=True)
class _ListedChat:
    chat_id: str
    status: str | None
    last_message_id: str
    unread: int | None


class OzonConnector(Connector):
    marketplace = "ozon"
    label = ROW.label
    streams = ("chats",)
    can_mark_read = True
    limits: ClassVar[Mapping[str, Limits]] = ROW.limits  # one file per request; text and files apart
    official_hosts = (HOST,)

    def __init__(self, account: AccountConfig, client: httpx.AsyncClient, limiter: RateLimiter | None = None):
        super().__init__(account, client, limiter)
        self.limiter.budgets.setdefault(BUDGET_KEY, ROW.budgets[BUDGET_KEY])
        self.base = (account.base_url or HOST).rstrip("/")

    # ------------------------------------------------------------------ http

    def secret_headers(self) -> dict[str, str]:
        return {"Api-Key": self.account.secret}

    def _headers(self) -> dict[str, str]:
        client_id = str(self.account.settings.get("client_id") or "").strip()
        if not client_id:
            raise AuthError("Ozon account has no Client-Id: add it with --client-id (Seller cabinet → API keys)")
        return {"Client-Id": client_id, **self.secret_headers(), "Content-Type": "application/json"}

    def _clean(self, text: str) -> str:
        return redact(text, self.account.secret)

    async def _call(self, path: str, payload: dict[str, Any], *, sending: bool = False) -> Any:
        """One POST; map transport and HTTP failures to the typed errors."""
        headers = self._headers()
        response = await self.http(BUDGET_KEY, "POST", self.base + path, content=_body(payload), headers=headers)
        return self._decode(response, path, sending=sending)

    def _decode(self, response: httpx.Response, path: str, *, sending: bool) -> Any:
        status = response.status_code
        if status < 300:
            try:
                return loads_exact(response.content or b"{}")
            except ValueError:
                raise TransientError(f"Ozon sent an unreadable answer to {path}", status=status) from None
        error = ozon_error(response, self.account.secret)
        if isinstance(error, RateLimited):
            self.limiter.block(BUDGET_KEY, error.retry_after)
        if error.cause == "rejected":
            raise Rejected(self._plain(self._reason(response), status), status=status)
        raise error

    def _reason(self, response: httpx.Response) -> str:
        """Ozon's own words from an ``rpcStatus`` body (``message``), else the raw text."""
        try:
            data = loads_exact(response.content)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            text = data["message"]
        else:
            text = response.text[:300]
        return self._clean(text.strip())

    @staticmethod
    def _plain(reason: str, status: int) -> str:
        """Known refusals in plain words, Ozon's own message kept after them."""
        own = f"Ozon: {reason}" if reason else f"Ozon answered {status}"
        if _mentions(reason, _PREMIUM_WORDS):
            return f"Not sent: {PREMIUM_HINT} ({own})"
        if _mentions(reason, _WINDOW_WORDS):
            return f"Not sent: {WINDOW_HINT} ({own})"
        return f"Not sent: {own}"

    # ------------------------------------------------------------------ polling

    async def poll(self, stream: str, cursor: str | None, known: Mapping[str, KnownChat]) -> AsyncIterator[Page]:
        if stream != "chats":
            raise ValueError(f"Ozon has no stream {stream!r}")
        listed, listing_bad = await self._list_buyer_chats()
        if listing_bad:
            yield Page(bad_items=tuple(listing_bad))
        refused: MissingAccess | None = None
        for chat in listed:
            prior = known.get(chat.chat_id)
            status_changed = prior is not None and (prior.status or "").upper() != (chat.status or "")
            if prior is not None and prior.version == chat.last_message_id:
                if status_changed:
                    yield Page(chats=(ChatInfo(external_id=chat.chat_id, status=chat.status),))
                continue
            if chat.last_message_id == "0":
                yield Page(chats=(self._info(chat, {}),))
                continue
            if refused is None:
                last = prior.last_message_id if prior is not None else None
                try:
                    messages, context, bad = await self._history(chat.chat_id, last)
                except MissingAccess as exc:
                    refused = exc
                else:
                    yield Page(chats=(self._info(chat, context),), messages=tuple(messages), bad_items=tuple(bad))
                    continue
            # History refused for want of a subscription: keep the chat as the list shows it
            # (status, unread count) without its version, so its history is read once allowed.
            yield Page(chats=(replace(self._info(chat, {}), version=None),))
        if refused is not None:
            raise MissingAccess(refused.message, status=refused.status, partial=True)

    async def _list_buyer_chats(self) -> tuple[list[_ListedChat], list[BadItem]]:
        """Every buyer chat in the list, and the items that could not be read.

        Paging ends when Ozon says so, when a cursor comes back that was already sent
        :data:`MAX_CURSOR_REPEATS` times (a stalled or cycling list; a replayed page or two is
        tolerated), when a page brings no chat not seen before
        (:data:`MAX_STALLS` times in a row) or at the page cap (:data:`MAX_LIST_PAGES`, or
        ``total_chats_count`` / page size plus a few). An early end is recorded as a bad item
        (raw id ``paging:<cursor>``); the chats listed so far are still polled."""
        out: dict[str, _ListedChat] = {}
        bad: list[BadItem] = []
        cursor: str | None = None
        used: Counter[str] = Counter()
        cap = MAX_LIST_PAGES
        stalls = 0
        for page in range(1, MAX_LIST_PAGES + 1):
            payload: dict[str, Any] = {"limit": LIST_LIMIT}
            if cursor:
                payload["cursor"] = cursor
                used[cursor] += 1
            data = self._obj(await self._call("/v3/chat/list", payload), "/v3/chat/list")
            cap = min(cap, _page_cap(data.get("total_chats_count")))
            before = len(out)
            for item in data.get("chats") or ():
                try:
                    listed = self._listed(item)
                except ITEM_ERRORS as exc:
                    bad.append(BadItem(_raw_chat_id(item), f"chat skipped: {type(exc).__name__}"))
                    continue
                if listed is not None:
                    out.setdefault(listed.chat_id, listed)  # a repeated page lists a chat twice
            cursor = str(data.get("cursor") or "") or None
            if not _flag(data.get("has_next")) or cursor is None:
                return list(out.values()), bad
            stalls = stalls + 1 if len(out) == before else 0
            why = None
            if used[cursor] >= MAX_CURSOR_REPEATS:
                why = "the same cursor came back"
            elif stalls >= MAX_STALLS:
                why = f"{stalls} pages in a row brought no new chat"
            elif page >= cap:
                why = f"page cap of {cap} reached"
            if why is not None:
                bad.append(BadItem(f"paging:{cursor[:40]}", f"chat list paging stopped after {page} pages: {why}"))
                return list(out.values()), bad
        return list(out.values()), bad  # pragma: no cover - the cap ends the loop

    @staticmethod
    def _listed(item: Any) -> _ListedChat | None:
        if not isinstance(item, dict):
            return None
        chat: dict[str, Any] = item["chat"] if isinstance(item.get("chat"), dict) else item
        chat_type = str(chat.get("chat_type") or "").upper()
        chat_id = chat.get("chat_id")
        if chat_type not in BUYER_CHAT_TYPES or not chat_id:
            return None
        raw_last = item.get("last_message_id")
        last = exact_id(raw_last) if raw_last not in (None, "") else "0"
        if not _digits(last):
            raise ValueError(f"last_message_id is not a number: {last[:40]!r}")
        status = str(chat.get("chat_status") or "").upper() or None
        unread = item.get("unread_count")
        return _ListedChat(
            chat_id=exact_id(chat_id),
            status=status,
            last_message_id=last,
            unread=int(unread) if isinstance(unread, int | str) and _digits(str(unread)) else None,
        )

    @staticmethod
    def _info(chat: _ListedChat, context: dict[str, str]) -> ChatInfo:
        return ChatInfo(
            external_id=chat.chat_id,
            order_id=context.get("order_number") or None,
            product_id=context.get("sku") or None,
            status=chat.status,
            unread=chat.unread,
            version=chat.last_message_id,
        )

    async def _history(
        self, chat_id: str, last_known: str | None
    ) -> tuple[list[MessageInfo], dict[str, str], list[BadItem]]:
        """The chat's messages after ``last_known`` (all of them when None), oldest first, its
        context, and the messages that could not be read (recorded with their raw id; one bad
        message never blocks the chat or the stream)."""
        forward = last_known is not None and _digits(last_known)
        anchor: str | None = last_known if forward else None
        seen: dict[str, MessageInfo] = {}
        context: dict[str, str] = {}
        bad: list[BadItem] = []
        stalls = 0
        for _ in range(MAX_PAGES):
            payload: dict[str, Any] = {"chat_id": chat_id, "direction": "Forward" if forward else "Backward"}
            if anchor is not None:
                payload["from_message_id"] = _uint(anchor)
            payload["limit"] = HISTORY_LIMIT
            data = self._obj(await self._call("/v3/chat/history", payload), "/v3/chat/history")
            fresh = 0
            ids: list[str] = []
            for raw in data.get("messages") or ():
                try:
                    msg = self._message(chat_id, raw)
                except ITEM_ERRORS as exc:
                    raw_id = raw.get("message_id") if isinstance(raw, dict) else None
                    reason = f"message skipped: {type(exc).__name__}"
                    bad.append(BadItem(str(raw_id)[:40] if raw_id is not None else "", reason, chat_id))
                    continue
                if msg is None:
                    continue
                ids.append(msg.external_id)
                ctx = raw.get("context")
                if isinstance(ctx, dict):
                    for key in ("order_number", "sku"):
                        if ctx.get(key) not in (None, ""):
                            context[key] = str(ctx[key])
                if msg.external_id not in seen and not (forward and int(msg.external_id) <= int(last_known or 0)):
                    seen[msg.external_id] = msg
                    fresh += 1
            if not _flag(data.get("has_next")) or not ids:
                break
            stalls = stalls + 1 if fresh == 0 else 0
            if stalls >= MAX_STALLS:
                raise TransientError(f"Ozon history of chat {chat_id} does not advance")
            numeric = [int(i) for i in ids]
            anchor = str(max(numeric) if forward else min(numeric))
        else:
            raise TransientError(f"Ozon history of chat {chat_id} did not end: too many pages")
        messages = sorted(seen.values(), key=lambda m: int(m.external_id))
        return messages, context, bad

    def _message(self, chat_id: str, raw: Any) -> MessageInfo | None:
        if not isinstance(raw, dict) or raw.get("message_id") in (None, ""):
            return None
        message_id = exact_id(raw["message_id"])
        if not _digits(message_id):
            raise ValueError(f"message_id is not a number: {message_id[:40]!r}")
        user = json_object(raw.get("user"))
        author: Author = AUTHORS.get(str(user.get("type") or "").strip().lower(), "marketplace")
        data = [str(x) for x in raw.get("data") or () if x is not None]
        attachments: list[Attachment] = []
        if _flag(raw.get("is_image")):
            urls: list[str] = []
            rest: list[str] = []
            for part in data:
                found = _URL.findall(part)
                # A part that is only a link (plain or Markdown) is the image itself.
                if found and not _URL.sub("", part).strip(" !()[]"):
                    urls.extend(found)
                else:
                    rest.append(part)
            for n, url in enumerate(urls):
                name = f"image-{message_id}" if len(urls) == 1 else f"image-{message_id}-{n + 1}"
                attachments.append(Attachment(name=name, url=url))
            data = rest
        created = raw.get("created_at")
        return MessageInfo(
            chat_external_id=chat_id,
            external_id=message_id,
            author=author,
            text="\n".join(data),
            created_at=parse_iso(created) if isinstance(created, str) and created else EPOCH,
            attachments=tuple(attachments),
        )

    @staticmethod
    def _obj(data: Any, path: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise TransientError(f"Ozon sent an unexpected answer to {path}")
        return data

    # ------------------------------------------------------------------ actions

    async def send(self, chat: ChatRef, text: str, files: tuple[OutgoingFile, ...] = ()) -> None:
        limits = self.limits["chat"]
        if files and text:
            raise Rejected("Ozon sends text and files as separate messages: send them one at a time")
        if len(files) > 1:
            raise Rejected("Ozon accepts one file per message")
        for f in files:
            if f.content_type not in FILE_TYPES:
                raise Rejected(f"Ozon chat accepts images (JPEG, PNG, GIF, WebP) and PDF, not {f.content_type}")
            if len(f.content) > MAX_FILE_SIZE:
                raise Rejected("file is larger than 10 MB")
            if not f.content:
                raise Rejected("file is empty")
        if not files:
            if not text.strip() or len(text) < limits.min_text:
                raise Rejected("message is empty")
            if len(text) > limits.max_text:
                raise Rejected(f"Ozon messages are limited to {limits.max_text} characters (this one has {len(text)})")
            await self._call("/v1/chat/send/message", {"chat_id": chat.external_id, "text": text}, sending=True)
            return
        f = files[0]
        await self._call(
            "/v1/chat/send/file",
            {
                "chat_id": chat.external_id,
                "base64_content": base64.b64encode(f.content).decode(),
                "name": f.name,
            },
            sending=True,
        )

    async def mark_read(self, chat: ChatRef, message_external_id: str) -> None:
        await self._call(
            "/v2/chat/read",
            {"chat_id": chat.external_id, "from_message_id": _uint(message_external_id)},
            sending=True,
        )

    async def download(
        self, chat: ChatRef, attachment: Attachment, sink: BinaryIO | None = None, cap: int | None = None
    ) -> Download:
        """Ozon gives an image message's file only as a URL inside ``data``.

        With ``base_url`` set, Ozon hosts are mapped onto it (sandbox). The Client-Id and
        Api-Key are offered, and ``Connector.fetch`` sends them only to the exact configured
        origin (https://api-seller.ozon.ru:443 or the base_url), never to a CDN, plain http or
        another port.
        """
        url = attachment.url
        if not url:
            raise Rejected("this Ozon attachment has no link")
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not (host.endswith(".ozon.ru") or host.endswith(".ozone.ru")):
            raise Rejected(f"not an Ozon file link: {host or url[:60]}")
        if self.account.base_url:
            url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {k: v for k, v in self._headers().items() if k != "Content-Type"}
        response, size, content = await self._download_into(BUDGET_KEY, url, headers, sink, cap)
        if response.status_code >= 300:
            self._decode(response, "file download", sending=False)
        if response.status_code != 200:
            raise Rejected(f"Ozon answered the download with {response.status_code}; nothing was saved")
        return Download(content=content, content_type=response.headers.get("content-type"), size=size)

    async def test(self) -> str:
        data = self._obj(await self._call("/v3/chat/list", {"limit": 1}), "/v3/chat/list")
        unread = data.get("total_unread_count")
        suffix = f"; {unread} unread messages" if unread is not None else ""
        return f"Ozon chat API works for Client-Id {self.account.settings.get('client_id')}{suffix}"


OZON_ERRORS = ErrorTable(
    name="Ozon",
    rules=(),  # HTTP's own meaning is enough; a 403 naming the subscription is a common row
    words={
        "bad_credentials": (
            "Ozon refused the credentials ({status}: {text}). Check the Client-Id and Api-Key in Seller "
            "cabinet → Settings → API keys (keys expire after 6 months)"
        ),
        "missing_access": (
            "Ozon: the seller's subscription does not include this ({status}: {text}); buyer chat history "
            "and replies need Premium Plus or Premium Pro. The chat list and unread counts still show"
        ),
        "quota": "Ozon rate limit reached; waiting {seconds} s ({text})",
        "down": "Ozon server error {status} ({text}); chatdesk retries on its own",
        "rejected": "Not sent: Ozon: {text}",
    },
    text_fields=("message", "error", "details"),
    retry_headers=("Retry-After",),
    default_wait=60.0,
)


def ozon_error(response: httpx.Response, secret: str) -> ConnectorError:
    """An Ozon refusal as its typed error, by :data:`OZON_ERRORS`.

    Shape (OZ-26-07): ``rpcStatus`` ``{code, message, details}`` for every 4xx/5xx; a firewall
    or maintenance page is HTML. 429 waits ``Retry-After`` seconds (clamped to 1 s–1 h; 60 s
    when absent, as the spec names no header). A 403 whose words name the subscription
    (Premium) is ``missing_access``, any other 401/403 ``bad_credentials``.
    """
    return OZON_ERRORS.error(response, secret)


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    low = text.lower()
    return any(w in low for w in words)
