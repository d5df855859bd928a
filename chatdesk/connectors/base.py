"""The contract every marketplace connector implements, and the normalized data it returns.

Connectors know HTTP and their marketplace's wire format, nothing else: no SQL, no
scheduling, no retries beyond one request. They turn wire objects into the frozen
dataclasses below, and raise the typed errors below so ``sync`` can decide what to do
(back off, mark a stream unavailable, fail an outbox row, settle an ambiguous send).

Incremental polling is expressed as an async iterator of :class:`Page` objects. ``sync``
commits each page in one transaction together with the page's ``cursor`` and the chats'
``version`` values, so a cursor never runs ahead of the data it covers.
"""

from __future__ import annotations

import abc
import base64
import json
import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, TypeVar

from chatdesk.model import (  # records live in chatdesk.model; re-exported below for old import paths
    AccountConfig,
    Attachment,
    Author,
    BadItem,
    ChatInfo,
    ChatRef,
    Download,
    Kind,
    KnownChat,
    Limits,
    MessageInfo,
    OutgoingFile,
    Page,
)
from chatdesk.ratelimit import RateLimiter
from chatdesk.sanitize import safe_text

__all__ = [  # the contract, plus the records re-exported from chatdesk.model
    "AccountConfig",
    "Attachment",
    "AuthError",
    "Author",
    "BadItem",
    "BlockedHost",
    "ChatInfo",
    "ChatRef",
    "Connector",
    "ConnectorError",
    "Download",
    "Kind",
    "KnownChat",
    "Limits",
    "MarketplaceDown",
    "MessageInfo",
    "MissingAccess",
    "OutgoingFile",
    "Page",
    "RateLimited",
    "Rejected",
    "SendReceipt",
    "StreamUnavailable",
    "TooLarge",
    "TooManyParallel",
    "TransientError",
    "transport_words",
]

if TYPE_CHECKING:  # httpx is imported where requests are made, not by everyone who reads a dataclass
    import httpx

# ----------------------------------------------------------------------------- errors


class ConnectorError(Exception):
    """Base: ``message`` is plain words for the user, already free of secrets.

    ``cause`` names the kind of failure; the engine's reaction to each cause is a table in
    :mod:`chatdesk.sync.policy`, and which answers mean which cause is the table in
    :mod:`chatdesk.connectors.errors`. Subclasses only set ``cause``.
    """

    cause: ClassVar[str] = "error"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(safe_text(message, single_line=True, max_len=500))
        self.message = str(self)
        self.status = status


class TransientError(ConnectorError):
    """Worth retrying later: connection refused, malformed body.

    ``reached_server`` says whether the request may have been processed (read timeout,
    connection dropped after the body went out): for a send that is an ambiguous outcome.
    """

    cause: ClassVar[str] = "transient"

    def __init__(self, message: str, *, status: int | None = None, reached_server: bool = True) -> None:
        super().__init__(message, status=status)
        self.reached_server = reached_server


class MarketplaceDown(TransientError):
    """5xx, or a maintenance/proxy HTML page instead of the API's answer: the marketplace is
    down. Retried with exponential back-off; the request may have been processed."""

    cause: ClassVar[str] = "down"


class RateLimited(TransientError):
    """429/420 quota exhausted: wait ``retry_after`` seconds (already clamped by
    :func:`retry_hint`). The server refused, so nothing was processed."""

    cause: ClassVar[str] = "quota"

    def __init__(self, message: str, *, retry_after: float, status: int | None = None) -> None:
        super().__init__(message, status=status, reached_server=False)
        self.retry_after = retry_after


class TooManyParallel(RateLimited):
    """Too many simultaneous requests (YM 420 "Hit rate limit of N parallel requests", shared
    by every integration of the cabinet): a concurrency refusal, retried after a short
    jittered pause within the same round."""

    cause: ClassVar[str] = "parallel"


class AuthError(ConnectorError):
    """401 and friends: the key is wrong, expired or revoked. Stops only this stream."""

    cause: ClassVar[str] = "bad_credentials"


class BlockedHost(AuthError):
    """403 as an HTML page (a firewall, not the API): this host or IP address is blocked, or
    the token is bound to other IP addresses."""

    cause: ClassVar[str] = "blocked"


class Rejected(ConnectorError):
    """A definite 4xx refusal with the marketplace's reason: the message is ``failed``."""

    cause: ClassVar[str] = "rejected"


class TooLarge(Rejected):
    """A download passed its size cap (counted in decoded bytes): the partial file is discarded."""


class StreamUnavailable(ConnectorError):
    """This stream cannot work with this account (e.g. WB token without questions category):
    a state shown once, not a failure of every round."""

    cause: ClassVar[str] = "missing_access"


class MissingAccess(StreamUnavailable, Rejected):
    """The token lacks a category, or the seller lacks a subscription, for this method. The
    message says which. It is a definite refusal of the request (a send is ``failed``) and,
    for polling, a stream state shown once. ``partial``: the stream still delivered what the account may read
    (e.g. Ozon's chat list without history), so it keeps its normal polling."""

    def __init__(self, message: str, *, status: int | None = None, partial: bool = False) -> None:
        super().__init__(message, status=status)
        self.partial = partial

    cause: ClassVar[str] = "missing_access"


# ----------------------------------------------------------------------------- helpers

DEFAULT_DOWNLOAD_CAP = 64 * 1024 * 1024  # bytes, decoded; no marketplace chat file is near this
MAX_REDIRECTS = 3
ERROR_BODY_CAP = 64 * 1024  # bytes of a refusal's body kept for its words
_CHUNK = 256 * 1024

# Headers that identify the seller besides the secret itself (Ozon's Client-Id).
CREDENTIAL_HEADERS = ("Authorization", "Api-Key", "Client-Id", "Cookie")


# Epoch timestamps by magnitude: seconds until year 5138, then milliseconds, microseconds,
# nanoseconds. A 2026 instant is ~1.8e9 s, ~1.8e12 ms, ~1.8e15 µs, ~1.8e18 ns.
_EPOCH_UNITS = ((1e11, 1.0), (1e14, 1e3), (1e17, 1e6), (1e20, 1e9))
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def transport_words(exc: BaseException) -> str:
    """Plain words for an httpx transport failure (``httpx.TransportError``): what went wrong,
    never the exception's class name nor its text (which may echo a URL or a header).

    Shape: exception -> short lower-case phrase, e.g. ``"connection refused"``,
    ``"the connection timed out"``, ``"TLS handshake failed (is the address https?)"``,
    ``"the connection broke off"``. The cause is told by the httpx class, then by the
    OS-level error it wraps (``__cause__``/``__context__``: ``ssl.SSLError``,
    ``ConnectionRefusedError``, ``socket.gaierror``) and its errno/words. Never raises.
    """
    import socket
    import ssl

    import httpx

    # httpx's transport errors in a seller's words, most specific first (the first match wins).
    by_class: tuple[tuple[type[BaseException], str], ...] = (
        (httpx.ConnectTimeout, "the connection timed out"),
        (httpx.PoolTimeout, "too many requests at once (no free connection)"),
        (httpx.ReadTimeout, "no answer in time"),
        (httpx.WriteTimeout, "the request could not be sent in time"),
        (httpx.TimeoutException, "timed out"),
        (httpx.UnsupportedProtocol, "the address is not an http or https address"),
        (httpx.ProxyError, "the proxy refused the connection"),
        (httpx.LocalProtocolError, "the request could not be sent (invalid request)"),
    )

    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = " ".join(str(e) for e in chain).lower()
    words = next((w for kind, w in by_class if isinstance(exc, kind)), None)
    if words is not None:
        return words
    if isinstance(exc, httpx.ConnectError):
        if any(isinstance(e, ssl.SSLError) for e in chain) or "ssl" in text or "tls" in text:
            return "TLS handshake failed (is the address https?)"
        if any(isinstance(e, socket.gaierror) for e in chain) or "name or service" in text or "getaddrinfo" in text:
            return "the host name was not found"
        if (
            any(isinstance(e, ConnectionRefusedError) for e in chain)
            or "refused" in text
            or "all connection attempts failed" in text  # anyio's words for refused on every address
        ):
            return "connection refused"
        if any(isinstance(e, TimeoutError) for e in chain) or "timed out" in text:
            return "the connection timed out"
        return "the connection could not be made"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError | httpx.CloseError):
        if any(isinstance(e, ssl.SSLError) for e in chain):
            return "TLS failed (is the address https?)"
        return "the connection broke off"
    return "network error"


def utc_from_epoch(value: object) -> datetime:
    """An epoch timestamp in s, ms, µs or ns (int, float, or their text: ``1764300003000``,
    ``1764300003000.0``, ``"1764300003"``) as aware UTC; the unit is told by magnitude.

    Raises ValueError for anything else, including non-finite numbers, booleans and instants
    outside 2000–2100 (no real chat message is dated there; such a value is a wrong unit).
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a timestamp: {value!r}")
    try:
        number = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a timestamp: {str(value)[:40]!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"not a timestamp: {str(value)[:40]!r}")
    for bound, per_second in _EPOCH_UNITS:
        if number < bound:
            at = datetime.fromtimestamp(number / per_second, tz=UTC)
            if not _EARLIEST <= at < _LATEST:
                raise ValueError(f"timestamp out of range: {str(value)[:40]!r}")
            return at
    raise ValueError(f"timestamp out of range: {str(value)[:40]!r}")


def utc_from_ms(value: int | float | str) -> datetime:
    """A millisecond epoch timestamp as aware UTC (other units are recognized too, see
    :func:`utc_from_epoch`). Raises ValueError."""
    return utc_from_epoch(value)


def retry_hint(value: object, default: float, *, low: float = 1.0, high: float = 3600.0) -> float:
    """A marketplace's "retry after" hint in seconds, bounded to ``[low, high]``.

    Hints are untrusted: ``1e12``, ``inf``, ``NaN``, negative, text or an HTTP date. Missing,
    unparsable and non-finite hints give ``default``; finite ones are clamped (a negative or
    zero hint becomes ``low``, a huge one ``high``). Never raises.
    """
    if value is None or isinstance(value, bool):
        return min(high, max(low, default))
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return min(high, max(low, default))
    if not math.isfinite(seconds):
        return min(high, max(low, default))
    return min(high, max(low, seconds))


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 / RFC 3339 timestamp (``Z`` or offset) to aware UTC.

    Raises ValueError and nothing else, for any input: text that is not a date-time, a date
    beyond the calendar (``10000-01-01``) and one whose UTC form falls outside it
    (``9999-12-31T23:59:59-23:59``, an offset RFC 3339 allows), which ``astimezone`` would
    report as OverflowError.
    """
    if not isinstance(value, str):
        raise ValueError(f"not a date-time: {str(value)[:40]!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    except (ValueError, OverflowError, TypeError):
        raise ValueError(f"not a usable date-time: {value[:40]!r}") from None


def parse_http_date(value: str) -> datetime:
    """An HTTP date (RFC 9110 IMF-fixdate and its obsolete forms) as aware UTC.

    Raises ValueError and nothing else (``email.utils`` may raise TypeError, IndexError or
    OverflowError on hostile text such as ``Fri, 31 Dec 9999 23:59:59 -2359``)."""
    import email.utils

    try:
        dt = email.utils.parsedate_to_datetime(value)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise ValueError(f"not an HTTP date: {str(value)[:40]!r}") from None


def seconds_until(value: str, *, now: datetime | None = None) -> float | None:
    """A retry header's value as seconds from ``now``: a number as is, a date-time (ISO 8601
    or an HTTP date) as the time left until it; None when it is neither or is not finite.

    Never raises: dates at the edge of the calendar give a huge (later clamped) wait, not an
    OverflowError. Source: RFC 9110 §10.2.3 (Retry-After: HTTP-date or delay-seconds) and YM's
    ``X-RateLimit-Resource-Until`` (RFC 3339)."""
    text = str(value).strip()
    try:
        number = float(text)
    except (ValueError, OverflowError):
        number = None
    if number is not None:
        return number if math.isfinite(number) else None
    until: datetime | None = None
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        until = datetime.fromisoformat(iso)
    except (ValueError, TypeError):
        import email.utils

        try:
            until = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    # Counted without astimezone: its UTC form may lie outside the calendar (9999-12-31 at
    # -23:59), which is simply a very long wait, clamped later by retry_hint.
    return _epoch_seconds(until) - (now or datetime.now(UTC)).timestamp()


def _epoch_seconds(dt: datetime) -> float:
    """Seconds since 1970 UTC of any datetime (naive = UTC), never OverflowError."""
    offset = dt.utcoffset() if dt.tzinfo is not None else None
    naive = (dt.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()
    return naive - (offset.total_seconds() if offset is not None else 0.0)


def exact_id(value: object) -> str:
    """A 64-bit id as an exact decimal string, whether it arrived as JSON string or int.

    Bodies must be parsed with :func:`loads_exact` so large numbers never pass through float.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an id: {value!r}")
    if isinstance(value, float):
        raise ValueError("64-bit id arrived as float: parse the body with loads_exact")
    return str(value).strip()


def json_object(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: wire parsing never trusts a shape."""
    return value if isinstance(value, dict) else {}


def json_array(value: object) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def loads_exact(data: bytes | str) -> object:
    """``json.loads`` that keeps every number exact: ints as int, decimals as str."""
    return json.loads(data, parse_float=str)


def jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT (WB tokens are JWTs), without verifying it; None if absent."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return datetime.fromtimestamp(int(payload["exp"]), tz=UTC)
    except (ValueError, KeyError, TypeError, OverflowError, OSError):  # exp may be 1e20 or garbage
        return None


def _secret_forms(secret: str) -> set[str]:
    """Every way a marketplace or a library may echo ``secret``: as is, URL-encoded (either
    hex case, ``+`` for space), JSON-escaped (``\\uXXXX`` too), and base64 (standard and
    URL-safe, padded or not, at each of the three byte alignments it can have inside a longer
    encoded string, e.g. ``Basic base64(client:secret)``). Case is handled by the caller."""
    from urllib.parse import quote, quote_plus

    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    forms |= {f.replace("%", "%25") for f in list(forms)}  # encoded twice
    forms.add(json.dumps(secret)[1:-1])
    forms.add(json.dumps(secret)[1:-1].replace("/", "\\/"))
    forms.add(json.dumps(secret, ensure_ascii=True)[1:-1])
    forms.add("".join(f"\\u{ord(c):04x}" for c in secret))
    raw = secret.encode()
    for pad in range(3):
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            text = enc(b"\0" * pad + raw).decode()
            # drop the characters that also depend on the neighbouring bytes
            start = (pad * 4 + 2) // 3 if pad else 0
            stable = text[start:].rstrip("=")
            tail = (len(raw) + pad) % 3
            if tail:
                stable = stable[:-1]
            if len(stable) >= 8:
                forms.add(stable)
    return {f for f in forms if len(f) >= 4}


def redact(text: str, *secrets: str) -> str:
    """Remove secrets from text that may reach a user, a log or the store, in every echoed
    form, case-insensitively. Secrets shorter than 4 characters are not looked for (they would
    redact ordinary words).

    Two passes: the literal forms of :func:`_secret_forms` (URL-encoded, JSON-escaped, base64
    …), then the same forms in a *normalized view* of the text (:func:`_normalized_view`:
    whitespace, control characters and escaped line breaks removed, ``%XX``, ``\\uXXXX`` and
    ``&#NN;`` decoded, repeatedly) — a key split over two lines, percent-encoded in part or
    base64 wrapped at a line length — and, for secrets of 8+ letters and digits, the secret's
    letters and digits in the text's letters and digits (any separators, e.g. a UUID with its
    dashes changed or spaced). What matches in a view is masked in the original text."""
    import re

    for secret in secrets:
        if secret and len(secret) >= 4:
            forms = sorted(_secret_forms(secret), key=len, reverse=True)
            pattern = "|".join(re.escape(f) for f in forms)
            text = re.sub(pattern, "***", text, flags=re.IGNORECASE)
            text = _redact_normalized(text, secret, forms)
    return text


_MAX_SCAN = 1_000_000  # characters scanned in normalized views (longer text: its start and end)


def _normalized_view(text: str) -> tuple[list[str], list[int], list[int]]:
    """``text`` as lower-case characters with where each came from: whitespace, control
    characters and escaped line breaks (``\\n``, ``\\r``, ``\\t``) dropped; ``%XX``,
    ``\\uXXXX``, ``\\xXX`` and ``&#NN;``/``&#xHH;`` decoded (three rounds, for double
    encoding). Returns (chars, start offsets, end offsets) into ``text``."""
    import re

    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "nrt":
            i += 2
            continue
        if c.isspace() or ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u200b\u200c\u200d\u2060\ufeff":
            i += 1
            continue
        chars.append(c)
        starts.append(i)
        ends.append(i + 1)
        i += 1
    escapes = re.compile(r"%([0-9a-f]{2})|\\u([0-9a-f]{4})|\\x([0-9a-f]{2})|&#x([0-9a-f]{1,6});|&#([0-9]{1,7});", re.I)
    for _ in range(3):
        joined = "".join(chars)
        if not escapes.search(joined):
            break
        new_chars: list[str] = []
        new_starts: list[int] = []
        new_ends: list[int] = []
        pos = 0
        for m in escapes.finditer(joined):
            new_chars.extend(chars[pos : m.start()])
            new_starts.extend(starts[pos : m.start()])
            new_ends.extend(ends[pos : m.start()])
            hexa = m.group(1) or m.group(2) or m.group(3) or m.group(4)
            try:
                value = chr(int(hexa, 16)) if hexa else chr(int(m.group(5)))
            except (ValueError, OverflowError):
                value = m.group(0)
            if value.isspace():
                pass  # an encoded line break or space is dropped like a real one
            else:
                new_chars.append(value)
                new_starts.append(starts[m.start()])
                new_ends.append(ends[m.end() - 1])
            pos = m.end()
        new_chars.extend(chars[pos:])
        new_starts.extend(starts[pos:])
        new_ends.extend(ends[pos:])
        chars, starts, ends = new_chars, new_starts, new_ends
    return [c.lower() for c in chars], starts, ends


def _redact_normalized(text: str, secret: str, forms: list[str]) -> str:
    """Mask what the normalized views find of ``secret`` (see :func:`redact`)."""
    if len(text) > _MAX_SCAN:
        half = _MAX_SCAN // 2
        return (
            _redact_normalized(text[:half], secret, forms)
            + text[half:-half]
            + _redact_normalized(text[-half:], secret, forms)
        )
    chars, starts, ends = _normalized_view(text)
    view = "".join(chars)
    spans: list[tuple[int, int]] = []
    for form in {f.lower() for f in forms if len(f) >= 6} | {secret.lower()}:
        at = view.find(form)
        while at >= 0:
            spans.append((starts[at], ends[at + len(form) - 1]))
            at = view.find(form, at + 1)
    core = "".join(c for c in secret.lower() if c.isalnum())
    if len(core) >= 8:
        keep = [k for k, c in enumerate(chars) if c.isalnum()]
        alnum = "".join(chars[k] for k in keep)
        at = alnum.find(core)
        while at >= 0:
            spans.append((starts[keep[at]], ends[keep[at + len(core) - 1]]))
            at = alnum.find(core, at + 1)
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    pos = 0
    for start, end in spans:
        if end <= pos:
            continue
        start = max(start, pos)
        out.append(text[pos:start])
        out.append("***")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def contains_secret(text: str, *secrets: str) -> bool:
    """True if any form of any secret is still in ``text`` (the secret scan)."""
    return redact(text, *secrets) != text


# ----------------------------------------------------------------------------- requests


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover


F = TypeVar("F")


def request_parts(limits: Limits | None, text: str, files: list[F] | tuple[F, ...]) -> list[tuple[str, list[F]]]:
    """Split one outgoing message into the requests the marketplace takes, in sending order:
    ``[(text, files)]``, each element exactly one request. Ozon and YM take text and each file
    apart (``text_with_files=False``, one file per request); WB takes text and all files at once.

    The outbox keeps one row per request (issue 12 §2), so an accepted request is never sent
    again when a later one fails."""
    files = list(files)
    if not files or limits is None:
        return [(text, files)]
    per = limits.files_per_request or limits.max_files or len(files)
    groups = [files[i : i + per] for i in range(0, len(files), per)]
    if limits.text_with_files:
        return [(text, groups[0])] + [("", g) for g in groups[1:]]
    return ([(text, [])] if text.strip() else []) + [("", g) for g in groups]


@dataclass(frozen=True)
class SendReceipt:
    """What a send that the marketplace accepted still reports: files it refused inside an
    accepted message (WB ``errors`` beside a ``result``), each ``(file name, words)``."""

    failed_files: tuple[tuple[str, str], ...] = ()


# ----------------------------------------------------------------------------- contract


class Connector(abc.ABC):
    """One marketplace account. Create with an ``httpx.AsyncClient`` (the sandbox passes a
    client bound to its transport) and a :class:`RateLimiter` shared per account."""

    marketplace: ClassVar[str]
    label: ClassVar[str]  # short badge: WB / Ozon / YM
    streams: ClassVar[tuple[str, ...]] = ("chats",)
    limits: ClassVar[Mapping[str, Limits]]  # by chat kind
    can_mark_read: ClassVar[bool] = False
    # Per stream, how much of the store's chats ``poll`` needs as ``known``: "all" (default:
    # connectors that walk their whole chat list), "lazy" (a mapping that looks up only the
    # chats asked about), or a chat kind ("question") to get only those.
    known_scope: ClassVar[Mapping[str, str]] = {}
    # The official API hosts (https): credentials go to these, or to the configured base_url.
    official_hosts: ClassVar[tuple[str, ...]] = ()

    def __init__(self, account: AccountConfig, client: httpx.AsyncClient, limiter: RateLimiter | None = None):
        self.account = account
        self.client = client
        self.limiter = limiter or RateLimiter()

    @abc.abstractmethod
    def poll(self, stream: str, cursor: str | None, known: Mapping[str, KnownChat]) -> AsyncIterator[Page]:
        """Yield pages of new data since ``cursor``. An idle poll must cost the minimum the
        marketplace allows (WB chats: one events request)."""

    @abc.abstractmethod
    async def send(self, chat: ChatRef, text: str, files: tuple[OutgoingFile, ...] = ()) -> SendReceipt | None:
        """Send; return only once the marketplace accepted. Raise Rejected/TransientError.
        A :class:`SendReceipt` reports files refused inside an accepted message."""

    @abc.abstractmethod
    async def download(
        self, chat: ChatRef, attachment: Attachment, sink: BinaryIO | None = None, cap: int | None = None
    ) -> Download:
        """Fetch an attachment. With ``sink`` the decoded bytes are streamed into it (at most
        ``cap`` bytes, else :class:`Rejected` with ``cap_exceeded``) and ``Download.size`` says
        how many; without, they come back as ``Download.content`` (capped at
        ``DEFAULT_DOWNLOAD_CAP``). ``retry_after`` set = not ready yet (WB moderation)."""

    async def mark_read(self, chat: ChatRef, message_external_id: str) -> None:
        """Set the marketplace's own read marker (explicit user action only)."""
        raise Rejected(f"{self.label} has no read marker in its API")

    @abc.abstractmethod
    async def test(self) -> str:
        """One cheap authenticated request; return a short description of what worked."""

    def secret_headers(self) -> dict[str, str]:
        """Headers that carry the secret (used by redaction and tests)."""
        return {}

    def credential_origins(self) -> frozenset[tuple[str, str, int]]:
        """Where credentials may go: (scheme, host, port) of the configured ``base_url``, else of
        the marketplace's official API hosts (``official_hosts``), parsed by httpx."""
        import httpx

        bases = [self.account.base_url] if self.account.base_url else list(self.official_hosts)
        out = set()
        for base in bases:
            u = httpx.URL(base)
            out.add((u.scheme, u.host, u.port or (443 if u.scheme == "https" else 80)))
        return frozenset(out)

    def _credentials_for(self, url: str, headers: Any) -> dict[str, str]:
        """``headers`` minus every credential unless ``url`` is exactly a credential origin
        (scheme, host and port, compared after httpx parsed it the way it will send it). A
        base_url of plain http (loopback sandbox) is an exact origin too; nothing else is."""
        import httpx

        out = dict(headers or {})
        u = httpx.URL(url)
        origin = (u.scheme, u.host, u.port or (443 if u.scheme == "https" else 80))
        if origin in self.credential_origins():
            return out
        secret = self.account.secret
        names = {n.lower() for n in self.secret_headers()} | {n.lower() for n in CREDENTIAL_HEADERS}
        return {k: v for k, v in out.items() if k.lower() not in names and not (secret and secret in str(v))}

    async def fetch(
        self, key: str, url: str, headers: Mapping[str, str] | None, sink: BinaryIO, cap: int
    ) -> tuple[httpx.Response, int]:
        """A streamed GET for a file: returns ``(response, bytes written to sink)``.

        - Decoded bytes are counted against ``cap`` as they are inflated (gzip/deflate are
          decoded here, in bounded steps; any other ``Content-Encoding`` is refused), so a
          small compressed body can never become a huge file; past the cap :class:`TooLarge`.
        - A 3xx is followed (at most ``MAX_REDIRECTS``) only to https and without any
          credential header; otherwise :class:`Rejected` — never an empty "saved" file.
        - Any answer but 200 comes back with at most ``ERROR_BODY_CAP`` bytes of body for its
          words, nothing written to ``sink``; the caller maps its status.
        """
        import zlib

        import httpx

        current = httpx.URL(url)
        sent_headers: dict[str, str] = {**dict(headers or {}), "Accept-Encoding": "gzip, deflate, identity"}
        for _hop in range(MAX_REDIRECTS + 1):
            safe = self._credentials_for(str(current), sent_headers)
            await self.limiter.acquire(key)
            try:
                response = await self.client.send(self.client.build_request("GET", current, headers=safe), stream=True)
            except httpx.TransportError as exc:
                raise TransientError(
                    redact(f"cannot download from {self.label}: {transport_words(exc)}", self.account.secret),
                    reached_server=False,
                ) from None
            try:
                status = response.status_code
                if 300 <= status < 400:
                    location = response.headers.get("location")
                    target = current.join(location) if location else None
                    if target is None or target.scheme != "https":
                        where = f"{target.scheme}://{target.host}" if target is not None else "nowhere"
                        raise Rejected(
                            f"{self.label} answered the download with a redirect ({status}) to {where}: "
                            "not followed (only https, and never with the key); nothing was saved",
                            status=status,
                        )
                    current = target
                    sent_headers = {"Accept-Encoding": sent_headers["Accept-Encoding"]}  # no credential, ever
                    continue
                if status != 200:  # a refusal, or WB's 202 "still being checked": words, not a file
                    body = response.content if response.is_stream_consumed else b""
                    async for chunk in response.aiter_raw() if not response.is_stream_consumed else _empty():
                        body += chunk
                        if len(body) >= ERROR_BODY_CAP:
                            break
                    return httpx.Response(status, headers=response.headers, content=body[:ERROR_BODY_CAP]), 0
                declared = response.headers.get("content-length", "")
                encoding = response.headers.get("content-encoding", "identity").strip().lower() or "identity"
                if encoding == "identity" and declared.isdigit() and int(declared) > cap:
                    raise TooLarge(
                        f"the file ({int(declared)} bytes) is larger than its {cap}-byte limit; nothing was saved"
                    )
                if encoding in ("gzip", "x-gzip"):
                    inflater: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
                elif encoding == "deflate":
                    inflater = zlib.decompressobj()
                elif encoding == "identity":
                    inflater = None
                else:
                    raise Rejected(f"{self.label} sent the file with an unsupported encoding ({encoding[:20]})")
                written = 0

                def put(data: bytes) -> None:
                    nonlocal written
                    written += len(data)
                    if written > cap:
                        raise TooLarge(f"the file is larger than its {cap}-byte limit; the partial file was deleted")
                    sink.write(data)

                if response.is_stream_consumed:  # read already (an in-memory transport or hook): decoded
                    put(response.content)
                    return response, written
                async for raw in response.aiter_raw():
                    if inflater is None:
                        put(raw)
                        continue
                    pending = raw
                    while pending:
                        try:
                            put(inflater.decompress(pending, _CHUNK))
                        except zlib.error:
                            raise TransientError(f"{self.label} sent a corrupt compressed file") from None
                        pending = inflater.unconsumed_tail
                if inflater is not None:
                    put(inflater.flush())
                return response, written
            finally:
                await response.aclose()
        raise Rejected(f"{self.label} redirected the download more than {MAX_REDIRECTS} times; nothing was saved")

    async def _download_into(
        self, key: str, url: str, headers: Mapping[str, str] | None, sink: BinaryIO | None, cap: int | None
    ) -> tuple[httpx.Response, int, bytes | None]:
        """:meth:`fetch` into ``sink``, or into memory when there is none (returned as bytes)."""
        import io

        buffer = io.BytesIO() if sink is None else None
        response, size = await self.fetch(key, url, headers, sink or buffer, cap or DEFAULT_DOWNLOAD_CAP)  # type: ignore[arg-type]
        return response, size, buffer.getvalue() if buffer is not None else None

    async def http(self, key: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request: the ``key`` budget first, then transport failures typed. Failures
        before anything was sent are retryable (``reached_server=False``); anything later may
        have been processed, which makes a send ambiguous. Status codes are the caller's."""
        import httpx

        not_sent = (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.PoolTimeout,
            httpx.UnsupportedProtocol,
            httpx.LocalProtocolError,
        )
        kwargs["headers"] = self._credentials_for(url, kwargs.get("headers"))
        await self.limiter.acquire(key)
        try:
            return await self.client.request(method, url, **kwargs)
        except not_sent as exc:
            raise TransientError(
                redact(f"cannot reach {self.label}: {transport_words(exc)}", self.account.secret), reached_server=False
            ) from None
        except httpx.TransportError as exc:
            raise TransientError(
                redact(f"no answer from {self.label}: {transport_words(exc)}", self.account.secret), reached_server=True
            ) from None
