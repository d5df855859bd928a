"""The tables. Engine-agnostic SQLModel definitions; every time is aware UTC.

Unique keys make every write from a marketplace idempotent: (account, external chat id),
(chat, external message id), (account, stream). Outgoing messages live in ``message`` from
the moment they are queued (so the conversation shows them at once) and have one ``outbox``
row each with the delivery bookkeeping.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, MetaData, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

# Written to meta.schema_version. chatdesk before Alembic refuses a store above 1, so any
# Alembic revision after 0001 keeps this at 2; newer code compares Alembic revisions instead.
SCHEMA_VERSION = 2

MESSAGE_STATES = ("received", "queued", "sending", "sent", "failed", "unknown")
# "held" (team mode): due, but the buyer or another operator wrote after it was scheduled; it
# waits for a person to review it and send it anyway (or cancel it).
FOLLOWUP_STATES = ("pending", "held", "sending", "sent", "cancelled", "expired", "failed")


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
    assigned_to: str | None = Field(default=None, max_length=64, index=True)  # operator name (team mode)


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
    operator: str | None = Field(default=None, max_length=64)  # who wrote an outgoing message (team mode)


class Outbox(SQLModel, table=True):
    """Delivery bookkeeping of one outgoing message (one marketplace request per row when
    queued by this version; older rows may hold several, tracked by ``parts_done``).

    ``claimed_by``/``claim_token``/``claimed_until`` are a fenced, heartbeat-renewed claim: every
    change after a send is an UPDATE conditional on the same owner *and* token, so a process
    that lost the row can never overwrite what the new owner decided. ``in_flight`` is the
    part whose request may be on the wire: a row whose owner is gone is ``unknown`` only when a
    part was in flight, else it simply goes back to ``queued`` (nothing was sent). See
    ``chatdesk.store.outbox.TRANSITIONS``.
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
    claim_token: int = 0  # fencing token: +1 on every claim
    in_flight: int | None = None  # index of the part whose request may be on the wire
    parts_done: int = 0  # requests of this row the marketplace accepted (never re-sent)
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


class BadItem(SQLModel, table=True):
    """An item a marketplace sent that could not be stored, by its raw id: shown in
    ``account list`` and the accounts screen so nothing is dropped silently. ``seen`` counts
    how often it came back; ``last_seen_at`` is the latest."""

    __tablename__ = "bad_item"
    __table_args__ = (UniqueConstraint("account_id", "stream", "external_id", name="uq_bad_item"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    stream: str = Field(max_length=32)
    external_id: str = Field(max_length=255)
    chat_external_id: str | None = Field(default=None, max_length=255)
    reason: str = Field(max_length=500)
    seen: int = 1
    first_seen_at: datetime
    last_seen_at: datetime


class Lease(SQLModel, table=True):
    """Who polls an account: one process at a time, renewed while it runs.

    ``fence`` grows by one each time the lease changes hands (never on a renewal): a holder
    remembers the value it got and every write it makes as the holder can be conditioned on
    it, so a process that lost the lease while paused cannot act on stale ownership."""

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    owner: str = Field(max_length=128)
    expires_at: datetime
    fence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0, server_default="0"))
    acquired_at: datetime | None = None


class SyncWorker(SQLModel, table=True):
    """A running sync engine (daemon or TUI with keys), by its lease owner id, alive until
    ``heartbeat_until`` (the database's clock on PostgreSQL). Live workers split the accounts:
    each takes at most its fair share of leases."""

    owner: str = Field(primary_key=True, max_length=128)
    heartbeat_until: datetime
    started_at: datetime


class OpenClient(SQLModel, table=True):
    """An open TUI on this store (any operator, any host), by its engine's owner id, alive
    until ``alive_until`` (the database's clock on PostgreSQL). While one is, sync daemons
    poll at their "TUI open" pace (``policy.stream_interval``'s ``watching``)."""

    owner: str = Field(primary_key=True, max_length=128)
    operator: str | None = Field(default=None, max_length=64)
    alive_until: datetime


class Draft(SQLModel, table=True):
    """An unsent reply being written: one per chat and operator ("" when there is no operator)."""

    chat_id: int = Field(foreign_key="chat.id", primary_key=True)
    operator: str = Field(default="", max_length=64, primary_key=True)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_at: datetime


class Operator(SQLModel, table=True):
    """A member of the support team (team mode): ``name`` is the login-like id used in config
    (``operator = "anna"``), ``display_name`` what buyers' chats show ("Анна")."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=64)
    display_name: str = Field(max_length=255)
    created_at: datetime


class ChatOperator(SQLModel, table=True):
    """One operator's relation to one chat: what they last saw and whether they are there now.

    ``seen_message_id`` is the newest ``message.id`` shown to them (ids grow in ingest order,
    so "arrived after I looked" never compares two clocks). ``presence`` is ``viewing`` or
    ``typing`` until ``presence_until`` (heartbeats extend it; expiry ends it)."""

    chat_id: int = Field(foreign_key="chat.id", primary_key=True)
    operator: str = Field(max_length=64, primary_key=True)
    seen_message_id: int | None = None
    seen_at: datetime | None = None
    presence: str | None = Field(default=None, max_length=16)
    presence_until: datetime | None = None


class Note(SQLModel, table=True):
    """An internal note in a chat: the team sees it, the buyer never does. Kept apart from
    ``message`` so that nothing that delivers messages (outbox, connectors) can ever read it."""

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(foreign_key="chat.id", index=True)
    operator: str | None = Field(default=None, max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime


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
    # Order of arrival, not clocks: the newest buyer message row id in the chat when the
    # follow-up was scheduled; any buyer message with a higher id arrived after it.
    buyer_seq: int | None = None
    # Team mode: who scheduled it, and the newest message row id of the chat when they did (or
    # when they last chose to send it anyway). A buyer message or another person's reply with a
    # higher id holds it at delivery ("held") instead of sending it over that reply.
    operator: str | None = Field(default=None, max_length=64)
    seen_seq: int | None = None
    overrides: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    message_id: int | None = Field(default=None, foreign_key="message.id")
    # A person asked for it to go now (send now / send anyway): the seller's sending window,
    # a preference for what goes out by itself, does not apply to it.
    ignore_window: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False, server_default=false())
    )
    created_at: datetime
    updated_at: datetime


class MessageTopic(SQLModel, table=True):
    """The topic of a buyer message (issue 14): one row per classified message, deleted with it.

    ``source`` is ``rules`` (the offline classifier, ``version`` = its rules' version) or
    ``model`` (refined by the configured model; never recomputed by the rules). ``to_refine``:
    the rules were unsure and the configured model has not been asked yet (cleared once it was,
    whatever it answered).
    """

    __tablename__ = "message_topic"
    __table_args__ = (
        Index("ix_message_topic_topic", "topic"),
        Index("ix_message_topic_to_refine", "to_refine", "message_id"),
    )

    message_id: int = Field(
        sa_column=Column(Integer, ForeignKey("message.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    )
    topic: str = Field(max_length=32)
    source: str = Field(default="rules", max_length=16)
    version: int = 1
    to_refine: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False, server_default=false())
    )


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


def metadata() -> MetaData:
    """The tables above (SQLModel registers every ``table=True`` model on one MetaData)."""
    return SQLModel.metadata
