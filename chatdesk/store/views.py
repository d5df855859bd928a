"""Read queries for the CLI and the TUI: small functions returning frozen rows.

Lists are paged with LIMIT/OFFSET over indexed orderings and every aggregate the list shows
(unread, preview, last activity, waiting) is a column kept by ingestion, so listing 10,000
chats reads one page of rows, never the messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, literal, or_, select
from sqlalchemy.sql.selectable import ScalarSelect
from sqlmodel import col

from chatdesk.model import Attachment
from chatdesk.store.db import Database, from_db, to_db
from chatdesk.store.schema import Account, Chat, Draft, FollowUp, Message, MessageTopic, Operator


@dataclass(frozen=True)
class ChatFilter:
    marketplace: str | None = None
    account: str | None = None
    unread: bool = False
    waiting: bool = False
    status: str | None = None  # "open" | "closed"
    text: str | None = None
    stable_order: bool = False
    topic: str | None = None  # topic of the chat's newest buyer message (chatdesk.assist.topics)
    assigned_to: str | None = None  # team mode: only chats assigned to this operator ("mine")
    unassigned: bool = False  # team mode: only chats nobody is assigned to


@dataclass(frozen=True)
class ChatRow:
    id: int
    account_id: int
    account: str
    marketplace: str
    kind: str
    external_id: str
    customer: str | None
    order_id: str | None
    product_id: str | None
    status: str | None
    unread: int
    waiting: bool
    last_message_at: datetime | None
    last_buyer_at: datetime | None
    preview: str | None
    context: dict[str, str] = field(default_factory=dict)
    has_followup: bool = False
    reply_token: str | None = None
    resolved_at: datetime | None = None
    last_buyer_message_id: str | None = None
    has_draft: bool = False  # an unsent reply is saved for this chat
    topic: str | None = None  # of the newest buyer message (issue 14); None: not tagged yet
    topic_source: str | None = None  # "rules" (offline) or "model" (refined by the configured model)
    assigned_to: str | None = None
    present: tuple[tuple[str, str], ...] = ()  # team mode: (who, "viewing"|"typing") of other operators
    assigned_name: str | None = None  # team mode: the assignee's display name ("Анна"), when known

    @property
    def closed(self) -> bool:
        return (self.status or "").upper() in CLOSED_STATUSES


CLOSED_STATUSES = {"FINISHED", "CLOSED", "ANSWERED"}


@dataclass(frozen=True)
class MessageRow:
    id: int
    chat_id: int
    external_id: str | None
    author: str
    text: str
    created_at: datetime
    attachments: tuple[Attachment, ...]
    state: str
    error: str | None
    operator: str | None = None  # team mode: who wrote an outgoing message
    operator_name: str | None = None  # their display name ("Анна"), when they are a known operator


def _chat_query(flt: ChatFilter) -> Select[*tuple[Any, ...]]:
    has_followup = (
        select(func.count())
        .where(col(FollowUp.chat_id) == Chat.id, col(FollowUp.state) == "pending")
        .correlate(Chat)
        .scalar_subquery()
    )
    has_draft = select(func.count()).where(col(Draft.chat_id) == Chat.id).correlate(Chat).scalar_subquery()
    # one lookup gives both: "rules:size" / "model:size" (split in _chat_row)
    tagged = _topic_subquery(col(MessageTopic.source) + literal(":") + col(MessageTopic.topic))
    q = select(Chat, col(Account.name), col(Account.marketplace), has_followup, has_draft, tagged).join(
        Account,
        col(Account.id) == Chat.account_id,
    )
    if flt.topic:
        q = q.where(_topic_subquery() == flt.topic)
    if flt.marketplace:
        q = q.where(col(Account.marketplace) == flt.marketplace)
    if flt.account:
        q = q.where(col(Account.name) == flt.account)
    if flt.unread:
        q = q.where(col(Chat.unread) > 0)
    if flt.waiting:  # the buyer wrote last and, if the chat was resolved, wrote again since
        q = q.where(
            col(Chat.last_author) == "buyer",
            or_(col(Chat.resolved_at).is_(None), col(Chat.last_buyer_at) > Chat.resolved_at),
        )
    if flt.assigned_to:
        q = q.where(col(Chat.assigned_to) == flt.assigned_to)
    if flt.unassigned:
        q = q.where(col(Chat.assigned_to).is_(None))
    if flt.status == "open":
        q = q.where(or_(col(Chat.status).is_(None), func.upper(Chat.status).not_in(CLOSED_STATUSES)))
    elif flt.status == "closed":
        q = q.where(func.upper(Chat.status).in_(CLOSED_STATUSES))
    if flt.text:
        like = f"%{flt.text.lower()}%"
        q = q.where(
            or_(
                func.lower(Chat.customer).like(like),
                func.lower(Chat.preview).like(like),
                func.lower(Chat.order_id).like(like),
                func.lower(Chat.product_id).like(like),
            )
        )
    return q


def _topic_subquery(what: Any = None) -> ScalarSelect[str]:
    """The topic (or ``what``, another column of ``message_topic``) of the chat's newest buyer
    message (None until it is tagged): one backward index seek to that message and one
    primary-key lookup, never a scan of the chat."""
    newest_buyer = (
        select(col(Message.id))
        .where(col(Message.chat_id) == Chat.id, col(Message.author) == "buyer")
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(1)
        .correlate(Chat)
        .scalar_subquery()
    )
    topic: ScalarSelect[str] = (
        select(col(MessageTopic.topic) if what is None else what)
        .where(col(MessageTopic.message_id) == newest_buyer)
        .correlate(Chat)
        .scalar_subquery()
    )
    return topic


def _chat_row(
    chat: Chat,
    account: str,
    marketplace: str,
    followups: int,
    drafts: int = 0,
    tagged: str | None = None,
) -> ChatRow:
    """``tagged`` is ``source:topic`` of the newest buyer message, or None."""
    assert chat.id is not None
    topic_source, _, topic = (tagged or "").partition(":")
    return ChatRow(
        id=chat.id,
        account_id=chat.account_id,
        account=account,
        marketplace=marketplace,
        kind=chat.kind,
        external_id=chat.external_id,
        customer=chat.customer,
        order_id=chat.order_id,
        product_id=chat.product_id,
        status=chat.status,
        unread=chat.unread,
        waiting=chat.last_author == "buyer"
        and (chat.resolved_at is None or (chat.last_buyer_at is not None and chat.last_buyer_at > chat.resolved_at)),
        last_message_at=from_db(chat.last_message_at),
        last_buyer_at=from_db(chat.last_buyer_at),
        preview=chat.preview,
        context=json.loads(chat.context or "{}"),
        has_followup=bool(followups),
        has_draft=bool(drafts),
        reply_token=chat.reply_token,
        resolved_at=from_db(chat.resolved_at),
        last_buyer_message_id=chat.last_buyer_message_id,
        topic=topic or None,
        topic_source=topic_source if topic else None,
        assigned_to=chat.assigned_to,
    )


def list_chats(
    db: Database, flt: ChatFilter = ChatFilter(), *, offset: int = 0, limit: int | None = None
) -> list[ChatRow]:
    q = _chat_query(flt)
    if flt.stable_order:
        q = q.order_by(col(Chat.id))
    else:
        q = q.order_by(col(Chat.last_message_at).desc().nulls_last(), col(Chat.id).desc())
    q = q.offset(offset)
    if limit is not None:
        q = q.limit(limit)
    with db.read() as s:
        rows = [_chat_row(*r) for r in s.execute(q).all()]
    return _with_presence(db, rows)


def _with_presence(db: Database, rows: list[ChatRow]) -> list[ChatRow]:
    """Team mode: who else is viewing or typing in each chat of the page (one query)."""
    if db.operator is None or not rows:
        return rows
    import dataclasses

    from chatdesk.store import team

    here = team.presence(db, [r.id for r in rows])
    return [
        dataclasses.replace(r, present=tuple((o, st) for o, st in here.get(r.id, []) if o != db.operator))
        if r.id in here
        else r
        for r in rows
    ]


def count_chats(db: Database, flt: ChatFilter = ChatFilter()) -> int:
    q = _chat_query(flt).subquery()
    with db.read() as s:
        return int(s.execute(select(func.count()).select_from(q)).scalar() or 0)


def get_chat(db: Database, chat_id: int) -> ChatRow | None:
    rows = list_chats_by_ids(db, [chat_id])
    return rows[0] if rows else None


def list_chats_by_ids(db: Database, ids: list[int]) -> list[ChatRow]:
    if not ids:
        return []
    q = _chat_query(ChatFilter()).where(col(Chat.id).in_(ids))
    with db.read() as s:
        return [_chat_row(*r) for r in s.execute(q).all()]


def _message_row(m: Message, operator_name: str | None = None) -> MessageRow:
    assert m.id is not None
    return MessageRow(
        id=m.id,
        chat_id=m.chat_id,
        external_id=m.external_id,
        author=m.author,
        text=m.text,
        created_at=from_db(m.created_at),
        attachments=tuple(Attachment(**a) for a in json.loads(m.attachments or "[]")),
        state=m.state,
        error=m.error,
        operator=m.operator,
        operator_name=operator_name,
    )


def list_messages(
    db: Database, chat_id: int, *, before: tuple[datetime, int] | None = None, limit: int | None = None
) -> list[MessageRow]:
    """Messages of a chat in chronological order; with ``limit`` the newest ``limit`` ones
    (before ``before``), so a long chat opens on its last page without reading the rest."""
    q = (
        select(Message, col(Operator.display_name))
        .outerjoin(Operator, col(Operator.name) == Message.operator)
        .where(col(Message.chat_id) == chat_id)
    )
    if before is not None:
        at, mid = before
        at = to_db(at)
        q = q.where(or_(col(Message.created_at) < at, (col(Message.created_at) == at) & (col(Message.id) < mid)))
    q = q.order_by(col(Message.created_at).desc(), col(Message.id).desc())
    if limit is not None:
        q = q.limit(limit)
    with db.read() as s:
        rows = [_message_row(m, name) for m, name in s.execute(q).all()]
    rows.reverse()
    return rows


def get_message(db: Database, message_id: int) -> MessageRow | None:
    with db.read() as s:
        m = s.get(Message, message_id)
    return _message_row(m) if m else None


def messages_by_ids(db: Database, ids: list[int]) -> list[MessageRow]:
    if not ids:
        return []
    with db.read() as s:
        rows = s.execute(select(Message).where(col(Message.id).in_(ids))).scalars().all()
    return [_message_row(m) for m in rows]


def total_unread(db: Database) -> int:
    with db.read() as s:
        return int(s.execute(select(func.coalesce(func.sum(Chat.unread), 0))).scalar() or 0)


def get_draft(db: Database, chat_id: int) -> str:
    """This operator's draft in the chat (``db.operator``; "" without team mode)."""
    with db.read() as s:
        d = s.get(Draft, (chat_id, db.operator or ""))
    return d.text if d else ""


def save_draft(db: Database, chat_id: int, text: str) -> None:
    """Keep (or, when empty, drop) this operator's draft; other operators' drafts are theirs."""
    from chatdesk.store.db import utcnow

    operator = db.operator or ""
    with db.write() as s:
        d = s.get(Draft, (chat_id, operator))
        if not text:
            if d is not None:
                s.delete(d)
            return
        if d is None:
            s.add(Draft(chat_id=chat_id, operator=operator, text=text, updated_at=utcnow()))
        else:
            d.text = text
            d.updated_at = utcnow()
            s.add(d)


def set_unread(db: Database, chat_id: int, unread: int) -> None:
    from sqlalchemy import update

    with db.write() as s:
        s.execute(update(Chat).where(col(Chat.id) == chat_id).values(unread=max(0, unread)))


@dataclass(frozen=True)
class StreamStatus:
    """One account stream's sync health, for the status line and ``account list``."""

    account_id: int
    account: str
    marketplace: str
    stream: str
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    next_poll_at: datetime | None
    backoff_until: datetime | None
    last_error: str | None
    error_kind: str | None
    unavailable: str | None
    poller: str | None  # lease owner while some process polls this account


def sync_status(db: Database) -> list[StreamStatus]:
    from chatdesk.store.db import utcnow
    from chatdesk.store.schema import Lease, SyncState

    lease = (
        select(col(Lease.owner))
        # The database's clock on PostgreSQL (leases are judged by it), this machine's on SQLite.
        .where(col(Lease.account_id) == Account.id, col(Lease.expires_at) >= (utcnow() if db.is_sqlite else func.now()))
        .correlate(Account)
        .scalar_subquery()
    )
    q = (
        select(Account, SyncState, lease)
        .join(SyncState, col(SyncState.account_id) == Account.id, isouter=True)
        .order_by(col(Account.name), col(SyncState.stream))
    )
    out: list[StreamStatus] = []
    with db.read() as s:
        for acc, st, owner in s.execute(q).all():
            out.append(
                StreamStatus(
                    account_id=acc.id,
                    account=acc.name,
                    marketplace=acc.marketplace,
                    stream=st.stream if st else "chats",
                    last_success_at=from_db(st.last_success_at) if st else None,
                    last_attempt_at=from_db(st.last_attempt_at) if st else None,
                    next_poll_at=from_db(st.next_poll_at) if st else None,
                    backoff_until=from_db(st.backoff_until) if st else None,
                    last_error=st.last_error if st else None,
                    error_kind=st.error_kind if st else None,
                    unavailable=st.unavailable if st else None,
                    poller=owner,
                )
            )
    return out


def count_messages_from(db: Database, chat_id: int, at: datetime, message_id: int) -> int:
    """How many messages of a chat are at or after the message (``at``, ``message_id``): the size of
    the newest window that still shows it (a search hit opened in its chat)."""
    at = to_db(at)
    q = select(func.count()).where(
        col(Message.chat_id) == chat_id,
        or_(col(Message.created_at) > at, (col(Message.created_at) == at) & (col(Message.id) >= message_id)),
    )
    with db.read() as s:
        return int(s.execute(q).scalar() or 0)


@dataclass(frozen=True)
class BadItemRow:
    """An item a marketplace sent that could not be stored (see ``store.ingest``), for
    ``account list``, ``--json`` and the accounts screen. ``external_id`` is the raw id."""

    account_id: int
    stream: str
    external_id: str
    chat_external_id: str | None
    reason: str
    seen: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None


def bad_items(db: Database, account_id: int | None = None, *, limit: int = 100) -> list[BadItemRow]:
    """The newest unstorable items (of one account, or all), newest first, at most ``limit``."""
    from chatdesk.store.schema import BadItem

    q = select(BadItem).order_by(col(BadItem.last_seen_at).desc(), col(BadItem.id).desc()).limit(limit)
    if account_id is not None:
        q = q.where(col(BadItem.account_id) == account_id)
    with db.read() as s:
        return [
            BadItemRow(
                account_id=r.account_id,
                stream=r.stream,
                external_id=r.external_id,
                chat_external_id=r.chat_external_id,
                reason=r.reason,
                seen=r.seen,
                first_seen_at=from_db(r.first_seen_at),
                last_seen_at=from_db(r.last_seen_at),
            )
            for r in s.execute(q).scalars()
        ]
