"""Records shared by every layer: connectors produce them, the store keeps them, rules and the
sandbox read them. Plain frozen dataclasses, no I/O, no imports from the rest of chatdesk.

Times are timezone-aware UTC ``datetime``; ids are exact decimal strings (64-bit ids never pass
through ``float``); sizes are bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Author = Literal["buyer", "seller", "marketplace"]
Kind = Literal["chat", "question"]


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message. ``download_id`` or ``url`` is what ``download`` needs."""

    name: str
    size: int | None = None
    content_type: str | None = None
    download_id: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class ChatInfo:
    """One conversation as the marketplace describes it.

    ``version`` is the marketplace's marker of the newest activity (Ozon ``last_message_id``,
    YM ``updatedAt``); a connector emits it only in the page that completes the chat's
    history, so storing it means "everything up to here is in the store". ``None`` leaves
    the stored value alone. ``reply_token`` is what sending needs besides the chat id
    (WB ``replySign``). ``context`` holds display-only facts (WB goodCard nmID/size/price,
    YM return id) as plain strings.
    """

    external_id: str
    kind: Kind = "chat"
    customer: str | None = None
    order_id: str | None = None
    product_id: str | None = None
    status: str | None = None
    reply_token: str | None = None
    context: Mapping[str, str] = field(default_factory=dict)
    unread: int | None = None
    version: str | None = None
    last_message_at: datetime | None = None
    preview: str | None = None


@dataclass(frozen=True)
class MessageInfo:
    """One message. ``created_at`` is timezone-aware UTC; ``external_id`` is the dedupe key."""

    chat_external_id: str
    external_id: str
    author: Author
    text: str
    created_at: datetime
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class BadItem:
    """An item a marketplace sent that cannot be stored (no usable id or time, a broken
    object). It is recorded with its raw id — never dropped silently — and never blocks the
    stream: the rest of its page is stored and the cursor moves on. ``external_id``: the raw
    id as text (may be empty), ``reason``: plain words."""

    external_id: str
    reason: str
    chat_external_id: str | None = None


@dataclass(frozen=True)
class Page:
    """A unit of progress: upsert these chats and messages, record ``bad_items``, then
    persist ``cursor``.

    ``cursor`` ``None`` means "leave the stream cursor as it is".
    """

    chats: tuple[ChatInfo, ...] = ()
    messages: tuple[MessageInfo, ...] = ()
    cursor: str | None = None
    bad_items: tuple[BadItem, ...] = ()


@dataclass(frozen=True)
class KnownChat:
    """What the store knows about a chat, for connectors that poll per chat (Ozon, YM)."""

    external_id: str
    version: str | None
    last_message_id: str | None
    status: str | None = None


@dataclass(frozen=True)
class ChatRef:
    """What a connector needs to address a chat when sending or downloading."""

    external_id: str
    kind: Kind = "chat"
    reply_token: str | None = None
    status: str | None = None
    last_buyer_message_id: str | None = None


@dataclass(frozen=True)
class OutgoingFile:
    """A file's bytes on its way to a connector."""

    name: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class FileSpec:
    """A file the seller attaches to a reply, before its bytes are read: what the rule check
    needs (``name``, ``size`` in bytes, ``content_type`` as a MIME type) and where it is
    (``path``, absolute; ``None`` when only checking). The outbox stores it as JSON
    (:meth:`as_dict` / :meth:`from_dict`)."""

    name: str
    size: int
    content_type: str
    path: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON shape the outbox stores: ``{"path", "name", "size", "content_type"}``."""
        return {"path": self.path, "name": self.name, "size": self.size, "content_type": self.content_type}

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> FileSpec:
        """Read the stored JSON shape defensively: a missing or non-integer size counts as 0
        (which the rule check refuses as empty), a missing type as ``application/octet-stream``."""
        size = raw.get("size")
        path = raw.get("path")
        return cls(
            name=str(raw.get("name") or ""),
            size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
            content_type=str(raw.get("content_type") or "application/octet-stream"),
            path=str(path) if path else None,
        )


@dataclass(frozen=True)
class Download:
    """A downloaded attachment (``content``, or ``size`` bytes streamed into the caller's
    file), or ``retry_after`` seconds when it is still being moderated."""

    content: bytes | None = None
    content_type: str | None = None
    retry_after: float | None = None
    size: int | None = None  # decoded bytes written to the caller's sink (streamed downloads)


@dataclass(frozen=True)
class Limits:
    """Hard limits checked before any request is made."""

    max_text: int
    min_text: int = 1
    file_types: frozenset[str] | None = None  # MIME types; None: any
    max_file_size: int | None = None
    max_total_size: int | None = None
    max_files: int | None = None
    text_with_files: bool = True  # can text and files go in one request
    files_per_request: int | None = None  # files one send request carries (None: all of them)


@dataclass(frozen=True)
class AccountConfig:
    """What a connector gets: identity and settings (never from the DB alone: the secret
    comes from the keyring)."""

    name: str
    marketplace: str
    secret: str
    base_url: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)  # client_id, business_id, auth_scheme...
