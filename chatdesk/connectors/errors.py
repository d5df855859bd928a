"""Refusals classified by cause: one shared table shape, one table per marketplace.

A marketplace refuses for one of a few causes, and each cause needs its own words and its own
reaction (the reaction is :mod:`chatdesk.sync.policy`'s business, not a connector's):

========================  ==============================================================
cause                     what the seller should understand
========================  ==============================================================
``bad_credentials``       the key is wrong, expired or revoked
``missing_access``        the token lacks a category, or the seller a subscription
``blocked``               a firewall answered (HTML page): this host/IP is blocked
``quota``                 the method's request quota is used up; wait what was announced
``parallel``              too many simultaneous requests (shared with other integrations)
``down``                  the marketplace is down (5xx, maintenance page)
``rejected``              a definite refusal of this request, in the marketplace's words
========================  ==============================================================

A cause is decided from the status **and** the body: its shape (``json``, ``html``, ``text``,
``empty``), the marketplace's own words in it, and which headers came with it. Each connector
declares an :class:`ErrorTable` — ordered :class:`Rule` rows, first match wins, then
:data:`COMMON_RULES` — and the words said for each cause; :meth:`ErrorTable.error` turns an
answer into the typed exception of :mod:`chatdesk.connectors.base`, keeping the marketplace's
own words after chatdesk's explanation. Adding a case is adding a row, not a branch.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatdesk.connectors.base import (
    AuthError,
    BlockedHost,
    ConnectorError,
    MarketplaceDown,
    MissingAccess,
    RateLimited,
    Rejected,
    TooManyParallel,
    loads_exact,
    redact,
    retry_hint,
)
from chatdesk.sanitize import safe_text

if TYPE_CHECKING:
    import httpx

CAUSES = ("bad_credentials", "missing_access", "blocked", "quota", "parallel", "down", "rejected")

ERROR_CLASSES: Mapping[str, type[ConnectorError]] = {
    "bad_credentials": AuthError,
    "missing_access": MissingAccess,
    "blocked": BlockedHost,
    "quota": RateLimited,
    "parallel": TooManyParallel,
    "down": MarketplaceDown,
    "rejected": Rejected,
}

# A short pause for a concurrency refusal: long enough for another integration's request to
# finish, short enough to finish the round (seconds, uniformly jittered).
PARALLEL_PAUSE = (0.5, 2.0)
RATE_LIMIT_STATUSES = frozenset({420, 429})  # 420: Yandex Market's quota status; 429: RFC 6585
MAX_TEXT = 300  # characters of the marketplace's own words kept in a message


@dataclass(frozen=True)
class Answer:
    """A non-2xx answer reduced to what classification reads.

    ``shape``: ``json`` (a JSON object or array), ``html`` (a web page: a proxy, firewall or
    maintenance page, not the API), ``text`` (anything else), ``empty``. ``text``: the
    marketplace's own words (from the JSON fields a table names, else the start of the body),
    one line, bounded, redacted. ``headers``: lower-case names.
    """

    status: int
    shape: str
    text: str
    headers: Mapping[str, str]
    body: Any = None  # the parsed JSON, if any


@dataclass(frozen=True)
class Rule:
    """One row: when every given condition holds, the answer means ``cause``.

    ``status``: the statuses it applies to (empty: any 4xx/5xx); ``shape``: body shapes (empty:
    any); ``words``: any of these (lower-case) in the marketplace's words; ``without_headers``:
    applies only when no header starts with any of these prefixes (lower-case);
    ``with_headers``: only when some header does.
    """

    cause: str
    status: frozenset[int] = frozenset()
    shape: frozenset[str] = frozenset()
    words: tuple[str, ...] = ()
    without_headers: tuple[str, ...] = ()
    with_headers: tuple[str, ...] = ()

    def matches(self, answer: Answer) -> bool:
        if self.status and answer.status not in self.status:
            return False
        if self.shape and answer.shape not in self.shape:
            return False
        if self.words:
            low = answer.text.lower()
            if not any(w in low for w in self.words):
                return False
        names = [h.lower() for h in answer.headers]
        if self.without_headers and any(n.startswith(self.without_headers) for n in names):
            return False
        return not (self.with_headers and not any(n.startswith(self.with_headers) for n in names))


def rule(cause: str, *status: int, shape: str = "", words: tuple[str, ...] = (), **kw: tuple[str, ...]) -> Rule:
    """A :class:`Rule` written compactly: ``rule("blocked", 403, shape="html")``."""
    return Rule(
        cause,
        status=frozenset(status),
        shape=frozenset(shape.split()) if shape else frozenset(),
        words=words,
        **kw,
    )


SUBSCRIPTION_WORDS = ("premium", "subscription", "подписк", "тариф", "tariff")
# Applied after a marketplace's own rows: what HTTP itself says.
COMMON_RULES: tuple[Rule, ...] = (
    rule("blocked", 401, 403, shape="html"),
    rule("missing_access", 403, words=SUBSCRIPTION_WORDS),
    rule("bad_credentials", 401, 403),
    rule("quota", 429),
    rule("down", 500, 501, 502, 503, 504, 520, 521, 522, 523, 524),
    rule("down", shape="html"),  # any other page instead of the API: a proxy in the way
)


def body_shape(content: bytes, content_type: str) -> str:
    """``json``, ``html``, ``text`` or ``empty``, from the bytes first (servers mislabel)."""
    head = content[:512].lstrip().lower()
    if not head:
        return "empty"
    if head.startswith((b"{", b"[")):
        return "json"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<")) or "html" in content_type.lower():
        return "html"
    return "text"


@dataclass(frozen=True)
class ErrorTable:
    """How one marketplace's refusals read. ``name``: how the seller calls it ("Wildberries").
    ``rules``: its own rows, before :data:`COMMON_RULES`. ``words``: per cause, a template with
    ``{name}``, ``{status}``, ``{text}`` (its own words), ``{seconds}`` (the wait); causes not
    listed use :data:`DEFAULT_WORDS`. ``text_fields``: the JSON fields holding its words, in
    order of preference; a list of ``{message|code}`` objects (``errors``) is joined.
    ``retry_headers``: headers carrying a wait, in order: seconds, or an absolute date-time
    (ISO 8601 or HTTP date); ``default_wait``: the wait when none is usable."""

    name: str
    rules: tuple[Rule, ...] = ()
    words: Mapping[str, str] = field(default_factory=dict)
    text_fields: tuple[str, ...] = ("detail", "message", "errorText", "error", "title")
    retry_headers: tuple[str, ...] = ("Retry-After",)
    default_wait: float = 60.0

    def answer(self, response: httpx.Response, *secrets: str) -> Answer:
        """Reduce a response to an :class:`Answer` (never raises)."""
        content = response.content or b""
        shape = body_shape(content, response.headers.get("content-type", ""))
        body: Any = None
        text = ""
        if shape == "json":
            try:
                body = loads_exact(content)
            except ValueError:
                shape = "text"
        if isinstance(body, dict):
            text = self._words(body)
        if not text and shape == "text":
            text = content[:MAX_TEXT].decode("utf-8", "replace")
        if not text and shape == "html":
            text = _html_title(content)
        text = safe_text(redact(text, *secrets), single_line=True, max_len=MAX_TEXT)
        headers = {k.lower(): v for k, v in response.headers.items()}
        return Answer(response.status_code, shape, text, headers, body)

    def _words(self, body: Mapping[str, Any]) -> str:
        for key in self.text_fields:
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
            if isinstance(value, list):
                parts = [
                    str(e.get("message") or e.get("code")) if isinstance(e, dict) else str(e)
                    for e in value
                    if e not in (None, "") and (not isinstance(e, dict) or e.get("message") or e.get("code"))
                ]
                if parts:
                    return "; ".join(parts)
        return ""

    def cause(self, answer: Answer) -> str:
        """The first matching row's cause (this marketplace's rows, then the common ones);
        ``rejected`` when none matches."""
        for row in (*self.rules, *COMMON_RULES):
            if row.matches(answer):
                return row.cause
        return "rejected"

    def wait(self, answer: Answer, cause: str) -> float:
        """Seconds to wait for ``quota``/``parallel``: the announced hint (clamped), else the
        default; a concurrency refusal gets a short jittered pause."""
        if cause == "parallel":
            return random.uniform(*PARALLEL_PAUSE)
        for name in self.retry_headers:
            value = answer.headers.get(name.lower())
            if value not in (None, ""):
                return retry_hint(_seconds_until(value), self.default_wait)
        return retry_hint(None, self.default_wait)

    def error(self, response: httpx.Response, *secrets: str, cause: str | None = None, **extra: str) -> ConnectorError:
        """The typed exception for a refusal, in plain words with the marketplace's own after
        them. ``cause`` overrides the table (a caller that knows better); ``extra`` fills
        further ``{names}`` of a template (e.g. the API method).

        Never raises: the marketplace did answer, so whatever goes wrong reading the answer
        (hostile headers, an unexpected body) still gives a definite refusal classified by the
        status alone — a 420/429 is a rate limit with the default wait, never an ambiguous
        send."""
        try:
            return self._error(response, *secrets, cause=cause, **extra)
        except Exception:  # a refusal must stay a refusal
            status = response.status_code
            if status in RATE_LIMIT_STATUSES:
                return RateLimited(
                    f"{self.name} request quota used up: waiting {self.default_wait:g} s (HTTP {status})",
                    retry_after=retry_hint(None, self.default_wait),
                    status=status,
                )
            if status >= 500:
                return MarketplaceDown(f"{self.name} is not answering properly (HTTP {status})", status=status)
            return Rejected(f"{self.name} refused (HTTP {status})", status=status)

    def _error(self, response: httpx.Response, *secrets: str, cause: str | None = None, **extra: str) -> ConnectorError:
        answer = self.answer(response, *secrets)
        found = cause or self.cause(answer)
        template = self.words.get(found) or DEFAULT_WORDS[found]
        seconds = self.wait(answer, found) if found in ("quota", "parallel") else 0.0
        own = answer.text or f"HTTP {answer.status}"
        message = redact(
            template.format(name=self.name, status=answer.status, text=own, seconds=f"{seconds:g}", **extra), *secrets
        )
        cls = ERROR_CLASSES[found]
        if issubclass(cls, RateLimited):
            return cls(message, retry_after=seconds, status=answer.status)
        if issubclass(cls, MarketplaceDown):
            return cls(message, status=answer.status, reached_server=True)
        return cls(message, status=answer.status)


DEFAULT_WORDS: Mapping[str, str] = {
    "bad_credentials": "{name} refused the key ({status}: {text}); check that it is valid and not expired",
    "missing_access": "{name}: this key or account has no access to this ({status}: {text})",
    "blocked": (
        "{name} blocked the request ({status}, a web page instead of the API's answer: {text}); this "
        "computer's IP address may be blocked or not on the key's allowed list"
    ),
    "quota": "{name} request quota used up: waiting {seconds} s as it asked ({text})",
    "parallel": "{name}: too many simultaneous requests for this account ({text}); retrying in a moment",
    "down": "{name} is not answering properly ({status}: {text}); chatdesk retries on its own",
    "rejected": "{name} refused: {text}",
}


def _html_title(content: bytes) -> str:
    low = content[:4096].decode("utf-8", "replace")
    start = low.lower().find("<title>")
    if start < 0:
        return "an HTML page"
    end = low.lower().find("</title>", start)
    title = low[start + 7 : end if end > 0 else start + 200].strip()
    return title or "an HTML page"


def _seconds_until(value: str) -> object:
    """A retry header's value as seconds (see :func:`chatdesk.connectors.base.seconds_until`);
    the text unchanged when it is neither a number nor a date-time (then the default). Never
    raises."""
    from chatdesk.connectors.base import seconds_until

    seconds = seconds_until(value)
    return value if seconds is None else seconds
