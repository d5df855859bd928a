"""The outbox: every outgoing message is written here before any request is made.

States of the message row: ``queued`` → ``sending`` (claimed by one process) → ``sent``
(accepted; linked to its echo by the next sync) or ``failed`` (definite refusal, with the
marketplace's words) or ``unknown`` (the request may have reached the marketplace: never
re-sent automatically; the next sync settles it if the echo shows up, else the user decides).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlmodel import Session

from chatdesk.errors import UsageError
from chatdesk.store.db import Database, to_db, utcnow
from chatdesk.store.schema import Chat, Draft, FollowUp, Message, Outbox

CLAIM_TTL = 180.0  # longer than any single send request may take


@dataclass(frozen=True)
class OutboxJob:
    outbox_id: int
    message_id: int
    chat_id: int
    account_id: int
    text: str
    files: list[dict[str, object]]
    chat_external_id: str
    chat_kind: str
    reply_token: str | None
    chat_status: str | None
    last_buyer_message_id: str | None
    followup_id: int | None
    attempts: int


def enqueue(
    db: Database,
    chat_id: int,
    text: str,
    *,
    files: list[dict[str, object]] | None = None,
    overrides: list[str] | None = None,
) -> int:
    """Queue a reply and clear the chat's draft in the same transaction; return its id."""
    with db.write() as s:
        return enqueue_in(s, chat_id, text, files=files, overrides=overrides, operator=db.operator)


def enqueue_in(
    s: Session,
    chat_id: int,
    text: str,
    *,
    files: list[dict[str, object]] | None = None,
    overrides: list[str] | None = None,
    followup_id: int | None = None,
    operator: str | None = None,
) -> int:
    """:func:`enqueue` inside a caller's transaction (follow-ups claim and queue atomically).
    ``operator`` (team mode) is who wrote it; their draft in the chat is cleared."""
    now = utcnow()
    files = files or []
    chat = s.get(Chat, chat_id)
    if chat is None:
        raise UsageError(f"no chat with id {chat_id}")
    msg = Message(
        chat_id=chat_id,
        author="seller",
        text=text,
        created_at=now,
        attachments=json.dumps(
            [{"name": f["name"], "size": f.get("size"), "content_type": f.get("content_type")} for f in files],
            ensure_ascii=False,
        ),
        state="queued",
        operator=operator,
    )
    s.add(msg)
    s.flush()
    assert msg.id is not None
    s.add(
        Outbox(
            message_id=msg.id,
            account_id=chat.account_id,
            files=json.dumps(files, ensure_ascii=False),
            overrides=json.dumps(overrides or [], ensure_ascii=False),
            followup_id=followup_id,
            created_at=now,
        )
    )
    if followup_id is None:
        s.execute(delete(Draft).where(Draft.chat_id == chat_id, Draft.operator == (operator or "")))
        # Replying is reading: the operator has seen the conversation.
        chat.unread = 0
        s.add(chat)
    return msg.id


def settle_interrupted(db: Database, account_id: int | None = None) -> int:
    """Rows left in ``sending`` by a process that died mid-request become ``unknown``."""
    now = utcnow()
    with db.write() as s:
        q = select(Outbox.id, Outbox.message_id, Outbox.followup_id).where(
            Outbox.done.is_(False),  # type: ignore[attr-defined]
            Outbox.claimed_until.is_not(None),  # type: ignore[union-attr]
            Outbox.claimed_until < now,  # type: ignore[operator]
        )
        if account_id is not None:
            q = q.where(Outbox.account_id == account_id)
        rows = s.execute(q).all()
        for oid, mid, fid in rows:
            state = s.execute(select(Message.state).where(Message.id == mid)).scalar()
            if state != "sending":
                s.execute(update(Outbox).where(Outbox.id == oid).values(claimed_by=None, claimed_until=None))
                continue
            _finish(s, oid, mid, fid, "unknown", "interrupted while sending: it may or may not have arrived")
        return len(rows)


def claim_due(
    db: Database, account_id: int, owner: str, limit: int = 20, *, message_id: int | None = None
) -> list[OutboxJob]:
    """Atomically take queued rows that are due (or just ``message_id``); no other process can
    take them after this."""
    now = utcnow()
    jobs: list[OutboxJob] = []
    with db.write() as s:
        rows = s.execute(
            select(Outbox, Message, Chat)
            .join(Message, Message.id == Outbox.message_id)  # type: ignore[arg-type]
            .join(Chat, Chat.id == Message.chat_id)  # type: ignore[arg-type]
            .where(
                Outbox.account_id == account_id,
                Outbox.done.is_(False),  # type: ignore[attr-defined]
                Message.state == "queued",
                (Outbox.next_attempt_at.is_(None)) | (Outbox.next_attempt_at <= now),  # type: ignore[union-attr,operator]
                (Outbox.claimed_until.is_(None)) | (Outbox.claimed_until < now),  # type: ignore[union-attr,operator]
            )
            .where(Outbox.message_id == message_id if message_id is not None else True)
            .order_by(Outbox.id)
            .limit(limit)
            # PostgreSQL: rows another transaction is claiming right now are skipped, not waited
            # for (SQLite renders nothing here: its write lock already serializes claims).
            .with_for_update(skip_locked=True, of=Outbox)
        ).all()
        for ob, msg, chat in rows:
            res = s.execute(
                update(Outbox)
                .where(Outbox.id == ob.id)
                .where((Outbox.claimed_until.is_(None)) | (Outbox.claimed_until < now))  # type: ignore[union-attr,operator]
                .values(claimed_by=owner, claimed_until=now + timedelta(seconds=CLAIM_TTL), attempts=ob.attempts + 1)
            )
            if not res.rowcount:  # type: ignore[attr-defined]
                continue
            s.execute(update(Message).where(Message.id == msg.id).values(state="sending", error=None))
            jobs.append(
                OutboxJob(
                    outbox_id=ob.id,
                    message_id=msg.id,
                    chat_id=chat.id,
                    account_id=account_id,
                    text=msg.text,
                    files=json.loads(ob.files or "[]"),
                    chat_external_id=chat.external_id,
                    chat_kind=chat.kind,
                    reply_token=chat.reply_token,
                    chat_status=chat.status,
                    last_buyer_message_id=chat.last_buyer_message_id,
                    followup_id=ob.followup_id,
                    attempts=ob.attempts + 1,
                )
            )
    return jobs


def _finish(s, outbox_id: int, message_id: int, followup_id: int | None, state: str, reason: str | None) -> None:  # type: ignore[no-untyped-def]
    q = update(Message).where(Message.id == message_id)
    if state != "sent":  # an echo already matched by a concurrent sync wins over a late error
        q = q.where(Message.external_id.is_(None))  # type: ignore[union-attr]
    s.execute(q.values(state=state, error=reason))
    s.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id)
        .values(done=state in ("sent", "failed", "unknown"), claimed_by=None, claimed_until=None)
    )
    if followup_id is not None:
        fstate = {"sent": "sent", "failed": "failed"}.get(state, "sending")
        s.execute(
            update(FollowUp)
            .where(FollowUp.id == followup_id)
            .values(state=fstate, reason=reason if state != "sent" else None, updated_at=utcnow())
        )


def mark_sent(db: Database, job: OutboxJob) -> None:
    with db.write() as s:
        _finish(s, job.outbox_id, job.message_id, job.followup_id, "sent", None)
        # Echo may have been reconciled already by a concurrent sync: never downgrade.


def mark_failed(db: Database, job: OutboxJob, reason: str) -> None:
    with db.write() as s:
        _finish(s, job.outbox_id, job.message_id, job.followup_id, "failed", reason)


def mark_unknown(db: Database, job: OutboxJob, reason: str) -> None:
    with db.write() as s:
        _finish(s, job.outbox_id, job.message_id, job.followup_id, "unknown", reason)


def retry_later(db: Database, job: OutboxJob, at: datetime, reason: str) -> None:
    """The request never reached the marketplace: keep it queued and try again at ``at``."""
    with db.write() as s:
        s.execute(update(Message).where(Message.id == job.message_id).values(state="queued", error=reason))
        s.execute(
            update(Outbox)
            .where(Outbox.id == job.outbox_id)
            .values(next_attempt_at=to_db(at), claimed_by=None, claimed_until=None)
        )


def message_state(db: Database, message_id: int) -> tuple[str, str | None]:
    with db.read() as s:
        row = s.execute(select(Message.state, Message.error).where(Message.id == message_id)).one_or_none()
    if row is None:
        raise UsageError(f"no message with id {message_id}")
    return row[0], row[1]


def requeue(db: Database, message_id: int) -> None:
    """The user chose to send a failed or unknown message again."""
    with db.write() as s:
        msg = s.get(Message, message_id)
        if msg is None or msg.author != "seller" or msg.state not in ("failed", "unknown"):
            raise UsageError("only a failed or unconfirmed outgoing message can be retried")
        msg.state = "queued"
        msg.error = None
        s.add(msg)
        s.execute(
            update(Outbox)
            .where(Outbox.message_id == message_id)
            .values(done=False, next_attempt_at=None, claimed_by=None, claimed_until=None)
        )


def confirm_sent(db: Database, message_id: int) -> None:
    """The user checked the marketplace: the unconfirmed message did arrive."""
    with db.write() as s:
        s.execute(
            update(Message).where(Message.id == message_id, Message.state == "unknown").values(state="sent", error=None)
        )


def withdraw(db: Database, message_id: int) -> str:
    """Take a failed/queued message back into the draft for editing; return its text."""
    with db.write() as s:
        msg = s.get(Message, message_id)
        if msg is None or msg.author != "seller" or msg.state not in ("failed", "queued", "unknown"):
            raise UsageError("only a queued, failed or unconfirmed outgoing message can be edited")
        if msg.state == "queued":
            res = s.execute(
                update(Outbox)
                .where(Outbox.message_id == message_id, Outbox.claimed_by.is_(None))  # type: ignore[union-attr]
                .values(done=True)
            )
            if not res.rowcount:  # type: ignore[attr-defined]
                raise UsageError("that message is being sent right now")
        text = msg.text
        s.execute(delete(Outbox).where(Outbox.message_id == message_id))
        s.execute(update(FollowUp).where(FollowUp.message_id == message_id).values(message_id=None))
        s.delete(msg)
        draft = s.get(Draft, (msg.chat_id, db.operator or ""))
        if draft is None:
            s.add(Draft(chat_id=msg.chat_id, operator=db.operator or "", text=text, updated_at=utcnow()))
        else:
            draft.text = text
            draft.updated_at = utcnow()
            s.add(draft)
        return text


def pending_count(db: Database, account_id: int | None = None) -> int:
    from sqlalchemy import func

    with db.read() as s:
        q = select(func.count()).select_from(Outbox).where(Outbox.done.is_(False))  # type: ignore[attr-defined]
        if account_id is not None:
            q = q.where(Outbox.account_id == account_id)
        return int(s.execute(q).scalar() or 0)
