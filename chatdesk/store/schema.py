"""The tables. Engine-agnostic SQLModel definitions; every time is aware UTC.

Unique keys make every write from a marketplace idempotent: (account, external chat id),
(chat, external message id), (account, stream). Outgoing messages live in ``message`` from
the moment they are queued (so the conversation shows them at once) and have one ``outbox``
row each with the delivery bookkeeping.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 1

MESSAGE_STATES = ("received", "queued", "sending", "sent", "failed", "unknown")
FOLLOWUP_STATES = ("pending", "sending", "sent", "cancelled", "expired", "failed")


class Meta(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=255)


class Account(SQLModel, table=True):
    """A marketplace account. The secret is in the keyring under ``chatdesk``/``<name>``."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=64)
    marketplace: str = Field(max_length=16)
    base_url: str | None = Field(default=None, max_length=500)
    settings: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    poll_interval: int | None = None
    enabled: bool = True
    created_at: datetime


class Chat(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("account_id", "external_id", name="uq_chat_account_external"),
        Index("ix_chat_activity", "last_message_at", "id"),
        Index("ix_chat_account_activity", "account_id", "last_message_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    external_id: str = Field(max_length=255)
    kind: str = Field(default="chat", max_length=16)
    customer: str | None = Field(default=None, max_length=255)
    order_id: str | None = Field(default=None, max_length=64)
    product_id: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=64)
    reply_token: str | None = Field(default=None, max_length=1000)
    context: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    version: str | None = Field(default=None, max_length=64)
    last_message_id: str | None = Field(default=None, max_length=64)
    last_buyer_message_id: str | None = Field(default=None, max_length=64)
    last_message_at: datetime | None = None
    last_buyer_at: datetime | None = None
    last_author: str | None = Field(default=None, max_length=16)
    preview: str | None = Field(default=None, max_length=300)
    unread: int = 0
    marketplace_unread: int | None = None
    resolved_at: datetime | None = None
    created_at: datetime


class Message(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("chat_id", "external_id", name="uq_message_chat_external"),
        Index("ix_message_chat_time", "chat_id", "created_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(foreign_key="chat.id")
    external_id: str | None = Field(default=None, max_length=255)
    author: str = Field(max_length=16)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime
    attachments: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    state: str = Field(default="received", max_length=16)
    error: str | None = Field(default=None, max_length=1000)


class Outbox(SQLModel, table=True):
    """Delivery bookkeeping of one outgoing message.

    ``claimed_by``/``claimed_until`` make the claim atomic across processes; a row found in
    ``sending`` with an expired claim was interrupted mid-request and becomes ``unknown``:
    it is never re-sent automatically.
    """

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", unique=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    files: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    overrides: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_until: datetime | None = None
    done: bool = Field(default=False, index=True)
    followup_id: int | None = Field(default=None, foreign_key="followup.id")
    created_at: datetime


class SyncState(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("account_id", "stream", name="uq_syncstate_account_stream"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    stream: str = Field(max_length=32)
    cursor: str | None = Field(default=None, max_length=255)
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=1000)
    error_kind: str | None = Field(default=None, max_length=32)
    backoff_until: datetime | None = None
    failures: int = 0
    unavailable: str | None = Field(default=None, max_length=500)
    next_poll_at: datetime | None = None


class Lease(SQLModel, table=True):
    """Who polls an account: one process at a time, renewed while it runs."""

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    owner: str = Field(max_length=128)
    expires_at: datetime


class Draft(SQLModel, table=True):
    chat_id: int = Field(foreign_key="chat.id", primary_key=True)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_at: datetime


class FollowUp(SQLModel, table=True):
    __table_args__ = (Index("ix_followup_state_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(foreign_key="chat.id", index=True)
    due_at: datetime
    text: str = Field(sa_column=Column(Text, nullable=False))
    template: str | None = Field(default=None, max_length=64)
    rule: str | None = Field(default=None, max_length=64)
    state: str = Field(default="pending", max_length=16)
    reason: str | None = Field(default=None, max_length=1000)
    cancel_if_buyer_writes: bool = True
    overrides: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    message_id: int | None = Field(default=None, foreign_key="message.id")
    created_at: datetime
    updated_at: datetime


class MessageTopic(SQLModel, table=True):
    """The topic of a buyer message (issue 14): one row per classified message, deleted with it.

    ``source`` is ``rules`` (the offline classifier, ``version`` = its rules' version) or
    ``model`` (refined by the configured model; never recomputed by the rules).
    """

    __tablename__ = "message_topic"
    __table_args__ = (Index("ix_message_topic_topic", "topic"),)

    message_id: int = Field(
        sa_column=Column(Integer, ForeignKey("message.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    topic: str = Field(max_length=32)
    source: str = Field(default="rules", max_length=16)
    version: int = 1


class HookEvent(SQLModel, table=True):
    """An event handed to the ``[hooks]`` commands, by its unique key (e.g. ``sla_late:12:2026-…``):
    inserting the key is the claim, so each event fires once across processes and restarts."""

    __tablename__ = "hook_event"

    key: str = Field(primary_key=True, max_length=255)
    event: str = Field(max_length=32)
    fired_at: datetime


class RuleBlock(SQLModel, table=True):
    """A message the rule check refused (hard limit, or a content warning not overridden), for
    the report: ``codes`` is a JSON list of finding codes, ``severity`` ``hard`` or ``warn``."""

    __tablename__ = "rule_block"
    __table_args__ = (Index("ix_rule_block_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(Integer, ForeignKey("chat.id", ondelete="CASCADE"), nullable=False))
    at: datetime
    severity: str = Field(max_length=8)
    codes: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
