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

from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, ClassVar
from urllib.parse import urljoin

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
    OutgoingFile,
    Page,
    RateLimited,
    Rejected,
    StreamUnavailable,
    TooManyParallel,
    TransientError,
    exact_id,
    loads_exact,
    parse_http_date,
    parse_iso,
    redact,
)
from chatdesk.connectors.errors import ErrorTable, rule
from chatdesk.ratelimit import Budget, RateLimiter

HOST = "https://api.partner.market.yandex.ru"
LIST_LIMIT = 20  # spec maximum for getChats
HISTORY_LIMIT = 100  # spec maximum for getChatHistory
# Paging bounds per poll. getChats: 250 pages are 5,000 chats, the whole hourly getChats
# budget (marketplaces.py); a chat's history: 100 pages are 10,000 messages. A token that came
# back TOKEN_REPEATS times, or STALL_PAGES pages in a row with nothing new, end paging too.
MAX_LIST_PAGES = 250
MAX_HISTORY_PAGES = 100
TOKEN_REPEATS = 3
STALL_PAGES = 3
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
AUTHORS: dict[str, Author] = {
    "customer": "buyer",
    "partner": "seller",
    "market": "marketplace",
    "support": "marketplace",
}
FINISHED = "FINISHED"


def _norm_time(value: object) -> str:
    """``updatedAt`` as ISO UTC, so the stored version compares equal however YM spells the
    offset (``+03:00`` vs ``Z``) for the same instant."""
    text = str(value)
    try:
        return parse_iso(text).isoformat()
    except ValueError:
        return text


YM_ERRORS = ErrorTable(
    name="Yandex Market",
    rules=(
        # The cabinet-wide limit on simultaneous requests answers 420 "Hit rate limit of N
        # parallel requests" without the X-RateLimit-Resource-* headers of a method quota.
        rule("parallel", 420, 429, words=("parallel", "параллельн", "одновременн")),
        rule("parallel", 420, without_headers=("x-ratelimit-resource",)),
        rule("quota", 420),
    ),
    words={
        "bad_credentials": "Yandex Market refused the Api-Key ({status}: {text}); " + AUTH_HINT,
        "missing_access": "Yandex Market: this Api-Key or cabinet has no access to this ({status}: {text}); "
        + AUTH_HINT,
        "quota": "Yandex Market rate limit for {method}: {text}; waiting {seconds} s",
        "parallel": "Yandex Market: too many simultaneous requests for this cabinet ({text}); retrying in a moment",
        "down": "Yandex Market server error {status}: {text}",
        "rejected": "Yandex Market: {text}",
    },
    text_fields=("errors", "message", "error"),
    retry_headers=("X-RateLimit-Resource-Until", "Retry-After"),
    default_wait=DEFAULT_RETRY,
)


def yandex_error(response: httpx.Response, secret: str, method: str = "") -> ConnectorError:
    """A Yandex Market refusal as its typed error, by :data:`YM_ERRORS`.

    Shape (YM-spec ``ApiErrorResponse``): ``{"status": "ERROR", "errors": [{code, message}]}``.
    A method quota is HTTP 420 with ``X-RateLimit-Resource-Until`` (a date-time): wait until
    then (clamped to 1 s–1 h; 60 s when unusable). A 420 without those headers, or naming
    parallel requests, is the cabinet's concurrency limit: a short jittered pause.
    """
    return YM_ERRORS.error(response, secret, method=method or "this method")


UPDATED_AT_PRECISION = timedelta(seconds=1)  # ``updatedAt`` comes to the second
CLOCK_MARGIN = timedelta(seconds=1)  # the Date header is to the second too


def _date_header(response: httpx.Response) -> datetime:
    """The server's clock from ``Date`` (HTTP date), else ours."""
    try:
        return parse_http_date(response.headers.get("date", ""))
    except ValueError:
        return datetime.now(UTC)


def _ascii_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _cursor_time(cursor: str | None) -> datetime | None:
    if not cursor:
        return None
    try:
        return parse_iso(cursor)
    except ValueError:
        return None


def _within_precision(info: ChatInfo, previous: datetime | None) -> bool:
    """Could a message have come after the last read in the same second as ``updatedAt``?
    True when the chat's ``updatedAt`` is within its precision (plus the clock's) of when the
    previous listing began: then its history is re-read from the last message id (one cheap
    request), because an unchanged marker proves nothing within its precision."""
    if previous is None or info.last_message_at is None:
        return False
    return info.last_message_at >= previous - UPDATED_AT_PRECISION - CLOCK_MARGIN


def _error_text(response: httpx.Response) -> str:
    """The envelope's ``errors[].message`` (or code), the marketplace's own words."""
    return YM_ERRORS.answer(response).text or response.reason_phrase or f"HTTP {response.status_code}"


class YandexConnector(Connector):
    """One Yandex Market business (``settings["business_id"]``) and its buyer chats."""

    marketplace = "yandex"
    label = ROW.label
    streams = ("chats",)
    limits: ClassVar[Mapping[str, Limits]] = ROW.limits
    official_hosts = (HOST,)

    def __init__(self, account: AccountConfig, client: httpx.AsyncClient, limiter: RateLimiter | None = None):
        super().__init__(account, client, limiter)
        for key, budget in BUDGETS.items():
            self.limiter.budgets.setdefault(key, budget)
        self.base = (account.base_url or HOST).rstrip("/")
        self._server_now: datetime | None = None  # the Date of the latest answer

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
        """Raise the typed error of a non-2xx answer (:func:`yandex_error`); a quota refusal
        also blocks the method's bucket until the announced time."""
        if response.status_code < 400:
            return
        error = yandex_error(response, self.account.secret, key)
        if isinstance(error, RateLimited) and not isinstance(error, TooManyParallel):
            self.limiter.block(key, error.retry_after)
        raise error

    async def _call(self, key: str, method: str, suffix: str, **kwargs: Any) -> dict[str, Any]:
        """A JSON API call; returns the envelope, raising on HTTP or envelope errors."""
        headers = {"Api-Key": self.account.secret, "Accept": "application/json"}
        response = await self.http(key, method, self._url(suffix), headers=headers, **kwargs)
        self._server_now = _date_header(response)
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
        one poll (overlapping pages) are processed once. An unreadable chat or message is a
        bad item (recorded with its raw id), never a failed round. The cursor is when the
        listing began; see :func:`_within_precision`.
        """
        if stream != "chats":
            raise StreamUnavailable(f"Yandex Market has no {stream!r} stream")
        previous = _cursor_time(cursor)
        started: datetime | None = None
        seen: set[str] = set()
        tokens: Counter[str] = Counter()
        token: str | None = None
        stalls = 0
        for pages in range(1, MAX_LIST_PAGES + 1):
            params: dict[str, Any] = {"limit": LIST_LIMIT}
            if token:
                params["pageToken"] = token
            body = await self._call("getChats", "POST", "/chats", params=params, json={})
            started = started or self._server_now
            result = body.get("result") or {}
            status_only: list[ChatInfo] = []
            bad: list[BadItem] = []
            before = len(seen)
            for raw in result.get("chats") or []:
                try:
                    info = self._chat_info(raw)
                except (KeyError, ValueError, TypeError, AttributeError) as exc:
                    raw_id = raw.get("chatId") if isinstance(raw, dict) else None
                    reason = f"chat skipped: {type(exc).__name__}"
                    bad.append(BadItem(str(raw_id) if raw_id is not None else "", reason))
                    continue
                if info.external_id in seen:
                    continue
                seen.add(info.external_id)
                stalls = 0
                prior = known.get(info.external_id)
                if prior is not None and prior.version == info.version and not _within_precision(info, previous):
                    if (prior.status or "").upper() != (info.status or "").upper():
                        status_only.append(ChatInfo(info.external_id, status=info.status))
                    continue
                yield await self._history_page(info, prior)
            stalls += len(seen) == before
            token, why = self._next_token(result, tokens)
            if token is not None and why is None:
                if stalls >= STALL_PAGES:
                    why = f"{stalls} pages in a row brought no new chat"
                elif pages >= MAX_LIST_PAGES:
                    why = f"page cap of {MAX_LIST_PAGES} reached"
            if why is not None:
                # What was listed is stored; the cursor stays, so the next poll lists again.
                stop = f"chat list paging stopped after {pages} pages: {why}"
                bad.append(BadItem(f"paging:{(token or '')[:40]}", stop))
            if status_only or bad:
                yield Page(chats=tuple(status_only), bad_items=tuple(bad))
            if why is not None:
                return
            if token is None:
                # The cursor is when this listing began (the server's clock): chats whose
                # updatedAt is within its one-second precision of it are re-read next time.
                yield Page(cursor=(started or datetime.now(UTC)).isoformat())
                return

    @staticmethod
    def _next_token(result: Mapping[str, Any], tokens: Counter[str]) -> tuple[str | None, str | None]:
        """``paging.nextPageToken`` (None on the last page) and why paging must stop, if it
        must. A server that replays a page hands out the same token again, which is fine
        once or twice; a token that keeps coming back means paging is stuck, and looping on
        it would burn the hourly budget."""
        raw = (result.get("paging") or {}).get("nextPageToken")
        if not raw:
            return None, None
        token = str(raw)
        tokens[token] += 1
        if tokens[token] > TOKEN_REPEATS:
            return token, "the same page token keeps coming back"
        return token, None

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
        floor = int(since) if since and _ascii_digits(since) else None
        bad: list[BadItem] = []
        # The spec leaves open whether messageIdFrom is inclusive (the sandbox makes it so) and
        # answers may overlap: drop everything up to it, which is stored already because a
        # chat's history is only ever committed whole.
        body: dict[str, int] = {"messageIdFrom": floor} if floor is not None else {}
        found: dict[str, MessageInfo] = {}
        tokens: Counter[str] = Counter()
        token: str | None = None
        stalls = 0
        for pages in range(1, MAX_HISTORY_PAGES + 1):
            params: dict[str, Any] = {"chatId": info.external_id, "limit": HISTORY_LIMIT}
            if token:
                params["pageToken"] = token
            data = await self._call("getChatHistory", "POST", "/chats/history", params=params, json=body)
            result = data.get("result") or {}
            before = len(found) + len(bad)
            for raw in result.get("messages") or []:
                try:
                    message = self._message(raw, info.external_id)
                    number = int(message.external_id) if _ascii_digits(message.external_id) else None
                except (KeyError, ValueError, TypeError, AttributeError) as exc:
                    raw_id = raw.get("messageId") if isinstance(raw, dict) else None
                    bad.append(
                        BadItem(
                            str(raw_id) if raw_id is not None else "",
                            f"message skipped: {type(exc).__name__}",
                            info.external_id,
                        )
                    )
                    continue
                if number is None:
                    bad.append(BadItem(message.external_id, "message skipped: id is not a number", info.external_id))
                    continue
                if floor is None or number > floor:
                    found.setdefault(message.external_id, message)
            stalls = stalls + 1 if len(found) + len(bad) == before else 0
            token, why = self._next_token(result, tokens)
            if token is None:
                break
            if why is None and (stalls >= STALL_PAGES or pages >= MAX_HISTORY_PAGES):
                why = "pages bring nothing new" if stalls >= STALL_PAGES else f"page cap of {MAX_HISTORY_PAGES} reached"
            if why is not None:
                # Committing part of an unordered history could move the chat's last message
                # past one never fetched: record the stop, keep the chat without its version
                # (read again next poll) and none of this history; other chats go on.
                stop = f"history paging stopped after {pages} pages: {why}"
                bad.append(BadItem(f"paging:{token[:40]}", stop, info.external_id))
                return Page(chats=(replace(info, version=None),), bad_items=tuple(bad))
        messages = sorted(found.values(), key=lambda m: (int(m.external_id), m.created_at))
        preview = None
        if messages:
            newest = max(messages, key=lambda m: (m.created_at, int(m.external_id)))
            preview = newest.text or ", ".join(a.name for a in newest.attachments) or None
        return Page(chats=(replace(info, preview=preview),), messages=tuple(messages), bad_items=tuple(bad))

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
            author=AUTHORS.get(sender, "marketplace"),
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

    async def download(
        self, chat: ChatRef, attachment: Attachment, sink: BinaryIO | None = None, cap: int | None = None
    ) -> Download:
        """GET the payload ``url``. The Api-Key is offered, and ``Connector.fetch`` sends it only
        to the exact configured origin (https API host, or the base_url): a file link on any
        other scheme, host or port never receives it."""
        if not attachment.url:
            raise Rejected(f"{attachment.name} has no download link")
        url = urljoin(self.base + "/", attachment.url)
        response, size, content = await self._download_into(
            "download", url, {"Api-Key": self.account.secret}, sink, cap
        )
        self._check("download", response)
        if response.status_code != 200:
            raise Rejected(f"Yandex Market answered the download with {response.status_code}; nothing was saved")
        return Download(content=content, content_type=response.headers.get("content-type"), size=size)

    async def test(self) -> str:
        body = await self._call("getChats", "POST", "/chats", params={"limit": 1}, json={})
        count = len((body.get("result") or {}).get("chats") or [])
        business = self.account.settings.get("business_id")
        return f"Yandex Market business {business}: chat list readable ({count} chat(s) on the first page)"
