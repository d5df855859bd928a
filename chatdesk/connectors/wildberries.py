"""Wildberries: buyer chats (buyer-chat-api) and product questions (feedbacks-api).

Wire format: WB OpenAPI ``09-communications`` (2026-07-22 snapshot). Summary of what this
module relies on and why:

* **Chats** have no per-chat history endpoint; ``GET /api/v1/seller/events`` is one global,
  chronological feed. The spec's rule is followed literally: the first request goes
  without ``next``, then ``next`` from each answer is sent back until ``totalEvents == 0``.
  The stream cursor is the last ``result.next`` (a millisecond timestamp, kept as text); a
  ``null`` ``next`` keeps the previous cursor. ``eventID`` is the message id; events without
  ``message`` are skipped but still move the cursor.
* ``replySign`` (needed to send) only comes from the chat list or from an ``isNewChat``
  event, so ``GET /api/v1/seller/chats`` is requested on the first sync, and later only
  when the feed mentions a chat that is neither in ``known`` nor introduced by its own
  ``isNewChat`` event in this poll (at most once per poll).
* **Questions** become conversations of kind ``question`` with external id ``q:<id>`` (the
  ``q:`` prefix keeps them apart from chat ids such as ``1:<uuid>``); the buyer's question
  is message ``<id>:q`` and the seller's answer ``<id>:a``. The cursor is JSON
  ``{"from": <unix seconds>}``: the newest ``createdDate`` seen, minus a safety margin.

Requests per **idle** poll (nothing new anywhere):

* ``chats``: exactly **1** (one events request answering ``totalEvents: 0``).
* ``questions``: **2** — the unanswered list (all open questions, one page of
  ``questions_take``) and the answered list since the cursor (``dateFrom``). A question the
  store knows as unanswered that left the unanswered list without showing up in the answered
  window costs one ``GET /api/v1/question`` (it was answered on the WB portal).

Rate budgets (client side, per account): each chat method 10 requests / 10 s with burst 10
(``download`` the same); every questions method shares 3 requests / s with burst 6.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, ClassVar

import httpx

from chatdesk import marketplaces
from chatdesk.connectors.base import (
    AccountConfig,
    Attachment,
    AuthError,
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
    SendReceipt,
    StreamUnavailable,
    TransientError,
    json_array,
    json_object,
    jwt_expiry,
    loads_exact,
    parse_iso,
    redact,
    utc_from_epoch,
)
from chatdesk.connectors.errors import ErrorTable, rule
from chatdesk.ratelimit import Budget, RateLimiter

CHAT_HOST = "https://buyer-chat-api.wildberries.ru"
QUESTIONS_HOST = "https://feedbacks-api.wildberries.ru"

MB = 1024 * 1024
# Limits and budgets are the marketplace row's (chatdesk.marketplaces, which cites the spec);
# these names stay for the code and tests that import them from here.
ROW = marketplaces.WILDBERRIES
CHAT_LIMITS = ROW.limits["chat"]  # a message may be files only (min_text 0)
QUESTION_LIMITS = ROW.limits["question"]
REPLY_SIGN_MAX = 255

CHAT_BUDGET = ROW.budgets["wb.chats"]
QUESTIONS_BUDGET = ROW.budgets["wb.questions"]  # one budget for the whole "Вопросы и отзывы" category
BUDGETS: dict[str, Budget] = dict(ROW.budgets)

SENDERS = {"client": "buyer", "seller": "seller", "wb": "marketplace"}
QUESTIONS_CATEGORY_MISSING = (
    "the token has no 'Вопросы и отзывы' category (or it was refused on feedbacks-api); "
    "questions are unavailable for this account. Create a token with that category to read and answer them"
)
EDIT_ONCE_NOTE = "WB lets an answer be edited only once within 60 days of sending it"
QUESTIONS_FIRST_WINDOW = timedelta(days=30)  # how far back the first sync reads answered questions
QUESTIONS_MARGIN_S = 300  # re-read this many seconds before the newest question seen (indexing lag)
MAX_PAGES_PER_POLL = 1000  # a safety stop; the cursor is persisted so the next poll continues
MAX_STALLS = 3  # events pages in a row with nothing new end a poll (a feed replaying itself)
# A ``next`` is a ms timestamp (spec: "next" = the time to read events from). One further ahead
# than this of both the machine's clock and the newest event it came with is not a time but a
# wrong unit (µs) or garbage: following it would skip every event until then, for good.
NEXT_AHEAD_MS = 24 * 3600 * 1000
FIRST_CURSOR_MARGIN_S = 60  # an empty first answer without ``next``: resume from a minute ago
SIGN_REFRESH = timedelta(hours=6)  # re-read the chat list (fresh replySigns) this often while running


def jwt_warning(token: str, now: datetime | None = None) -> str | None:
    """A plain warning when a WB token (a JWT) has expired or expires within 7 days."""
    expiry = jwt_expiry(token)
    if expiry is None:
        return None
    current = now or datetime.now(UTC)
    day = expiry.strftime("%Y-%m-%d")
    if expiry <= current:
        return f"The Wildberries token expired on {day}; create a new one in the WB seller portal."
    if expiry - current <= timedelta(days=7):
        days = max(0, (expiry - current).days)
        return f"The Wildberries token expires on {day} (in {days} day(s)); create a new one soon."
    return None


class WildberriesConnector(Connector):
    marketplace: ClassVar[str] = "wildberries"
    label: ClassVar[str] = ROW.label
    official_hosts: ClassVar[tuple[str, ...]] = (CHAT_HOST, QUESTIONS_HOST)
    streams: ClassVar[tuple[str, ...]] = ("chats", "questions")
    limits: ClassVar[Mapping[str, Limits]] = ROW.limits

    questions_take: int = 100  # questions per list request (take); tests lower it to page
    # What each stream needs of the store's chats (see SyncEngine._poll_stream): chats only asks
    # about the chats its events mention; questions walks the known questions.
    known_scope: ClassVar[Mapping[str, str]] = {"chats": "lazy", "questions": "question"}

    @staticmethod
    def clock() -> datetime:
        """Now, for the questions window; tests replace it to match a fixed sandbox clock."""
        return datetime.now(UTC)

    def __init__(self, account: AccountConfig, client: httpx.AsyncClient, limiter: RateLimiter | None = None):
        super().__init__(account, client, limiter)
        for key, budget in BUDGETS.items():
            self.limiter.budgets.setdefault(key, budget)
        base = (account.base_url or "").rstrip("/")
        self._list_read_at = self.clock()  # the chat list (and its signs) as of connector start
        self._fresh_signs: dict[str, str] = {}  # chat -> sign re-read after a refusal, for the store
        self.chat_host = base or CHAT_HOST
        self.questions_host = base or QUESTIONS_HOST

    # ------------------------------------------------------------------ http

    def secret_headers(self) -> dict[str, str]:
        token = self.account.secret
        if str(self.account.settings.get("auth_scheme", "")).lower() == "bearer":
            token = f"Bearer {token}"
        return {"Authorization": token}

    def _clean(self, text: str) -> str:
        return redact(text, self.account.secret)

    async def _request(self, key: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request with the budget, transport errors typed, and refusals classified by
        :func:`wildberries_error`. A plain refusal (``rejected``: 400/404/422 in WB's JSON) is
        returned to the caller, which knows the endpoint's error shape."""
        resp = await self.http(key, method, url, headers=self.secret_headers(), **kwargs)
        return self._mapped(key, resp)

    def _mapped(self, key: str, resp: httpx.Response) -> httpx.Response:
        """A refusal classified by :func:`wildberries_error` and raised; a plain refusal
        (``rejected``) and every success are returned to the caller."""
        if resp.status_code < 400:
            return resp
        error = wildberries_error(resp, self.account.secret)
        if isinstance(error, RateLimited):
            self.limiter.block(key, error.retry_after)
        if error.cause != "rejected":
            raise error
        return resp

    def _json(self, resp: httpx.Response) -> dict[str, Any]:
        try:
            body = loads_exact(resp.content)
        except ValueError:
            raise TransientError(
                f"Wildberries sent malformed JSON ({resp.status_code})", status=resp.status_code
            ) from None
        if not isinstance(body, dict):
            raise TransientError("Wildberries sent an unexpected JSON body", status=resp.status_code)
        return body

    def _refused(self, resp: httpx.Response) -> Rejected:
        error = wildberries_error(resp, self.account.secret, cause="rejected")
        assert isinstance(error, Rejected)
        return error

    def _ok_json(self, resp: httpx.Response) -> dict[str, Any]:
        """The body of a 2xx answer; any other 4xx here is a definite refusal."""
        if resp.status_code >= 400:
            raise self._refused(resp)
        return self._json(resp)

    # ------------------------------------------------------------------ chats

    async def _chat_list(self) -> list[dict[str, Any]]:
        resp = await self._request("wb.chats", "GET", f"{self.chat_host}/api/v1/seller/chats")
        body = self._ok_json(resp)
        _raise_errors(body)
        result = body.get("result") or []
        if not isinstance(result, list):
            raise TransientError("Wildberries sent an unexpected chat list")
        return [c for c in result if isinstance(c, dict) and c.get("chatID")]

    async def test(self) -> str:
        chats = await self._chat_list()
        return f"{len(chats)} chats"

    def poll(self, stream: str, cursor: str | None, known: Mapping[str, KnownChat]) -> AsyncIterator[Page]:
        if stream == "chats":
            return self._poll_chats(cursor, known)
        if stream == "questions":
            return self._poll_questions(cursor, known)
        raise ValueError(f"Wildberries has no stream {stream!r}")

    async def _poll_chats(self, cursor: str | None, known: Mapping[str, KnownChat]) -> AsyncIterator[Page]:
        listed: dict[str, dict[str, Any]] = {}
        list_fetched = False
        stale = self._sign_refresh_due()
        if cursor is None or stale or self._fresh_signs:
            if cursor is None or stale:
                listed = await self._listed()
                list_fetched = True
            # Signs re-read after a refusal (see ``send``) or on the schedule reach the store
            # here; chats whose events WB no longer serves still belong in the inbox.
            signs = [ChatInfo(external_id=k, reply_token=v) for k, v in self._fresh_signs.items() if k not in listed]
            self._fresh_signs.clear()
            described = [c for c in (_listed_chat(w) for w in listed.values()) if c is not None]
            if described or signs:
                yield Page(chats=(*described, *signs))
        # Chats introduced by their own isNewChat event in this poll; the store's are asked of
        # ``known`` one by one (it is a lazy mapping: an idle poll must not read every chat).
        introduced: set[str] = set()
        seen_events: set[str] = set()
        latest: dict[str, tuple[datetime, str]] = {}  # newest activity emitted per chat in this poll
        now_ms = int(self.clock().timestamp() * 1000)
        current = _next_ms(cursor)
        if current is not None and not _plausible_next(current, None, now_ms):
            # A cursor stored from an implausible ``next`` (an older chatdesk followed one):
            # start over from the chat list rather than wait for that time forever.
            yield Page(bad_items=(_bad_next(current, "stored events cursor ignored"),))
            if not list_fetched:
                listed = await self._listed()
                list_fetched = True
                described = [c for c in (_listed_chat(w) for w in listed.values()) if c is not None]
                if described:
                    yield Page(chats=tuple(described))
            current = None
        stalls = 0
        for _ in range(MAX_PAGES_PER_POLL):
            params = {"next": current} if current else None
            url = f"{self.chat_host}/api/v1/seller/events"
            resp = await self._request("wb.events", "GET", url, params=params)
            body = self._ok_json(resp)
            _raise_errors(body)
            result = body.get("result")
            if not isinstance(result, dict):
                raise TransientError("Wildberries sent events without a result")
            raw_events = json_array(result.get("events"))
            events = [e for e in raw_events if isinstance(e, dict) and _text(e.get("chatID"))]
            broken = [_bad_event(e, "no chat id") for e in raw_events if e not in events]
            new_next = _next_ms(result.get("next"))
            newest = _newest_ms(events)
            if new_next is not None and not _plausible_next(new_next, newest, now_ms):
                broken.append(_bad_next(new_next, "implausible events cursor ignored"))
                # Resume just after the newest event this page brought (the spec's own
                # meaning of ``next``), or stay where we are.
                new_next = newest + 1 if newest is not None else None
            if _count(result.get("totalEvents")) == 0 or not raw_events:
                if cursor is None and current is None:
                    # An empty first answer still gives a place to resume from, so the next
                    # idle poll is one events request, not the chat list again.
                    start = new_next or int((self.clock().timestamp() - FIRST_CURSOR_MARGIN_S) * 1000)
                    yield Page(cursor=str(start), bad_items=tuple(broken))
                elif broken:
                    yield Page(bad_items=tuple(broken))
                return
            for event in events:
                if event.get("isNewChat") and event.get("replySign"):
                    introduced.add(str(event["chatID"]))
            if not list_fetched and any(
                str(e["chatID"]) not in introduced and str(e["chatID"]) not in known for e in events
            ):
                listed = await self._listed()
                list_fetched = True
            fresh = [e for e in events if str(e.get("eventID") or "") not in seen_events]
            seen_events.update(str(e.get("eventID") or "") for e in events)
            # The feed may stall or go backwards (A, B, A, B…): the cursor never moves back,
            # and a poll ends once ``next`` stops advancing or pages bring nothing new.
            advancing = new_next is not None and (current is None or new_next > current)
            stalls = 0 if fresh else stalls + 1
            page = self._events_page(fresh, listed, latest, str(new_next) if advancing else None)
            yield replace(page, bad_items=page.bad_items + tuple(broken))
            if not advancing or stalls >= MAX_STALLS:
                return
            current = new_next

    async def _listed(self) -> dict[str, dict[str, Any]]:
        chats = await self._chat_list()
        self._list_read_at = self.clock()
        return {str(c["chatID"]): c for c in chats}

    def _sign_refresh_due(self) -> bool:
        """Signs are re-read every :data:`SIGN_REFRESH` while a connector lives (daemon, TUI):
        WB changed the ``replySign`` format on 2026-06-04 and may again."""
        return self.clock() - self._list_read_at >= SIGN_REFRESH

    def _events_page(
        self,
        events: list[dict[str, Any]],
        listed: Mapping[str, dict[str, Any]],
        latest: dict[str, tuple[datetime, str]],
        cursor: str | None,
    ) -> Page:
        messages: list[MessageInfo] = []
        bad: list[BadItem] = []
        facts: dict[str, dict[str, Any]] = {}
        for event in events:
            chat_id = str(event["chatID"])
            fact = facts.setdefault(chat_id, {})
            if event.get("replySign"):
                fact["reply_token"] = str(event["replySign"])
            if event.get("clientName") and _sender(event) == "buyer":
                fact["customer"] = str(event["clientName"])
            created = _event_time(event)
            if created is not None:
                fact["version"] = str(int(created.timestamp() * 1000))
            message = event.get("message")
            if not isinstance(message, dict):
                continue  # a non-message event: counted (the cursor moves past it), nothing to store
            if not _text(event.get("eventID")) or created is None:
                reason = "no event id" if not _text(event.get("eventID")) else "no usable addTimestamp or addTime"
                bad.append(_bad_event(event, reason))
                continue
            attachments_wire = _dict(message.get("attachments"))
            if isinstance(attachments_wire.get("goodCard"), dict):
                fact["good_card"] = attachments_wire["goodCard"]
            info = MessageInfo(
                chat_external_id=chat_id,
                external_id=str(event["eventID"]),
                author=_sender(event),
                text=str(message.get("text") or ""),
                created_at=created,
                attachments=_attachments(attachments_wire),
            )
            messages.append(info)
            preview = info.text or ", ".join(a.name for a in info.attachments)
            if chat_id not in latest or latest[chat_id][0] <= created:
                latest[chat_id] = (created, preview)
        chats: list[ChatInfo] = []
        for chat_id, fact in facts.items():
            wire = listed.get(chat_id, {})
            good_card = _dict(wire.get("goodCard")) or fact.get("good_card")
            last = wire.get("lastMessage")
            at = _maybe_time(last.get("addTimestamp")) if isinstance(last, dict) else None
            if isinstance(last, dict) and at is not None and (chat_id not in latest or latest[chat_id][0] < at):
                latest[chat_id] = (at, str(last.get("text") or ""))
            newest = latest.get(chat_id)
            chats.append(
                ChatInfo(
                    external_id=chat_id,
                    kind="chat",
                    customer=_text(wire.get("clientName")) or fact.get("customer"),
                    product_id=_nm_id(good_card),
                    reply_token=_text(wire.get("replySign")) or fact.get("reply_token"),
                    context=_card_context(good_card),
                    version=fact.get("version"),
                    last_message_at=newest[0] if newest else None,
                    preview=newest[1] if newest else None,
                )
            )
        return Page(chats=tuple(chats), messages=tuple(messages), cursor=cursor, bad_items=tuple(bad))

    # ------------------------------------------------------------------ questions

    async def _questions_request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            resp = await self._request("wb.questions", method, f"{self.questions_host}{path}", **kwargs)
        except (AuthError, StreamUnavailable) as exc:
            # A refusal of the questions host means this token lacks the category (a token
            # refused outright fails the chats stream too, in its own words); a firewall page
            # is not a category problem.
            if exc.status in (401, 402, 403) and exc.cause in ("bad_credentials", "missing_access"):
                raise MissingAccess(QUESTIONS_CATEGORY_MISSING, status=exc.status) from None
            raise
        if resp.status_code >= 400:
            raise self._refused(resp)
        body = self._json(resp)
        if body.get("error") is True:
            raise Rejected(self._clean(f"Wildberries refused: {body.get('errorText') or 'unknown error'}"))
        return body

    async def _question_list(self, answered: bool, date_from: int | None) -> list[dict[str, Any]]:
        take = self.questions_take
        out: list[dict[str, Any]] = []
        skip = 0
        while True:
            params: dict[str, Any] = {
                "isAnswered": "true" if answered else "false",
                "take": take,
                "skip": skip,
                "order": "dateAsc",
            }
            if date_from is not None:
                params["dateFrom"] = date_from
            body = await self._questions_request("GET", "/api/v1/questions", params=params)
            data = json_object(body.get("data"))
            batch = [q for q in (data.get("questions") or []) if isinstance(q, dict) and q.get("id")]
            out.extend(batch)
            skip += take
            if len(batch) < take or skip + take > 10_000:
                return out

    async def _poll_questions(self, cursor: str | None, known: Mapping[str, KnownChat]) -> AsyncIterator[Page]:
        now = int(self.clock().timestamp())
        date_from = _questions_from(cursor)
        if date_from is None:
            date_from = now - int(QUESTIONS_FIRST_WINDOW.total_seconds())
        open_questions = await self._question_list(False, None)
        answered = await self._question_list(True, date_from)
        seen = {str(q["id"]) for q in open_questions} | {str(q["id"]) for q in answered}
        for ext, known_chat in known.items():
            qid = ext[2:] if ext.startswith("q:") else None
            if qid and qid not in seen and (known_chat.status or "") == "unanswered":
                try:
                    body = await self._questions_request("GET", "/api/v1/question", params={"id": qid})
                except Rejected:
                    continue  # WB no longer has it (422 "Невозможно получить вопрос по id")
                if isinstance(body.get("data"), dict) and body["data"].get("id"):
                    answered.append(body["data"])
        changed: list[tuple[ChatInfo, list[MessageInfo]]] = []
        newest = 0
        for wire in [*open_questions, *answered]:
            converted = _question(wire)
            if converted is None:
                continue
            chat, messages, created = converted
            newest = max(newest, int(created.timestamp()))
            before = known.get(chat.external_id)
            if before is None or (before.status or "") != chat.status:
                changed.append((chat, messages))
        next_from = max(date_from, newest - QUESTIONS_MARGIN_S) if newest else date_from
        new_cursor = json.dumps({"from": next_from})
        if changed or new_cursor != cursor:
            yield Page(
                chats=tuple(c for c, _ in changed),
                messages=tuple(m for _, ms in changed for m in ms),
                cursor=new_cursor,
            )

    # ------------------------------------------------------------------ send / download

    async def send(self, chat: ChatRef, text: str, files: tuple[OutgoingFile, ...] = ()) -> SendReceipt | None:
        if chat.kind == "question":
            await self._answer_question(chat, text, files)
            return None
        _check_chat_message(text, files)
        sign = chat.reply_token
        if not sign:
            raise Rejected("no reply signature yet; sync first")
        try:
            return await self._send_signed(sign, text, files)
        except Rejected as exc:
            # WB changes the replySign format from time to time (2026-06-04): a sign cached
            # before is refused with 400 "Invalid signature". Fresh signs come only from the
            # chat list: re-read it and retry once with the chat's current sign.
            if exc.status != 400 or "signature" not in exc.message.lower():
                raise
            fresh = await self._fresh_sign(chat.external_id)
            if not fresh or fresh == sign:
                raise
            return await self._send_signed(fresh, text, files)

    async def _fresh_sign(self, chat_id: str) -> str | None:
        """The chat's current ``replySign`` from the chat list (kept for the next poll to
        store), or None if WB does not list the chat."""
        listed = await self._listed()
        for cid, wire in listed.items():
            sign = _text(wire.get("replySign"))
            if sign:
                self._fresh_signs[cid] = sign
        return self._fresh_signs.get(chat_id)

    async def _send_signed(self, sign: str, text: str, files: tuple[OutgoingFile, ...]) -> SendReceipt | None:
        """One ``POST /api/v1/seller/message`` with this sign."""
        if len(sign) > REPLY_SIGN_MAX:
            raise Rejected("the chat's reply signature is longer than WB allows; sync again")
        chat_sign = sign
        # Always multipart (WB accepts nothing else): text fields go as nameless file parts.
        parts: list[tuple[str, Any]] = [("replySign", (None, chat_sign))]
        if text:
            parts.append(("message", (None, text)))
        parts.extend(("file", (f.name, f.content, f.content_type)) for f in files)
        url = f"{self.chat_host}/api/v1/seller/message"
        resp = await self._request("wb.message", "POST", url, files=parts)
        body = self._ok_json(resp)
        errors = [self._clean(str(e)) for e in body.get("errors") or () if str(e).strip()]
        if not errors:
            return None
        if not body.get("result") or not files:
            raise Rejected(self._clean("Wildberries refused: " + "; ".join(errors)))
        # Per the spec ``errors`` beside a ``result`` are file-upload errors: the message was
        # created (and will be echoed); only the files named here are missing.
        return SendReceipt(failed_files=_failed_files(errors, files))

    async def _answer_question(self, chat: ChatRef, text: str, files: tuple[OutgoingFile, ...]) -> None:
        if files:
            raise Rejected("answers to WB questions cannot carry files")
        stripped = text.strip()
        if not stripped:
            raise Rejected("the answer is empty")
        if len(text) > QUESTION_LIMITS.max_text:
            limit = QUESTION_LIMITS.max_text
            raise Rejected(f"the answer is {len(text)} characters; chatdesk allows {limit}")
        qid = chat.external_id[2:] if chat.external_id.startswith("q:") else chat.external_id
        payload = {"id": qid, "answer": {"text": text}, "state": "wbRu"}
        try:
            await self._questions_request("PATCH", "/api/v1/questions", json=payload)
        except StreamUnavailable as exc:
            raise AuthError(exc.message, status=exc.status) from None
        except Rejected as exc:
            if exc.status == 422:
                raise Rejected(f"{exc.message} ({EDIT_ONCE_NOTE})", status=422) from None
            raise

    async def download(
        self, chat: ChatRef, attachment: Attachment, sink: BinaryIO | None = None, cap: int | None = None
    ) -> Download:
        if not attachment.download_id:
            raise Rejected("this attachment has no WB download id")
        url = f"{self.chat_host}/api/v1/seller/download/{attachment.download_id}"
        resp, size, content = await self._download_into("wb.download", url, self.secret_headers(), sink, cap)
        self._mapped("wb.download", resp)
        if resp.status_code == 202:
            body = self._json(resp)
            return Download(retry_after=float(body.get("retrySeconds") or 30))
        if resp.status_code == 451:
            raise Rejected("the file was rejected by WB moderation", status=451)
        if resp.status_code >= 400:
            raise self._refused(resp)
        content_type = resp.headers.get("content-type", "").split(";")[0].strip() or attachment.content_type
        return Download(content=content, content_type=content_type, size=size)


# ---------------------------------------------------------------------- refusals

WB_ERRORS = ErrorTable(
    name="Wildberries",
    rules=(
        # WB answers a token without the method's category with 401 "token scope not allowed".
        rule("missing_access", 401, 403, words=("scope", "category", "категори")),
        # 402: a catalogue solution's balance ran out (WB-26-07 components/responses/402).
        rule("missing_access", 402),
    ),
    words={
        "bad_credentials": (
            "Wildberries refused the token ({status}: {text}). Check that the token is valid, not expired "
            "and has the 'Чат с покупателями' category."
        ),
        "missing_access": (
            "Wildberries: the token has no access to this ({status}: {text}). Create a token with the "
            "category it needs ('Чат с покупателями' for chats, 'Вопросы и отзывы' for questions)"
        ),
        "quota": "Wildberries rate limit: retry in {seconds} s",
        "down": "Wildberries server error {status} ({text}); chatdesk retries on its own",
        "rejected": "Wildberries refused: {text}",
    },
    text_fields=("detail", "errorText", "error", "title", "message"),
    retry_headers=("X-Ratelimit-Retry", "Retry-After", "X-Ratelimit-Reset"),
    default_wait=10.0,
)


def wildberries_error(resp: httpx.Response, secret: str, *, cause: str | None = None) -> ConnectorError:
    """A WB refusal as its typed error, by :data:`WB_ERRORS` (status, body shape, WB's words).

    Shapes (WB-26-07 ``components/responses``): problem+json ``{title, detail, status…}`` for
    401/402/429 and chat 400s; the questions envelope ``{error: true, errorText}``; an HTML page
    from a proxy or firewall. Waits come from ``X-Ratelimit-Retry`` (seconds, WB's 429 header),
    then ``Retry-After``/``X-Ratelimit-Reset``, clamped to 1 s–1 h; 10 s when none is usable.
    """
    return WB_ERRORS.error(resp, secret, cause=cause)


# ---------------------------------------------------------------------- wire helpers


def _raise_errors(body: Mapping[str, Any]) -> None:
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        raise TransientError("Wildberries reported: " + "; ".join(str(e) for e in errors))


def _sender(event: Mapping[str, Any]) -> Any:
    return SENDERS.get(str(event.get("sender") or "").lower(), "marketplace")


def _event_time(event: Mapping[str, Any]) -> datetime | None:
    """``addTimestamp`` in whatever unit or form it comes (ms per the spec; s, µs, a JSON float
    such as ``1764300003000.0`` are seen too), else ``addTime`` (ISO UTC); None if neither is
    usable."""
    at = _maybe_time(event.get("addTimestamp"))
    if at is not None:
        return at
    try:
        return parse_iso(str(event["addTime"])) if event.get("addTime") else None
    except (ValueError, TypeError, OverflowError):
        return None


def _maybe_time(value: Any) -> datetime | None:
    try:
        return utc_from_epoch(value) if value not in (None, "") else None
    except ValueError:
        return None


def _next_ms(value: Any) -> int | None:
    """WB's ``next`` (a ms timestamp; WB refuses anything but an integer) as an int, or None
    when absent, zero, negative, non-finite or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    if not math.isfinite(number) or number <= 0 or number >= 1e17:
        return None
    return int(number)


def _plausible_next(value: int, newest_ms: int | None, now_ms: int) -> bool:
    """Is ``value`` a believable events cursor: at most :data:`NEXT_AHEAD_MS` ahead of both
    the clock and the newest event it came with? (A cursor too far back only re-reads events,
    which are deduplicated, and the cursor never moves back; one too far ahead skips them.)"""
    return value <= max(now_ms, newest_ms or 0) + NEXT_AHEAD_MS


def _newest_ms(events: list[dict[str, Any]]) -> int | None:
    times = [t for t in (_event_time(e) for e in events) if t is not None]
    return int(max(times).timestamp() * 1000) if times else None


def _bad_next(value: int, reason: str) -> BadItem:
    return BadItem(external_id=f"next:{value}", reason=f"{reason}: next={value} is not a plausible ms time")


def _bad_event(event: Any, reason: str) -> BadItem:
    wire = event if isinstance(event, dict) else {}
    raw = wire.get("eventID")
    return BadItem(
        external_id=str(raw) if raw not in (None, "") else "",
        reason=f"event skipped: {reason}",
        chat_external_id=str(wire["chatID"]) if wire.get("chatID") not in (None, "") else None,
    )


def _attachments(wire: Mapping[str, Any]) -> tuple[Attachment, ...]:
    out: list[Attachment] = []
    for f in wire.get("files") or []:
        if isinstance(f, dict):
            size = f.get("size")
            out.append(
                Attachment(
                    name=str(f.get("name") or "file"),
                    size=int(size) if isinstance(size, int) else None,
                    content_type=str(f["contentType"]) if f.get("contentType") else None,
                    download_id=str(f["downloadID"]) if f.get("downloadID") else None,
                    url=str(f["url"]) if f.get("url") else None,
                )
            )
    for n, img in enumerate([i for i in wire.get("images") or [] if isinstance(i, dict)], start=1):
        url = str(img["url"]) if img.get("url") else None
        ext = "png" if (url or "").lower().endswith(".png") else "jpg"
        out.append(
            Attachment(
                name=str(img.get("name") or f"image-{n}.{ext}"),
                content_type="image/png" if ext == "png" else "image/jpeg",
                download_id=str(img["downloadID"]) if img.get("downloadID") else None,
                url=url,
            )
        )
    return tuple(out)


def _count(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise TransientError("Wildberries sent a malformed totalEvents") from None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _listed_chat(wire: Mapping[str, Any]) -> ChatInfo | None:
    """A chat as ``GET /api/v1/seller/chats`` describes it (no version: no messages here);
    None without a chat id. Every field but ``chatID`` may be missing or odd."""
    chat_id = _text(wire.get("chatID"))
    if chat_id is None:
        return None
    card = wire.get("goodCard")
    last = json_object(wire.get("lastMessage"))
    at = _maybe_time(last.get("addTimestamp"))
    return ChatInfo(
        external_id=chat_id,
        kind="chat",
        customer=_text(wire.get("clientName")),
        product_id=_nm_id(card),
        reply_token=_text(wire.get("replySign")),
        context=_card_context(card),
        last_message_at=at,
        preview=str(last.get("text") or "") if at else None,
    )


def _nm_id(card: Any) -> str | None:
    if isinstance(card, dict) and card.get("nmID") not in (None, ""):
        return str(card["nmID"])
    return None


def _card_context(card: Any) -> dict[str, str]:
    if not isinstance(card, dict):
        return {}
    keys = {"nmID": "nmID", "size": "size", "price": "price", "priceCurrency": "currency"}
    return {out: str(card[k]) for k, out in keys.items() if card.get(k) not in (None, "")}


def _questions_from(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        value = json.loads(cursor).get("from")
        return int(value) if value is not None else None
    except (ValueError, AttributeError, TypeError):
        return None


def _question(wire: Mapping[str, Any]) -> tuple[ChatInfo, list[MessageInfo], datetime] | None:
    """One WB question as a conversation: the buyer's question, then the seller's answer."""
    qid = str(wire["id"])
    try:
        created = parse_iso(str(wire.get("createdDate")))
    except ValueError:
        return None
    ext = f"q:{qid}"
    messages = [MessageInfo(ext, f"{qid}:q", "buyer", str(wire.get("text") or ""), created)]
    answer = wire.get("answer") if isinstance(wire.get("answer"), dict) else None
    if answer is not None and str(answer.get("text") or "").strip():
        try:
            answered_at = parse_iso(str(answer["createDate"])) if answer.get("createDate") else created
        except ValueError:
            answered_at = created
        messages.append(MessageInfo(ext, f"{qid}:a", "seller", str(answer["text"]), answered_at))
    product = json_object(wire.get("productDetails"))
    context = {
        k: str(product[k])
        for k in ("nmId", "productName", "brandName", "supplierArticle")
        if product.get(k) not in (None, "")
    }
    chat = ChatInfo(
        external_id=ext,
        kind="question",
        customer=str(wire["userName"]) if wire.get("userName") else None,
        product_id=str(product["nmId"]) if product.get("nmId") not in (None, "") else None,
        status="answered" if len(messages) > 1 else "unanswered",
        context=context,
        last_message_at=messages[-1].created_at,
        preview=messages[-1].text,
    )
    return chat, messages, created


def _failed_files(errors: list[str], files: tuple[OutgoingFile, ...]) -> tuple[tuple[str, str], ...]:
    """Which files WB's ``errors`` name, matched by the exact file name, never as a substring
    (``"a.pdf"`` is inside ``"data.pdf: upload error"`` but is not named by it).

    WB formats a file-upload error as ``"<name>: <reason>"`` (spec: ``errors`` of
    ``POST /api/v1/seller/message`` are file-upload errors); a name is also recognised as a
    whole token elsewhere in the text (between quotes, spaces or punctuation). When several
    names fit the ``<name>:`` prefix the longest wins. An error naming no file we sent counts
    against every file, since we cannot tell which one it meant."""
    import unicodedata

    def norm(text: str) -> str:
        return unicodedata.normalize("NFC", text).strip()

    names = {f.name: norm(f.name) for f in files}
    out: dict[str, str] = {}
    for error in errors:
        text = norm(str(error))
        prefixed = [n for n, key in names.items() if key and text.startswith(key + ":")]
        if prefixed:
            named = [max(prefixed, key=lambda n: len(names[n]))]
        else:
            named = [n for n, key in names.items() if key and _names_token(text, key)]
        for name in named or list(names):
            out[name] = "; ".join(x for x in (out.get(name), error) if x)
    return tuple(out.items())


_NAME_EDGE = " \t\"'«»“”„()[]<>,;:"


def _names_token(text: str, name: str) -> bool:
    """``name`` occurs in ``text`` as a whole token: bounded by the text's ends, whitespace,
    quotes, brackets or punctuation (a trailing full stop ends a sentence, not a name)."""
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if before in _NAME_EDGE and (after in _NAME_EDGE or (after == "." and end + 1 == len(text))):
            return True
        start = text.find(name, start + 1)
    return False


def _check_chat_message(text: str, files: tuple[OutgoingFile, ...]) -> None:
    """WB's documented limits, refused before any request is made."""
    limits = CHAT_LIMITS
    if not text.strip() and not files:
        raise Rejected("the message is empty")
    if len(text) > limits.max_text:
        raise Rejected(f"the message is {len(text)} characters; Wildberries allows {limits.max_text}")
    total = 0
    for f in files:
        if limits.file_types is not None and f.content_type.lower() not in limits.file_types:
            raise Rejected(f"{f.name}: Wildberries accepts only JPEG, PNG and PDF files")
        if limits.max_file_size is not None and len(f.content) > limits.max_file_size:
            raise Rejected(f"{f.name}: larger than 5 MB, the Wildberries limit per file")
        total += len(f.content)
    if limits.max_total_size is not None and total > limits.max_total_size:
        raise Rejected("the files together exceed 30 MB, the Wildberries limit per message")
