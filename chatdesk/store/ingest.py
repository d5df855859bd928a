"""Writing what the marketplaces say: chats, messages, stream cursors.

:func:`apply_page` is the only way sync data enters the store. One page is one transaction:
chats upserted, new messages inserted (duplicates by (chat, external id) ignored), echoes of
messages chatdesk sent matched to their outbox rows instead of inserted, chat aggregates
(last activity, preview, unread, waiting) updated, and the stream cursor written last — so
a crash anywhere leaves a store whose cursor never runs ahead of its data.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from sqlalchemy import bindparam, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError, StatementError
from sqlmodel import Session

from chatdesk.model import BadItem, ChatInfo, KnownChat, MessageInfo, Page
from chatdesk.store import sqlite_fast
from chatdesk.store.db import Database, to_db, utcnow
from chatdesk.store.fencing import LeaseHolder, require_lease
from chatdesk.store.schema import BadItem as BadItemRow
from chatdesk.store.schema import Chat, FollowUp, Message, Outbox, SyncState

PREVIEW_LEN = 200


@dataclass
class IngestResult:
    new_messages: int = 0
    new_buyer_messages: int = 0
    reconciled: int = 0
    bad_items: int = 0  # items recorded as unstorable (see BadItem)
    chat_ids: set[int] = field(default_factory=set)
    buyer_chat_ids: set[int] = field(default_factory=set)
    buyer_previews: list[tuple[int, str]] = field(default_factory=list)  # (chat id, text)

    def merge(self, other: IngestResult) -> None:
        self.new_messages += other.new_messages
        self.new_buyer_messages += other.new_buyer_messages
        self.reconciled += other.reconciled
        self.bad_items += other.bad_items
        self.chat_ids |= other.chat_ids
        self.buyer_chat_ids |= other.buyer_chat_ids
        self.buyer_previews.extend(other.buyer_previews)


def _insert(session: Session, table):  # type: ignore[no-untyped-def]
    """An INSERT that ignores unique-key conflicts, for the engine in use."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


def _norm(text: str) -> str:
    return " ".join(text.split())


def _id_key(value: str | None) -> tuple[int, int | str]:
    """Sort key for marketplace ids: numeric ids compare as numbers (exactly), others as text."""
    if value is None:
        return (0, 0)
    # isdigit() alone also accepts "²" or Arabic-Indic digits, which int() refuses or reads
    # differently: only ASCII digits are numbers here.
    return (1, int(value)) if value.isascii() and value.isdigit() else (2, value)


def known_chats(
    db: Database, account_id: int, *, kind: str | None = None, external_ids: Iterable[str] | None = None
) -> dict[str, KnownChat]:
    """Every chat of the account (of one ``kind``, or just ``external_ids``, if given), for
    connectors that walk them."""
    base = select(Chat.external_id, Chat.version, Chat.last_message_id, Chat.status).where(
        Chat.account_id == account_id
    )
    if kind is not None:
        base = base.where(Chat.kind == kind)
    queries = [base]
    if external_ids is not None:
        ids = sorted(external_ids)
        queries = [base.where(Chat.external_id.in_(ids[i : i + 500])) for i in range(0, len(ids), 500)]  # type: ignore[attr-defined]
    out: dict[str, KnownChat] = {}
    with db.read() as s:
        for q in queries:
            for r in s.execute(q).all():
                out[r[0]] = KnownChat(external_id=r[0], version=r[1], last_message_id=r[2], status=r[3])
    return out


class LazyKnownChats(Mapping[str, KnownChat]):
    """``known`` for a connector that only asks about a few chats (WB's events feed): each
    lookup is one indexed query, so an idle poll costs the same on 10 chats or 10,000.
    Iterating it reads every chat once (as :func:`known_chats`)."""

    def __init__(self, db: Database, account_id: int) -> None:
        self._db = db
        self._account_id = account_id
        self._seen: dict[str, KnownChat | None] = {}
        self._all: dict[str, KnownChat] | None = None

    def __getitem__(self, external_id: str) -> KnownChat:
        if self._all is not None:
            return self._all[external_id]
        if external_id not in self._seen:
            with self._db.read() as s:
                row = s.execute(
                    select(Chat.version, Chat.last_message_id, Chat.status).where(
                        Chat.account_id == self._account_id, Chat.external_id == external_id
                    )
                ).first()
            self._seen[external_id] = (
                None if row is None else KnownChat(external_id, version=row[0], last_message_id=row[1], status=row[2])
            )
        found = self._seen[external_id]
        if found is None:
            raise KeyError(external_id)
        return found

    def _everything(self) -> dict[str, KnownChat]:
        if self._all is None:
            self._all = known_chats(self._db, self._account_id)
        return self._all

    def __iter__(self) -> Iterator[str]:
        return iter(self._everything())

    def __len__(self) -> int:
        return len(self._everything())


def _chat_values(info: ChatInfo) -> dict[str, object]:
    values: dict[str, object] = {}
    for name in ("kind", "customer", "order_id", "product_id", "status", "reply_token", "version"):
        value = getattr(info, name)
        if value is not None:
            values[name] = value
    if info.context:
        values["context"] = json.dumps(dict(info.context), ensure_ascii=False, sort_keys=True)
    if info.unread is not None:
        values["marketplace_unread"] = info.unread
    return values


def _upsert_chats(session: Session, account_id: int, infos: Iterable[ChatInfo]) -> dict[str, int]:
    """Insert new chats, then set what each ChatInfo says, with one executemany per shape of
    update (not one UPDATE per chat: a WB page touches ~50 chats and the ORM round trip per
    statement dominated ingest time)."""
    infos = list({i.external_id: i for i in infos}.values())
    if not infos:
        return {}
    now = utcnow()
    conn = session.connection()
    table = Chat.__table__
    conn.execute(
        _insert(session, table),
        [{"account_id": account_id, "external_id": i.external_id, "created_at": now, "unread": 0} for i in infos],
    )
    current = _chat_state(session, account_id, [i.external_id for i in infos])
    ids = {ext: row[0] for ext, row in current.items()}
    shapes: dict[tuple[str, ...], list[dict[str, object]]] = {}
    activity: list[dict[str, object]] = []
    for info in infos:
        stored = current[info.external_id][1]
        # Only what changed: most pages repeat what the store already says about a chat.
        values = {k: v for k, v in _chat_values(info).items() if stored.get(k) != v}
        if values:
            shapes.setdefault(tuple(sorted(values)), []).append({"_id": ids[info.external_id], **values})
        if info.last_message_at is not None:
            # The list's "last message" only fills a chat whose messages we have not seen yet;
            # once messages arrive they alone decide activity, preview and who spoke last.
            activity.append(
                {
                    "_id": ids[info.external_id],
                    "_at": to_db(info.last_message_at),
                    "_preview": (info.preview or "")[:PREVIEW_LEN] or None,
                }
            )
    for names, rows in shapes.items():
        if conn.dialect.name == "sqlite":
            sqlite_fast.update_by_id(conn, "chat", names, [(*(r[n] for n in names), r["_id"]) for r in rows])
        else:
            stmt = update(table).where(table.c.id == bindparam("_id")).values({n: bindparam(n) for n in names})
            conn.execute(stmt, rows)
    counts = [{"_id": ids[i.external_id], "_unread": max(0, i.unread)} for i in infos if i.unread is not None]
    if counts:
        # No history in hand (e.g. Ozon without the subscription that reads it): the
        # marketplace's own unread count is the best there is. Once messages are stored,
        # they alone decide the count.
        stmt = (
            update(table)
            .where(table.c.id == bindparam("_id"), table.c.last_message_id.is_(None))
            .values(unread=bindparam("_unread"))
        )
        conn.execute(stmt, counts)
    if activity:
        stmt = (
            update(table)
            .where(table.c.id == bindparam("_id"), table.c.last_message_at.is_(None))
            .values(last_message_at=bindparam("_at"), preview=bindparam("_preview"))
        )
        conn.execute(stmt, activity)
    return ids


_STATE_COLUMNS = (
    "kind",
    "customer",
    "order_id",
    "product_id",
    "status",
    "reply_token",
    "version",
    "context",
    "marketplace_unread",
)


def _chat_state(session: Session, account_id: int, external_ids: list[str]) -> dict[str, tuple[int, dict[str, object]]]:
    """external id -> (chat id, the columns a ChatInfo may set), read in chunks."""
    table = Chat.__table__
    cols = [table.c[name] for name in _STATE_COLUMNS]
    out: dict[str, tuple[int, dict[str, object]]] = {}
    for start in range(0, len(external_ids), 500):
        chunk = external_ids[start : start + 500]
        rows = session.execute(
            select(table.c.external_id, table.c.id, *cols).where(
                table.c.account_id == account_id, table.c.external_id.in_(chunk)
            )
        ).all()
        for r in rows:
            out[r[0]] = (r[1], dict(zip(_STATE_COLUMNS, r[2:], strict=True)))
    return out


def _attachments_json(msg: MessageInfo) -> str:
    if not msg.attachments:
        return "[]"
    return json.dumps([asdict(a) for a in msg.attachments], ensure_ascii=False)


def apply_page(
    db: Database, account_id: int, stream: str, page: Page, *, holder: LeaseHolder | None = None
) -> IngestResult:
    """Commit one page and then its cursor, atomically (``holder``: see :func:`apply_pages`)."""
    return apply_pages(db, account_id, stream, [page], holder=holder)


def apply_pages(
    db: Database, account_id: int, stream: str, pages: list[Page], *, holder: LeaseHolder | None = None
) -> IngestResult:
    """Commit consecutive pages in one transaction, each page's cursor after its data.

    A commit per page dominated sync ingest; grouping keeps the guarantee (the stored cursor
    never runs ahead of stored data) because the pages commit or roll back together.

    ``holder``: the poll round's lease (owner and fencing counter). The transaction writes
    nothing — no message, no chat, no cursor — unless that lease is still held, and raises
    :class:`~chatdesk.store.fencing.LeaseLost` otherwise (issue 15: a daemon that lost its
    lease while paused must not move the cursor backwards or overwrite the new holder's work).
    """
    result = IngestResult()
    cleaned = [_clean_page(p) for p in pages]
    with db.write() as session:
        require_lease(session, account_id, holder)
        try:
            with session.begin_nested():
                _apply(session, account_id, stream, merge_pages(cleaned), result)
        except (OperationalError, sqlite3.OperationalError):
            raise  # a full disk or a lock fails the whole write, never one item
        except _ITEM_ERRORS:
            # One item the database refuses must not block the stream: store the pages item by
            # item, record what cannot be stored, and move the cursor on (issue 11 §1).
            result = IngestResult()
            for page in cleaned:
                _apply_isolated(session, account_id, stream, page, result)
        _record_bad(session, account_id, stream, [b for p in cleaned for b in p.bad_items])
        result.bad_items += sum(len(p.bad_items) for p in cleaned)
    return result


# What one unstorable item raises (not a full disk or a lock: those fail the whole write).
_ITEM_ERRORS = (
    IntegrityError,
    DataError,
    ProgrammingError,
    StatementError,
    sqlite3.Error,  # raised raw by sqlite_fast's executemany
    ValueError,
    TypeError,
    UnicodeError,
)
_SURROGATES = re.compile("[\ud800-\udfff]")
MAX_ID = 255


def storable(text: str) -> str:
    """Text any store accepts: lone UTF-16 surrogates (half an emoji, valid in JSON) become
    U+FFFD and NUL is dropped (PostgreSQL refuses it in text). Other control characters are
    kept here and removed where text is shown (:func:`chatdesk.sanitize.safe_text`)."""
    if text.isascii():
        return text.replace("\x00", "")
    return _SURROGATES.sub("\ufffd", text).replace("\x00", "")


def _opt(text: str | None) -> str | None:
    return None if text is None else storable(text)


def _bad_id(value: object) -> str | None:
    """Why an id cannot be a key, or None if it can."""
    if not isinstance(value, str) or not value.strip():
        return "no usable id"
    if len(value) > MAX_ID:
        return f"id longer than {MAX_ID} characters"
    if storable(value) != value or any(ord(c) < 32 for c in value):
        return "id with control characters or broken Unicode"
    return None


def _raw_id(value: object) -> str:
    return storable(str(value if value is not None else ""))[:MAX_ID]


def _clean_page(page: Page) -> Page:
    """The page with every string storable; items without a usable id or time moved to
    ``bad_items`` (recorded with their raw id, never silently dropped)."""
    bad = list(page.bad_items)
    chats: list[ChatInfo] = []
    dropped_chats: set[str] = set()
    for c in page.chats:
        reason = _bad_id(c.external_id)
        if reason:
            bad.append(BadItem(_raw_id(c.external_id), f"chat: {reason}"))
            dropped_chats.add(c.external_id)
            continue
        chats.append(
            replace(
                c,
                customer=_opt(c.customer),
                order_id=_opt(c.order_id),
                product_id=_opt(c.product_id),
                status=_opt(c.status),
                reply_token=_opt(c.reply_token),
                version=_opt(c.version),
                preview=_opt(c.preview),
                context={storable(str(k)): storable(str(v)) for k, v in c.context.items()},
            )
        )
    messages: list[MessageInfo] = []
    for m in page.messages:
        reason = _bad_id(m.external_id) or (
            f"its chat: {_bad_id(m.chat_external_id)}" if _bad_id(m.chat_external_id) else None
        )
        if reason is None and (not isinstance(m.created_at, datetime) or m.created_at.tzinfo is None):
            reason = "no usable time"
        if reason:
            bad.append(BadItem(_raw_id(m.external_id), f"message: {reason}", _raw_id(m.chat_external_id)))
            continue
        messages.append(
            replace(
                m,
                text=storable(m.text or ""),
                attachments=tuple(
                    replace(
                        a,
                        name=storable(a.name),
                        content_type=_opt(a.content_type),
                        url=_opt(a.url),
                        download_id=_opt(a.download_id),
                    )
                    for a in m.attachments
                ),
            )
        )
    return Page(chats=tuple(chats), messages=tuple(messages), cursor=page.cursor, bad_items=tuple(bad))


def _apply_isolated(session: Session, account_id: int, stream: str, page: Page, result: IngestResult) -> None:
    """Apply one page item by item, each in its own savepoint; what fails becomes a bad item."""
    bad: list[BadItem] = []
    by_chat = {c.external_id: c for c in page.chats}
    for chat in page.chats:
        try:
            with session.begin_nested():
                _upsert_chats(session, account_id, [chat])
        except _ITEM_ERRORS as exc:
            bad.append(BadItem(_raw_id(chat.external_id), f"chat not storable: {type(exc).__name__}"))
    for m in page.messages:
        part = IngestResult()
        try:
            with session.begin_nested():
                owner = by_chat.get(m.chat_external_id)
                _apply(session, account_id, stream, Page(chats=(owner,) if owner else (), messages=(m,)), part)
        except _ITEM_ERRORS as exc:
            bad.append(
                BadItem(
                    _raw_id(m.external_id), f"message not storable: {type(exc).__name__}", _raw_id(m.chat_external_id)
                )
            )
        else:
            result.merge(part)
    if page.cursor is not None:
        _set_cursor(session, account_id, stream, page.cursor)
    _record_bad(session, account_id, stream, bad)
    result.bad_items += len(bad)


def _record_bad(session: Session, account_id: int, stream: str, items: list[BadItem]) -> None:
    """Upsert bad items by (account, stream, raw id): ``seen`` +1 and ``last_seen_at`` now."""
    if not items:
        return
    now = utcnow()
    table = BadItemRow.__table__
    # Connectors hand over the raw id as it came: make every string storable first.
    items = [
        BadItem(
            _raw_id(b.external_id),
            storable(b.reason)[:500],
            _raw_id(b.chat_external_id) if b.chat_external_id is not None else None,
        )
        for b in items
    ]
    unique = {b.external_id: b for b in items}
    conn = session.connection()
    conn.execute(
        _insert(session, table),
        [
            {
                "account_id": account_id,
                "stream": stream,
                "external_id": b.external_id,
                "chat_external_id": b.chat_external_id,
                "reason": b.reason[:500],
                "seen": 0,
                "first_seen_at": now,
                "last_seen_at": now,
            }
            for b in unique.values()
        ],
    )
    conn.execute(
        update(table)
        .where(
            table.c.account_id == account_id,
            table.c.stream == stream,
            table.c.external_id == bindparam("_ext"),
        )
        .values(seen=table.c.seen + 1, last_seen_at=now, reason=bindparam("_reason")),
        [{"_ext": b.external_id, "_reason": b.reason[:500]} for b in unique.values()],
    )


def merge_pages(pages: list[Page]) -> Page:
    """Consecutive pages as one: later facts about a chat override earlier ones (fields that
    are None leave them alone, as in an upsert), messages are all kept, and the cursor is the
    last one given. Applying the merge equals applying the pages in order, with a fraction of
    the statements."""
    if len(pages) == 1:
        return pages[0]
    merged: dict[str, dict[str, object]] = {}
    for page in pages:
        for info in page.chats:
            values = merged.get(info.external_id)
            if values is None:
                merged[info.external_id] = dict(vars(info))
            else:
                values.update((k, v) for k, v in vars(info).items() if v is not None and v != {})
    chats = {ext: ChatInfo(**values) for ext, values in merged.items()}  # type: ignore[arg-type]
    cursor = next((p.cursor for p in reversed(pages) if p.cursor is not None), None)
    return Page(chats=tuple(chats.values()), messages=tuple(m for p in pages for m in p.messages), cursor=cursor)


def _apply(session: Session, account_id: int, stream: str, page: Page, result: IngestResult) -> None:
    chat_ids = _upsert_chats(session, account_id, page.chats)
    msgs = list({(m.chat_external_id, m.external_id): m for m in page.messages}.values())
    missing = sorted({m.chat_external_id for m in msgs} - set(chat_ids))
    if missing:
        chat_ids.update(_upsert_chats(session, account_id, [ChatInfo(external_id=x) for x in missing]))
    if msgs:
        _insert_messages(session, chat_ids, msgs, result)
    if page.cursor is not None:
        _set_cursor(session, account_id, stream, page.cursor)


def _insert_messages(session: Session, chat_ids: dict[str, int], msgs: list[MessageInfo], result: IngestResult) -> None:
    """Insert the new messages of a page. Every lookup is one query for the whole page (not
    one per chat), so a page costs a handful of statements whatever it spans."""
    by_chat: dict[int, list[MessageInfo]] = {}
    for m in msgs:
        by_chat.setdefault(chat_ids[m.chat_external_id], []).append(m)
    conn = session.connection()
    # Which of these do we have already? One row-value IN over the unique (chat, external id)
    # index: a probe per pair, not per chat x id combination.
    wanted = sorted({(chat_id, m.external_id) for chat_id, items in by_chat.items() for m in items})
    mt = Message.__table__
    if conn.dialect.name == "sqlite":
        existing = sqlite_fast.existing_pairs(conn, wanted)
    else:
        existing = set()
        for start in range(0, len(wanted), 400):
            pairs = conn.execute(
                select(mt.c.chat_id, mt.c.external_id).where(
                    tuple_(mt.c.chat_id, mt.c.external_id).in_(wanted[start : start + 400])
                )
            ).all()
            existing.update((r[0], r[1]) for r in pairs)

    fresh_by_chat: dict[int, list[MessageInfo]] = {}
    for chat_id, items in by_chat.items():
        fresh = sorted(
            (m for m in items if (chat_id, m.external_id) not in existing),
            key=lambda m: (m.created_at, _id_key(m.external_id)),
        )
        if fresh:
            fresh_by_chat[chat_id] = fresh
    pending = _pending_outgoing(
        session, [c for c, fresh in fresh_by_chat.items() if any(m.author == "seller" for m in fresh)]
    )
    rows: list[dict[str, object]] = []
    inserted: dict[int, list[MessageInfo]] = {}
    followup_ids = {p.id for chat_pending in pending.values() for p in chat_pending if p.followup}
    followup_echoes: set[int] = set()  # id() of the page's messages that echo a scheduled follow-up
    for chat_id, fresh in fresh_by_chat.items():
        chat_pending = pending.get(chat_id, [])
        for m in fresh:
            match = _match_outgoing(chat_pending, m) if m.author == "seller" else None
            if match is not None:
                if match in followup_ids:
                    followup_echoes.add(id(m))
                session.execute(
                    update(Message)
                    .where(Message.id == match)
                    .values(external_id=m.external_id, state="sent", error=None, created_at=to_db(m.created_at))
                )
                # The echo is final: a failed/unknown row is settled too, and its outbox row is
                # done unless its owner is still at work (its fenced verdict follows).
                session.execute(
                    update(Outbox)
                    .where(Outbox.message_id == match, Outbox.claimed_by.is_(None))  # type: ignore[union-attr]
                    .values(done=True)
                )
                session.execute(
                    update(FollowUp)
                    .where(FollowUp.message_id == match, FollowUp.state.in_(("sending", "failed")))  # type: ignore[attr-defined]
                    .values(state="sent", reason=None, updated_at=utcnow())
                )
                result.reconciled += 1
            else:
                rows.append(
                    {
                        "chat_id": chat_id,
                        "external_id": m.external_id,
                        "author": m.author,
                        "text": m.text,
                        "created_at": to_db(m.created_at),
                        "attachments": _attachments_json(m),
                        "state": "received",
                    }
                )
                result.new_messages += 1
                if m.author == "buyer":
                    result.new_buyer_messages += 1
                    result.buyer_chat_ids.add(chat_id)
                    result.buyer_previews.append((chat_id, m.text))
        result.chat_ids.add(chat_id)
        inserted[chat_id] = fresh
    _update_aggregates(session, inserted, followup_echoes)
    if rows:
        if conn.dialect.name == "sqlite":
            sqlite_fast.insert_messages(conn, rows)
        else:
            conn.execute(_insert(session, mt), rows)
    if result.buyer_chat_ids:
        _cancel_followups_on_buyer_reply(session, result.buyer_chat_ids)


@dataclass
class _Pending:
    """One of our outgoing messages an echo may settle: its normalized text and files
    (``(name, size)``, names NFC-normalized and case-folded), and whether it was refused."""

    id: int
    text: str
    files: list[tuple[str, int | None]]
    refused: bool
    followup: bool = False
    """It is a scheduled follow-up (its outbox row has a ``followup_id``): not an answer."""


def _file_key(name: object, size: object) -> tuple[str, int | None]:
    import unicodedata

    text = unicodedata.normalize("NFC", str(name or "")).strip().casefold()
    return text, size if isinstance(size, int) and not isinstance(size, bool) else None


def _stored_files(raw: object) -> list[tuple[str, int | None]]:
    try:
        items = json.loads(str(raw or "[]"))
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [_file_key(f.get("name"), f.get("size")) for f in items if isinstance(f, dict)]


def _pending_outgoing(session: Session, chat_ids: list[int]) -> dict[int, list[_Pending]]:
    """Per chat, our sent-but-not-echoed messages (oldest first) that an echo may settle."""
    out: dict[int, list[_Pending]] = {}
    if not chat_ids:
        return out
    mt, ot = Message.__table__, Outbox.__table__
    for start in range(0, len(chat_ids), 500):
        rows = (
            session.connection()
            .execute(
                select(mt.c.chat_id, mt.c.id, mt.c.text, mt.c.attachments, mt.c.state, ot.c.followup_id)
                .outerjoin(ot, ot.c.message_id == mt.c.id)
                .where(
                    mt.c.chat_id.in_(chat_ids[start : start + 500]),
                    mt.c.external_id.is_(None),
                    mt.c.author == "seller",
                    mt.c.state.in_(("sending", "sent", "unknown", "failed")),
                )
                .order_by(mt.c.id)
            )
            .all()
        )
        for chat_id, mid, text, attachments, state, followup_id in rows:
            row = _Pending(
                mid,
                _norm(text),
                _stored_files(attachments),
                refused=state == "failed",
                followup=followup_id is not None,
            )
            out.setdefault(chat_id, []).append(row)
    return out


def _same_files(echo: list[tuple[str, int | None]], ours: list[tuple[str, int | None]], *, subset: bool) -> bool:
    """The echo's files are ours by name (and by size where both are known): the same
    multiset, or with ``subset`` a part of it (a message delivered without a refused file)."""
    left = list(ours)
    for name, size in echo:
        hit = next((i for i, (n, s) in enumerate(left) if n == name and (s is None or size is None or s == size)), None)
        if hit is None:
            return False
        del left[hit]
    return subset or not left


def _match_outgoing(pending: list[_Pending], msg: MessageInfo) -> int | None:
    """The oldest pending message this echo settles, or None (then it is a new message).

    Text alone cannot tell file-only parts apart (all have text ""), so files count too:

    1. same text and the same files by name/size — preferring a row not refused, so a later
       successful re-send is settled rather than the refused original;
    2. same non-empty text and the echo's files a part of ours, not a refused row (WB
       delivers a message without a file it refused inside the same request);
    3. same text and the same number of files under other names (Ozon renames an image to
       ``image-<id>``) — never a refused row: a part refused by a definite 4xx is settled
       only by an echo that carries its own files.
    """
    text = _norm(msg.text)
    echo = [_file_key(a.name, a.size) for a in msg.attachments]
    same_text = [p for p in pending if p.text == text]
    candidates = [
        *(p for p in same_text if not p.refused and _same_files(echo, p.files, subset=False)),
        *(p for p in same_text if p.refused and _same_files(echo, p.files, subset=False)),
        *(p for p in same_text if text and not p.refused and _same_files(echo, p.files, subset=True)),
        *(p for p in same_text if not p.refused and len(p.files) == len(echo)),
    ]
    if not candidates:
        return None
    chosen = candidates[0]
    pending.remove(chosen)
    return chosen.id


_AGGREGATES = (
    "last_message_at",
    "last_author",
    "preview",
    "unread",
    "last_message_id",
    "last_buyer_message_id",
    "last_buyer_at",
)


def _update_aggregates(
    session: Session, new_by_chat: dict[int, list[MessageInfo]], followup_echoes: set[int] | None = None
) -> None:
    """Fold each chat's new messages (chronological) into its list columns: one read and one
    executemany for the page.

    ``followup_echoes`` holds ``id()`` of the messages that are the marketplace's echo of a
    scheduled follow-up: a nudge is not an answer, so it moves the chat's last activity and
    preview but leaves ``last_author`` (the buyer stays waiting) and ``unread`` alone."""
    if not new_by_chat:
        return
    table = Chat.__table__
    conn = session.connection()
    current: dict[int, dict[str, object]] = {}
    ids = sorted(new_by_chat)
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(table.c.id, *(table.c[n] for n in _AGGREGATES)).where(table.c.id.in_(ids[start : start + 500]))
        ).all()
        current.update({r[0]: dict(zip(_AGGREGATES, r[1:], strict=True)) for r in rows})
    updates: list[dict[str, object]] = []
    for chat_id, new in new_by_chat.items():
        chat = current[chat_id]
        last_at = chat["last_message_at"]
        unread = chat["unread"]
        # Unread counts the buyer's messages after the seller's latest, not the messages after
        # the chat's last activity (which a chat list may already have set to the newest
        # message: two buyer messages in one sync then counted as one).
        seller_at = last_at if chat["last_author"] == "seller" else None
        for m in new:  # chronological
            at = to_db(m.created_at)
            assert at is not None
            followup = followup_echoes is not None and id(m) in followup_echoes
            if followup:
                pass  # a scheduled nudge neither answers nor reads the buyer's messages
            elif m.author == "seller" and (seller_at is None or at >= seller_at):  # type: ignore[operator]
                seller_at = at
                if chat["last_buyer_at"] is None or at >= chat["last_buyer_at"]:  # type: ignore[operator]
                    unread = 0
            elif m.author == "buyer" and (seller_at is None or at > seller_at):  # type: ignore[operator]
                unread += 1  # type: ignore[operator]
            if m.author == "buyer":
                chat["last_buyer_at"] = max(chat["last_buyer_at"] or at, at)  # type: ignore[type-var]
                if chat["last_buyer_message_id"] is None or _id_key(m.external_id) > _id_key(
                    chat["last_buyer_message_id"]  # type: ignore[arg-type]
                ):
                    chat["last_buyer_message_id"] = m.external_id
            newest = last_at is None or at >= last_at  # type: ignore[operator]
            if newest:
                last_at = at
                if not followup:
                    chat["last_author"] = m.author
                chat["preview"] = (m.text or _attachment_label(m))[:PREVIEW_LEN]
            if chat["last_message_id"] is None or _id_key(m.external_id) > _id_key(chat["last_message_id"]):  # type: ignore[arg-type]
                chat["last_message_id"] = m.external_id
        chat["last_message_at"] = last_at
        chat["unread"] = unread
        updates.append({"_id": chat_id, **{f"_{k}": v for k, v in chat.items()}})
    if conn.dialect.name == "sqlite":
        sqlite_fast.update_by_id(
            conn, "chat", _AGGREGATES, [(*(u[f"_{k}"] for k in _AGGREGATES), u["_id"]) for u in updates]
        )
        return
    stmt = update(table).where(table.c.id == bindparam("_id")).values({k: bindparam(f"_{k}") for k in _AGGREGATES})
    conn.execute(stmt, updates)


def _attachment_label(m: MessageInfo) -> str:
    return ", ".join(f"[{a.name}]" for a in m.attachments)


def _cancel_followups_on_buyer_reply(session: Session, chat_ids: set[int]) -> None:
    """A buyer who writes again is no longer waiting for our scheduled nudge."""
    ids = sorted(chat_ids)
    with_pending: set[int] = set()
    for start in range(0, len(ids), 500):  # usually none: then this is the only query
        with_pending.update(
            session.execute(
                select(FollowUp.chat_id).where(
                    FollowUp.chat_id.in_(ids[start : start + 500]),  # type: ignore[attr-defined]
                    FollowUp.state == "pending",
                    FollowUp.cancel_if_buyer_writes.is_(True),  # type: ignore[attr-defined]
                )
            ).scalars()
        )
    for chat_id in sorted(with_pending):
        # Order of arrival decides (issue 12 §3): the buyer messages just stored have row ids
        # above the ``buyer_seq`` recorded at scheduling, whatever the marketplace's clock says.
        newest = session.execute(
            select(func.max(Message.id)).where(Message.chat_id == chat_id, Message.author == "buyer")
        ).scalar()
        last_buyer = session.execute(select(Chat.last_buyer_at).where(Chat.id == chat_id)).scalar()
        pending = update(FollowUp).where(
            FollowUp.chat_id == chat_id,
            FollowUp.state == "pending",
            FollowUp.cancel_if_buyer_writes.is_(True),  # type: ignore[attr-defined]
        )
        cancelled = {"state": "cancelled", "reason": "the buyer wrote after it was scheduled", "updated_at": utcnow()}
        if newest is not None:
            session.execute(pending.where(FollowUp.buyer_seq < newest).values(**cancelled))  # type: ignore[operator]
        if last_buyer is not None:  # follow-ups scheduled before buyer_seq was recorded
            session.execute(
                pending.where(FollowUp.buyer_seq.is_(None), FollowUp.created_at < last_buyer).values(**cancelled)  # type: ignore[union-attr]
            )


# ----------------------------------------------------------------------------- stream state


def _state(session: Session, account_id: int, stream: str) -> SyncState:
    row: SyncState | None = session.execute(
        select(SyncState).where(SyncState.account_id == account_id, SyncState.stream == stream)
    ).scalar_one_or_none()
    if row is None:
        session.execute(
            _insert(session, SyncState.__table__), [{"account_id": account_id, "stream": stream, "failures": 0}]
        )
        row = session.execute(
            select(SyncState).where(SyncState.account_id == account_id, SyncState.stream == stream)
        ).scalar_one()
    assert row is not None
    return row


def _set_cursor(session: Session, account_id: int, stream: str, cursor: str) -> None:
    state = _state(session, account_id, stream)
    state.cursor = cursor
    session.add(state)


def get_cursor(db: Database, account_id: int, stream: str) -> str | None:
    with db.read() as s:
        return s.execute(
            select(SyncState.cursor).where(SyncState.account_id == account_id, SyncState.stream == stream)
        ).scalar()


def stream_state(db: Database, account_id: int, stream: str) -> SyncState:
    with db.write() as s:
        return _state(s, account_id, stream)


def record_attempt(
    db: Database,
    account_id: int,
    stream: str,
    *,
    ok: bool,
    error: str | None = None,
    error_kind: str | None = None,
    backoff_until: datetime | None = None,
    unavailable: str | None = None,
    next_poll_at: datetime | None = None,
    holder: LeaseHolder | None = None,
) -> None:
    """Record the outcome of one poll of a stream (success clears the error and back-off).
    ``holder``: refused with :class:`~chatdesk.store.fencing.LeaseLost` unless the poll
    round's lease is still held (see :func:`apply_pages`)."""
    now = utcnow()
    with db.write() as s:
        require_lease(s, account_id, holder)
        state = _state(s, account_id, stream)
        state.last_attempt_at = now
        state.next_poll_at = to_db(next_poll_at)
        if ok:
            state.last_success_at = now
            state.last_error = None
            state.error_kind = None
            state.backoff_until = None
            state.failures = 0
            state.unavailable = None
        else:
            state.last_error = error
            state.error_kind = error_kind
            state.backoff_until = to_db(backoff_until)
            state.failures = (state.failures or 0) + 1
            state.unavailable = unavailable
        s.add(state)


def buyer_waiting(db: Database, account_id: int, since: datetime) -> bool:
    """Whether a buyer of the account wrote at or after ``since`` and the chat's last word is
    still theirs (one indexed query; the engine polls faster while this holds)."""
    with db.read() as s:
        row = s.execute(
            select(Chat.id)
            .where(Chat.account_id == account_id, Chat.last_author == "buyer", Chat.last_message_at >= to_db(since))
            .limit(1)
        ).first()
    return row is not None


def message_count(db: Database) -> int:
    with db.read() as s:
        return int(s.execute(select(func.count()).select_from(Message)).scalar() or 0)


__all__ = [
    "IngestResult",
    "LazyKnownChats",
    "apply_page",
    "buyer_waiting",
    "get_cursor",
    "known_chats",
    "message_count",
    "record_attempt",
    "stream_state",
]
