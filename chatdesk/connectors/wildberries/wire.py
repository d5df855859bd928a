"""Wildberries wire formats: hosts, limits and budgets (from the marketplace row), the refusal
table and the parsing of events, chats and questions. No requests here."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from chatdesk import marketplaces
from chatdesk.connectors.base import (
    Attachment,
    BadItem,
    ChatInfo,
    ConnectorError,
    MessageInfo,
    OutgoingFile,
    Rejected,
    TransientError,
    json_object,
    jwt_expiry,
    parse_iso,
    utc_from_epoch,
)
from chatdesk.connectors.errors import ErrorTable, rule
from chatdesk.ratelimit import Budget

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
