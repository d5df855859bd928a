"""Yandex Market Partner API chats (``/v2/businesses/{businessId}/chats…``, header ``Api-Key``).

Wire facts this module relies on (official spec, ``yandex-market-partner-api`` @2026-07-17):

* ``POST …/chats?limit≤20&pageToken=`` with a JSON filter body lists chats; each carries
  ``updatedAt`` (time of the last message), ``status`` and ``context`` (order/return, customer).
* ``POST …/chats/history?chatId=&limit≤100&pageToken=`` with body ``{"messageIdFrom": id}``
  (the body is required, so ``{}`` when there is no filter). The spec says neither whether the
  boundary is inclusive nor what order messages come in, so we dedupe and sort ourselves.
* ``POST …/chats/message?chatId=`` ``{"message": 1..4096 chars}``; ``POST …/chats/file/send``
  multipart field ``file`` (≤ 5 MB). Text and a file never travel in one request.
* Errors are ``{"status":"ERROR","errors":[{code,message}]}``; the rate limit answer is HTTP
  **420** with ``X-RateLimit-Resource-Until`` (a date-time). Limits are per method per hour.

Polling cost. YM has no event feed and no "changed since" filter, so every poll lists all
chats: an idle poll costs ``ceil(chats / 20)`` getChats requests and **zero** history requests
(a chat's history is fetched only when its ``updatedAt`` differs from the stored version). We
cannot stop listing early because the spec does not promise any ordering, and filtering out
FINISHED chats would hide a chat that finishes (or is created and finished) between polls.
"""

from __future__ import annotations

import email.utils
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import httpx

from chatdesk import marketplaces
from chatdesk.connectors.base import (
    AccountConfig,
    Attachment,
    AuthError,
    ChatInfo,
    ChatRef,
    Connector,
    Download,
    KnownChat,
    Limits,
    MessageInfo,
    OutgoingFile,
    Page,
    RateLimited,
    Rejected,
    StreamUnavailable,
    TransientError,
    exact_id,
    loads_exact,
    parse_iso,
    redact,
)
from chatdesk.ratelimit import Budget, RateLimiter

HOST = "https://api.partner.market.yandex.ru"
LIST_LIMIT = 20  # spec maximum for getChats
HISTORY_LIMIT = 100  # spec maximum for getChatHistory
# Limits and budgets are the marketplace row's (chatdesk.marketplaces, which cites the spec).
ROW = marketplaces.YANDEX
MAX_TEXT = ROW.limits["chat"].max_text
MAX_FILE = ROW.limits["chat"].max_file_size or 0
DEFAULT_RETRY = 60.0
AUTH_HINT = (
    "check the Api-Key token and the business id in the Yandex Market partner portal "
    "(Settings → API and modules); the token needs the 'communication' or 'all-methods' scope"
)
BUDGETS: dict[str, Budget] = dict(ROW.budgets)  # published limits per method per hour
AUTHORS = {"customer": "buyer", "partner": "seller", "market": "marketplace", "support": "marketplace"}
FINISHED = "FINISHED"


def _norm_time(value: object) -> str:
    """``updatedAt`` as ISO UTC, so the stored version compares equal however YM spells the
    offset (``+03:00`` vs ``Z``) for the same instant."""
    text = str(value)
    try:
        return parse_iso(text).isoformat()
    except ValueError:
        return text


def _retry_after(response: httpx.Response) -> float:
    """Seconds until ``X-RateLimit-Resource-Until`` (ISO date-time, or HTTP date), else 60."""
    raw = response.headers.get("X-RateLimit-Resource-Until") or ""
    until: datetime | None = None
    try:
        until = parse_iso(raw)
    except ValueError:
        try:
            until = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            until = None
    if until is None:
        return DEFAULT_RETRY
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return min(3600.0, max(1.0, (until - datetime.now(UTC)).total_seconds()))


def _error_text(response: httpx.Response) -> str:
    """The envelope's ``errors[].message`` (or code), the marketplace's own words."""
    try:
        body = loads_exact(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        parts = [
            str(e.get("message") or e.get("code"))
            for e in body["errors"]
            if isinstance(e, dict) and (e.get("message") or e.get("code"))
        ]
        if parts:
            return "; ".join(parts)
    return response.reason_phrase or f"HTTP {response.status_code}"


class YandexConnector(Connector):
    """One Yandex Market business (``settings["business_id"]``) and its buyer chats."""

    marketplace = "yandex"
    label = ROW.label
    streams = ("chats",)
    limits: ClassVar[Mapping[str, Limits]] = ROW.limits
    files_per_request = 1  # /chats/file/send takes one file and no text

    def __init__(self, account: AccountConfig, client: httpx.AsyncClient, limiter: RateLimiter | None = None):
        super().__init__(account, client, limiter)
        for key, budget in BUDGETS.items():
            self.limiter.budgets.setdefault(key, budget)
        self.base = (account.base_url or HOST).rstrip("/")

    def secret_headers(self) -> dict[str, str]:
        return {"Api-Key": self.account.secret}

    # ------------------------------------------------------------------------- transport

    def _url(self, suffix: str) -> str:
        business = str(self.account.settings.get("business_id") or "").strip()
        if not business.isdigit():
            raise AuthError(f"Yandex Market account has no numeric business_id setting: {AUTH_HINT}")
        return f"{self.base}/v2/businesses/{business}{suffix}"

    def _redact(self, text: str) -> str:
        return redact(text, self.account.secret)

    def _check(self, key: str, response: httpx.Response) -> None:
        """Map a non-2xx answer to the typed errors (420 also blocks the method's bucket)."""
        status = response.status_code
        if status < 400:
            return
        text = self._redact(_error_text(response))
        if status in (420, 429):
            wait = _retry_after(response)
            self.limiter.block(key, wait)
            raise RateLimited(f"Yandex Market rate limit for {key}: {text}", retry_after=wait, status=status)
        if status in (401, 403):
            raise AuthError(f"Yandex Market refused the Api-Key ({status}: {text}); {AUTH_HINT}", status=status)
        if status >= 500:
            raise TransientError(f"Yandex Market server error {status}: {text}", status=status)
        raise Rejected(f"Yandex Market: {text}", status=status)

    async def _call(self, key: str, method: str, suffix: str, **kwargs: Any) -> dict[str, Any]:
        """A JSON API call; returns the envelope, raising on HTTP or envelope errors."""
        headers = {"Api-Key": self.account.secret, "Accept": "application/json"}
        response = await self.http(key, method, self._url(suffix), headers=headers, **kwargs)
        self._check(key, response)
        status = response.status_code
        try:
            body = loads_exact(response.content)
        except ValueError:
            raise TransientError(f"Yandex Market sent malformed JSON for {key}", status=status) from None
        if not isinstance(body, dict):
            raise TransientError(f"Yandex Market sent an unexpected body for {key}", status=status)
        if str(body.get("status", "OK")).upper() == "ERROR":
            raise Rejected(f"Yandex Market: {self._redact(_error_text(response))}", status=status)
        return body

    # ------------------------------------------------------------------------- polling

    async def poll(self, stream: str, cursor: str | None, known: Mapping[str, KnownChat]) -> AsyncIterator[Page]:
        """List every chat; fetch history only for chats whose ``updatedAt`` moved.

        Each changed chat is yielded as one Page holding its whole new history and its
        version, because YM's history order is unspecified: committing part of it could set
        the stored ``last_message_id`` past messages we never fetched. Chats seen twice in
        one poll (overlapping pages) are processed once. The cursor stays None.
        """
        if stream != "chats":
            raise StreamUnavailable(f"Yandex Market has no {stream!r} stream")
        seen: set[str] = set()
        tokens: Counter[str] = Counter()
        token: str | None = None
        while True:
            params: dict[str, Any] = {"limit": LIST_LIMIT}
            if token:
                params["pageToken"] = token
            body = await self._call("getChats", "POST", "/chats", params=params, json={})
            result = body.get("result") or {}
            status_only: list[ChatInfo] = []
            for raw in result.get("chats") or []:
                info = self._parsed(self._chat_info, raw)
                if info.external_id in seen:
                    continue
                seen.add(info.external_id)
                prior = known.get(info.external_id)
                if prior is not None and prior.version == info.version:
                    if (prior.status or "").upper() != (info.status or "").upper():
                        status_only.append(ChatInfo(info.external_id, status=info.status))
                    continue
                yield await self._history_page(info, prior)
            if status_only:
                yield Page(chats=tuple(status_only))
            token = self._next_token(result, tokens)
            if token is None:
                return

    @staticmethod
    def _next_token(result: Mapping[str, Any], tokens: Counter[str]) -> str | None:
        """``paging.nextPageToken``, or None on the last page. A server that replays a page
        hands out the same token again, which is fine once; a token that keeps coming back
        means paging is stuck, and looping on it would burn the hourly budget."""
        raw = (result.get("paging") or {}).get("nextPageToken")
        if not raw:
            return None
        token = str(raw)
        tokens[token] += 1
        if tokens[token] > 3:
            raise TransientError("Yandex Market paging is not advancing (the same page token keeps coming back)")
        return token

    @staticmethod
    def _parsed(parse: Any, raw: Any, *args: Any) -> Any:
        """Parse one wire object; a broken one is a server fault worth retrying, not a crash."""
        try:
            return parse(raw, *args)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise TransientError(f"Yandex Market sent an unreadable chat object ({exc!r})") from None

    def _chat_info(self, raw: Mapping[str, Any]) -> ChatInfo:
        context = raw.get("context") or {}
        order = context.get("orderId") or raw.get("orderId")
        extra = {
            "returnId": context.get("returnId"),
            "contextType": context.get("type"),
            "chatType": raw.get("type"),
        }
        updated = raw.get("updatedAt")
        return ChatInfo(
            external_id=exact_id(raw["chatId"]),
            customer=(context.get("customer") or {}).get("name") or None,
            order_id=exact_id(order) if order is not None else None,
            status=str(raw["status"]).upper() if raw.get("status") else None,
            context={k: str(v) for k, v in extra.items() if v is not None},
            version=_norm_time(updated) if updated is not None else None,
            last_message_at=parse_iso(str(updated)) if updated is not None else None,
        )

    async def _history_page(self, info: ChatInfo, prior: KnownChat | None) -> Page:
        """All messages after the stored last one, deduped and sorted, plus the versioned chat."""
        since = prior.last_message_id if prior is not None else None
        floor = int(since) if since and since.isdigit() else None
        # The spec leaves open whether messageIdFrom is inclusive (the sandbox makes it so) and
        # answers may overlap: drop everything up to it, which is stored already because a
        # chat's history is only ever committed whole.
        body: dict[str, int] = {"messageIdFrom": floor} if floor is not None else {}
        found: dict[str, MessageInfo] = {}
        tokens: Counter[str] = Counter()
        token: str | None = None
        while True:
            params: dict[str, Any] = {"chatId": info.external_id, "limit": HISTORY_LIMIT}
            if token:
                params["pageToken"] = token
            data = await self._call("getChatHistory", "POST", "/chats/history", params=params, json=body)
            result = data.get("result") or {}
            for raw in result.get("messages") or []:
                message = self._parsed(self._message, raw, info.external_id)
                if floor is None or int(message.external_id) > floor:
                    found.setdefault(message.external_id, message)
            token = self._next_token(result, tokens)
            if token is None:
                break
        messages = sorted(found.values(), key=lambda m: (int(m.external_id), m.created_at))
        preview = None
        if messages:
            newest = max(messages, key=lambda m: (m.created_at, int(m.external_id)))
            preview = newest.text or ", ".join(a.name for a in newest.attachments) or None
        return Page(chats=(replace(info, preview=preview),), messages=tuple(messages))

    def _message(self, raw: Mapping[str, Any], chat_id: str) -> MessageInfo:
        sender = str(raw.get("sender") or "").lower()
        files = tuple(
            Attachment(
                name=str(p.get("name") or "file"),
                size=int(p["size"]) if p.get("size") is not None else None,
                url=str(p["url"]) if p.get("url") else None,
            )
            for p in raw.get("payload") or ()
            if isinstance(p, dict)
        )
        return MessageInfo(
            chat_external_id=chat_id,
            external_id=exact_id(raw["messageId"]),
            author=AUTHORS.get(sender, "marketplace"),  # type: ignore[arg-type]
            text=str(raw.get("message") or ""),
            created_at=parse_iso(str(raw["createdAt"])),
            attachments=files,
        )

    # ------------------------------------------------------------------------- sending

    async def send(self, chat: ChatRef, text: str, files: tuple[OutgoingFile, ...] = ()) -> None:
        """Text first, then each file in its own request (YM takes one file per call and no
        text beside it). Everything is checked before the first request, so a refusal never
        leaves half a reply behind."""
        if (chat.status or "").upper() == FINISHED:
            raise Rejected("the chat is finished: Yandex Market does not accept replies to finished chats")
        if not text.strip() and not files:
            raise Rejected("nothing to send: the message is empty")
        if len(text) > MAX_TEXT:
            raise Rejected(f"the message is {len(text)} characters; Yandex Market accepts at most {MAX_TEXT}")
        for f in files:
            if len(f.content) > MAX_FILE:
                raise Rejected(f"{f.name} is larger than 5 MB, the Yandex Market limit for chat files")
        params = {"chatId": chat.external_id}
        if text.strip():
            await self._call("sendMessageToChat", "POST", "/chats/message", params=params, json={"message": text})
        for f in files:
            await self._call(
                "sendFileToChat",
                "POST",
                "/chats/file/send",
                params=params,
                files={"file": (f.name, f.content, f.content_type)},
            )

    async def download(self, chat: ChatRef, attachment: Attachment) -> Download:
        """GET the payload ``url``. The Api-Key goes only to the API's own host (or the
        configured base_url's host): a file link on another host must never receive the key."""
        if not attachment.url:
            raise Rejected(f"{attachment.name} has no download link")
        url = urljoin(self.base + "/", attachment.url)
        trusted = {urlsplit(self.base).netloc, urlsplit(HOST).netloc}
        headers = {"Api-Key": self.account.secret} if urlsplit(url).netloc in trusted else {}
        response = await self.http("download", "GET", url, headers=headers)
        self._check("download", response)
        return Download(content=response.content, content_type=response.headers.get("content-type"))

    async def test(self) -> str:
        body = await self._call("getChats", "POST", "/chats", params={"limit": 1}, json={})
        count = len((body.get("result") or {}).get("chats") or [])
        business = self.account.settings.get("business_id")
        return f"Yandex Market business {business}: chat list readable ({count} chat(s) on the first page)"
