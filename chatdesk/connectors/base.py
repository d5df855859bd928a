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
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from chatdesk.model import (  # records live in chatdesk.model; re-exported below for old import paths
    AccountConfig,
    Attachment,
    Author,
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
    "ChatInfo",
    "ChatRef",
    "Connector",
    "ConnectorError",
    "Download",
    "Kind",
    "KnownChat",
    "Limits",
    "MessageInfo",
    "OutgoingFile",
    "Page",
    "RateLimited",
    "Rejected",
    "SendReceipt",
    "StreamUnavailable",
    "TransientError",
]

if TYPE_CHECKING:  # httpx is imported where requests are made, not by everyone who reads a dataclass
    import httpx

# ----------------------------------------------------------------------------- errors


class ConnectorError(Exception):
    """Base: ``message`` is plain words for the user, already free of secrets."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(safe_text(message, single_line=True, max_len=500))
        self.message = str(self)
        self.status = status


class TransientError(ConnectorError):
    """Worth retrying later: 5xx, connection refused, malformed body.

    ``reached_server`` says whether the request may have been processed (read timeout,
    connection dropped after the body went out): for a send that is an ambiguous outcome.
    """

    def __init__(self, message: str, *, status: int | None = None, reached_server: bool = True) -> None:
        super().__init__(message, status=status)
        self.reached_server = reached_server


class RateLimited(TransientError):
    """429/420: wait ``retry_after`` seconds. The server refused, so nothing was processed."""

    def __init__(self, message: str, *, retry_after: float, status: int | None = None) -> None:
        super().__init__(message, status=status, reached_server=False)
        self.retry_after = retry_after


class AuthError(ConnectorError):
    """401/403: the token is wrong, expired or lacks a category. Stops only this stream."""


class Rejected(ConnectorError):
    """A definite 4xx refusal with the marketplace's reason: the message is ``failed``."""


class StreamUnavailable(ConnectorError):
    """This stream cannot work with this account (e.g. WB token without questions category)."""


# ----------------------------------------------------------------------------- helpers


def utc_from_ms(value: int | float | str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp (``Z`` or offset) to aware UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def exact_id(value: object) -> str:
    """A 64-bit id as an exact decimal string, whether it arrived as JSON string or int.

    Bodies must be parsed with :func:`loads_exact` so large numbers never pass through float.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an id: {value!r}")
    if isinstance(value, float):
        raise ValueError("64-bit id arrived as float: parse the body with loads_exact")
    return str(value).strip()


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
    except (ValueError, KeyError, TypeError):
        return None


def redact(text: str, *secrets: str) -> str:
    """Remove secrets from text that may reach a user, a log or the store."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


# ----------------------------------------------------------------------------- requests

F = TypeVar("F")


def request_parts(
    limits: Limits | None, text: str, files: list[F] | tuple[F, ...], files_per_request: int | None = None
) -> list[tuple[str, list[F]]]:
    """Split one outgoing message into the requests the marketplace takes, in sending order:
    ``[(text, files)]``, each element exactly one request. Ozon and YM take text and each file
    apart (``text_with_files=False``, one file per request); WB takes text and all files at once.

    The outbox keeps one row per request (issue 12 §2), so an accepted request is never sent
    again when a later one fails."""
    files = list(files)
    if not files or limits is None:
        return [(text, files)]
    per = files_per_request or limits.max_files or len(files)
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
    # Files one send request carries (None: all of them). YM and Ozon take one file per call.
    files_per_request: ClassVar[int | None] = None

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
    async def download(self, chat: ChatRef, attachment: Attachment) -> Download: ...

    async def mark_read(self, chat: ChatRef, message_external_id: str) -> None:
        """Set the marketplace's own read marker (explicit user action only)."""
        raise Rejected(f"{self.label} has no read marker in its API")

    @abc.abstractmethod
    async def test(self) -> str:
        """One cheap authenticated request; return a short description of what worked."""

    def secret_headers(self) -> dict[str, str]:
        """Headers that carry the secret (used by redaction and tests)."""
        return {}

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
        await self.limiter.acquire(key)
        try:
            return await self.client.request(method, url, **kwargs)
        except not_sent as exc:
            raise TransientError(
                redact(f"cannot reach {self.label}: {type(exc).__name__}", self.account.secret), reached_server=False
            ) from None
        except httpx.TransportError as exc:
            raise TransientError(
                redact(f"no answer from {self.label}: {type(exc).__name__}", self.account.secret), reached_server=True
            ) from None
