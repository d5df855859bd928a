"""The outbox: every outgoing message is written here before any request is made.

States of the message row: ``queued`` → ``sending`` (claimed by one process) → ``sent``
(accepted; linked to its echo by the next sync) or ``failed`` (definite refusal, with the
marketplace's words) or ``unknown`` (the request may have reached the marketplace: never
re-sent automatically; the next sync settles it if the echo shows up, else the user decides).

Ownership is fenced (issue 12 §1). A claim is (``claimed_by``, ``claim_token``) with a lease
``claimed_until`` that the owner renews while it works (:func:`renew`); every change after a
send is one UPDATE conditional on that pair (:func:`_fenced`), so a process that was judged
gone and comes back finds its writes refused instead of overwriting the new owner's
decision. Before each request the owner records the part it is about to send
(:func:`begin_part`); a row whose owner is gone (lease lapsed, or its process is dead on this
host) is ``unknown`` only if a part was in flight, and otherwise simply ``queued`` again.
``TRANSITIONS`` is the whole state machine as data; tests check every entry against the SQL.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Update, case, delete, func, or_, select, update
from sqlmodel import Session, col

from chatdesk.errors import UsageError
from chatdesk.store.clock import db_later, db_now
from chatdesk.store.db import Database, rowcount, to_db, utcnow
from chatdesk.store.schema import Chat, Draft, FollowUp, Message, Outbox

CLAIM_TTL = 60.0  # seconds a claim lives without renewal; owners renew every CLAIM_TTL / 4
TERMINAL = ("sent", "failed", "unknown")

# (state, event, actor) -> next state; None = refused (the row is left as it is).
# actor: "owner" holds the current claim (same owner and token); "stale" held an earlier
# claim or none (a process that was judged gone, or never claimed it); "any" = not a
# claimant (the user, the sync that sees the echo, another process judging the owner).
# "takeover" is another process finding the owner gone: with a part in flight -> unknown.
TRANSITIONS: dict[tuple[str, str, str], str | None] = {}
_STATES = ("queued", "sending", "sent", "failed", "unknown")
for _s in _STATES:
    for _actor in ("owner", "stale"):
        for _ev in ("begin_part", "part_accepted", "renew", "accepted", "refused", "ambiguous", "not_reached"):
            TRANSITIONS[(_s, _ev, _actor)] = None
    for _ev in ("claim", "takeover", "takeover_in_flight", "echo", "requeue", "confirm"):
        TRANSITIONS[(_s, _ev, "any")] = None
TRANSITIONS.update(
    {
        ("queued", "claim", "any"): "sending",
        ("sending", "begin_part", "owner"): "sending",
        ("sending", "part_accepted", "owner"): "sending",
        ("sending", "renew", "owner"): "sending",
        ("sending", "accepted", "owner"): "sent",
        ("sending", "refused", "owner"): "failed",
        ("sending", "ambiguous", "owner"): "unknown",
        ("sending", "not_reached", "owner"): "queued",
        ("sending", "takeover", "any"): "queued",  # owner gone, nothing was on the wire
        ("sending", "takeover_in_flight", "any"): "unknown",  # owner gone mid-request
        # The echo is the marketplace's own word: it settles every outgoing state.
        ("queued", "echo", "any"): None,  # never matched: a queued row was not sent (yet)
        ("sending", "echo", "any"): "sent",
        ("sent", "echo", "any"): "sent",
        ("failed", "echo", "any"): "sent",
        ("unknown", "echo", "any"): "sent",
        ("failed", "requeue", "any"): "queued",
        ("unknown", "requeue", "any"): "queued",
        ("unknown", "confirm", "any"): "sent",
        # an echo reconciled while the owner still works: its late verdict never downgrades
        ("sent", "accepted", "owner"): "sent",
        ("sent", "refused", "owner"): "sent",
        ("sent", "ambiguous", "owner"): "sent",
        ("sent", "not_reached", "owner"): "sent",
    }
)


@dataclass(frozen=True)
class OutboxJob:
    """One claimed row. ``owner``/``claim_token`` fence every later write; ``parts_done``
    requests of it were accepted already and are never sent again."""

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
    owner: str = ""
    claim_token: int = 0
    parts_done: int = 0


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


def enqueue_parts(
    db: Database,
    chat_id: int,
    parts: list[tuple[str, list[dict[str, object]]]],
    *,
    overrides: list[str] | None = None,
    owner: str | None = None,
    guard: Callable[[Session], None] | None = None,
) -> list[int]:
    """Queue the parts of one reply (one marketplace request each) in one transaction, so a
    reply is never half queued; return their message ids in order.

    ``guard(session)`` runs first inside that transaction and may raise to queue nothing: team
    mode's send-time check, which must see and write in one step so two operators sending at
    once cannot both pass it.

    With ``owner`` the rows are born claimed by that process (the CLI's ``send``): no other
    process can take them between queueing and delivery. The owner then gets the jobs from
    :func:`claim_due` with ``mine=True``.
    """
    with db.write() as s:
        if guard is not None:
            guard(s)
        ids = [enqueue_in(s, chat_id, t, files=f, overrides=overrides, operator=db.operator) for t, f in parts]
        if owner is not None:
            until = db_later(s, CLAIM_TTL)
            s.execute(
                update(Outbox)
                .where(col(Outbox.message_id).in_(ids))
                .values(claimed_by=owner, claimed_until=until, claim_token=Outbox.claim_token + 1)
            )
        return ids


def enqueue_in(
    s: Session,
    chat_id: int,
    text: str,
    *,
    files: list[dict[str, object]] | None = None,
    overrides: list[str] | None = None,
    followup_id: int | None = None,
    operator: str | None = None,
    state: str = "queued",
    error: str | None = None,
) -> int:
    """:func:`enqueue` inside a caller's transaction (follow-ups claim and queue atomically).
    ``operator`` (team mode) is who wrote it; their draft in the chat is cleared.
    ``state="failed"`` records a part that must not go out by itself (a file the marketplace
    refused inside an accepted message): it waits for the user's explicit retry."""
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
        state=state,
        error=error,
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
            done=state in TERMINAL,
        )
    )
    if followup_id is None and state == "queued":
        s.execute(delete(Draft).where(col(Draft.chat_id) == chat_id, col(Draft.operator) == (operator or "")))
        # Replying is reading: the operator has seen the conversation.
        chat.unread = 0
        s.add(chat)
    return msg.id


# ----------------------------------------------------------------------------- owners


def owner_is_gone(owner: str, *, host: str | None = None) -> bool:
    """True when ``owner`` (``host:pid:nonce``, see ``sync.runtime.new_owner_id``) names a
    process on this host that no longer exists. Other hosts are judged by their lease alone."""
    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != (host or socket.gethostname()) or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def settle_interrupted(
    db: Database, account_id: int | None = None, *, gone: Callable[[str], bool] = owner_is_gone
) -> int:
    """Take over rows whose owner is gone: its lease lapsed (it stopped renewing) or its
    process is dead on this host. A row with a part in flight becomes ``unknown`` (it may have
    arrived: never re-sent automatically); one without goes back to ``queued`` (nothing of it
    was on the wire) and keeps its ``parts_done``. Returns the rows taken over.

    "Lapsed" is judged by the database's clock (:mod:`chatdesk.store.clock`), the same clock
    the claim was written with, so hosts whose clocks disagree never re-claim a live row."""
    with db.write() as s:
        lapsed_sql = col(Outbox.claimed_until).is_(None) | (col(Outbox.claimed_until) < db_now(s))
        q = select(
            col(Outbox.id),
            col(Outbox.message_id),
            col(Outbox.followup_id),
            col(Outbox.claimed_by),
            case((lapsed_sql, 1), else_=0),
        ).where(
            col(Outbox.claimed_by).is_not(None),
        )
        if account_id is not None:
            q = q.where(col(Outbox.account_id) == account_id)
        taken = 0
        for oid, mid, fid, owner, lapsed in s.execute(q).all():
            if not lapsed and not gone(owner):
                continue
            fence = update(Outbox).where(col(Outbox.id) == oid, col(Outbox.claimed_by) == owner)
            row = s.execute(
                select(col(Outbox.in_flight), col(Message.state))
                .join(Message, col(Message.id) == Outbox.message_id)
                .where(col(Outbox.id) == oid)
            ).one()
            in_flight, state = row
            taken += 1
            if state != "sending":  # the echo settled it meanwhile
                s.execute(fence.values(claimed_by=None, claimed_until=None, in_flight=None, done=state in TERMINAL))
                continue
            if in_flight is None:
                s.execute(fence.values(claimed_by=None, claimed_until=None))
                s.execute(
                    update(Message)
                    .where(col(Message.id) == mid, col(Message.state) == "sending")
                    .values(state="queued")
                )
                continue
            _settle(s, oid, mid, fid, "unknown", "interrupted while sending: it may or may not have arrived")
        return taken


def claim_due(
    db: Database,
    account_id: int,
    owner: str,
    limit: int = 20,
    *,
    message_id: int | None = None,
    mine: bool = False,
) -> list[OutboxJob]:
    """Atomically take queued rows that are due (or just ``message_id``); no other process can
    take them after this. ``mine``: the rows ``owner`` reserved at queueing
    (:func:`enqueue_parts`), taken whatever their due time.

    This is the one claim path: a PostgreSQL branch (``FOR UPDATE SKIP LOCKED``) belongs here.
    Each claim bumps ``claim_token`` (the fencing token) and starts a ``CLAIM_TTL`` lease that
    the owner must :func:`renew`; its expiry is the database's clock + ``CLAIM_TTL``."""
    now = utcnow()
    jobs: list[OutboxJob] = []
    with db.write() as s:
        q = (
            select(Outbox, Message, Chat)
            .join(Message, col(Message.id) == Outbox.message_id)
            .join(Chat, col(Chat.id) == Message.chat_id)
            .where(col(Outbox.account_id) == account_id, col(Outbox.done).is_(False), col(Message.state) == "queued")
        )
        if mine:
            q = q.where(col(Outbox.claimed_by) == owner)
        else:
            q = q.where(
                col(Outbox.next_attempt_at).is_(None) | (col(Outbox.next_attempt_at) <= now),
                col(Outbox.claimed_by).is_(None),
            )
        if message_id is not None:
            q = q.where(col(Outbox.message_id) == message_id)
        # PostgreSQL: rows another transaction is claiming right now are skipped, not waited
        # for (SQLite renders nothing here: its write lock already serializes claims).
        q = q.with_for_update(skip_locked=True, of=Outbox)
        rows = s.execute(q.order_by(col(Outbox.id)).limit(limit)).all()
        for ob, msg, chat in rows:
            fence = col(Outbox.claimed_by) == owner if mine else col(Outbox.claimed_by).is_(None)
            token = ob.claim_token if mine else ob.claim_token + 1
            res = s.execute(
                update(Outbox)
                .where(col(Outbox.id) == ob.id, fence, col(Outbox.claim_token) == ob.claim_token)
                .values(
                    claimed_by=owner,
                    claim_token=token,
                    claimed_until=db_later(s, CLAIM_TTL),
                    attempts=ob.attempts + 1,
                    in_flight=None,
                )
            )
            if not rowcount(res):
                continue
            s.execute(update(Message).where(col(Message.id) == msg.id).values(state="sending", error=None))
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
                    owner=owner,
                    claim_token=token,
                    parts_done=ob.parts_done,
                )
            )
    return jobs


def _fenced(job: OutboxJob) -> Update:
    """An UPDATE of ``job``'s outbox row that applies only while ``job`` still owns it."""
    return update(Outbox).where(
        col(Outbox.id) == job.outbox_id, col(Outbox.claimed_by) == job.owner, col(Outbox.claim_token) == job.claim_token
    )


def owns(db: Database, job: OutboxJob) -> bool:
    with db.read() as s:
        row = s.execute(
            select(col(Outbox.claimed_by), col(Outbox.claim_token)).where(col(Outbox.id) == job.outbox_id)
        ).one_or_none()
    return row is not None and (row[0], row[1]) == (job.owner, job.claim_token)


def renew(db: Database, job: OutboxJob, ttl: float = CLAIM_TTL) -> bool:
    """The owner's heartbeat: extend the claim; False if the row is no longer ours."""
    with db.write() as s:
        res = s.execute(_fenced(job).values(claimed_until=db_later(s, ttl)))
        return bool(rowcount(res))


def begin_part(db: Database, job: OutboxJob, part: int) -> bool:
    """Record that request ``part`` is about to go out (so a crash from now on is ``unknown``,
    not silently re-sent); False if the row is no longer ours: then it must not be sent."""
    with db.write() as s:
        res = s.execute(_fenced(job).values(in_flight=part, claimed_until=db_later(s, CLAIM_TTL)))
        return bool(rowcount(res))


def part_accepted(db: Database, job: OutboxJob, part: int) -> bool:
    """The marketplace accepted request ``part``: it is never sent again, whatever follows."""
    with db.write() as s:
        res = s.execute(_fenced(job).values(parts_done=part + 1, in_flight=None))
        return bool(rowcount(res))


def _settle(
    s: Session, outbox_id: int, message_id: int, followup_id: int | None, state: str, reason: str | None
) -> None:
    """Write a verdict on message, outbox and follow-up together (state and ``done`` never
    disagree). Callers have fenced the outbox row already."""
    q = update(Message).where(col(Message.id) == message_id)
    if state != "sent":  # an echo already matched by a concurrent sync wins over a late error
        q = q.where(col(Message.external_id).is_(None))
    s.execute(q.values(state=state, error=reason))
    final = s.execute(select(col(Message.state)).where(col(Message.id) == message_id)).scalar()
    values: dict[str, object] = {"claimed_by": None, "claimed_until": None, "in_flight": None}
    values["done"] = final in TERMINAL
    s.execute(update(Outbox).where(col(Outbox.id) == outbox_id).values(**values))
    if final == "sent" and followup_id is None:
        # The marketplace has our reply: the buyer is no longer waiting, now rather than when its
        # echo comes back with a later poll. Not when the buyer has written since it was queued,
        # and never for a scheduled follow-up (a nudge is not an answer).
        which = select(col(Message.chat_id), col(Message.created_at)).where(col(Message.id) == message_id)
        sent = s.execute(which).one()
        s.execute(
            update(Chat)
            .where(
                col(Chat.id) == sent[0],
                or_(col(Chat.last_buyer_at).is_(None), col(Chat.last_buyer_at) <= sent[1]),
            )
            .values(last_author="seller", unread=0)
        )
    if followup_id is not None:
        fstate = {"sent": "sent", "failed": "failed"}.get(str(final), "sending")
        s.execute(
            update(FollowUp)
            .where(col(FollowUp.id) == followup_id)
            .values(state=fstate, reason=reason if final != "sent" else None, updated_at=utcnow())
        )


def _finish(db: Database, job: OutboxJob, state: str, reason: str | None) -> bool:
    with db.write() as s:
        res = s.execute(_fenced(job).values(in_flight=None))
        if not rowcount(res):
            return False  # another process owns the row now: its verdict stands
        _settle(s, job.outbox_id, job.message_id, job.followup_id, state, reason)
        return True


def mark_sent(db: Database, job: OutboxJob, note: str | None = None) -> bool:
    """Accepted. Fenced: returns False (and changes nothing) if ``job`` no longer owns the row."""
    return _finish(db, job, "sent", note)


def mark_failed(db: Database, job: OutboxJob, reason: str) -> bool:
    return _finish(db, job, "failed", reason)


def mark_unknown(db: Database, job: OutboxJob, reason: str) -> bool:
    return _finish(db, job, "unknown", reason)


def retry_later(db: Database, job: OutboxJob, at: datetime, reason: str) -> bool:
    """The request never reached the marketplace: keep it queued and try again at ``at``.
    Fenced like every verdict; accepted parts stay accepted (``parts_done``)."""
    with db.write() as s:
        res = s.execute(
            _fenced(job).values(next_attempt_at=to_db(at), claimed_by=None, claimed_until=None, in_flight=None)
        )
        if not rowcount(res):
            return False
        s.execute(
            update(Message)
            .where(col(Message.id) == job.message_id, col(Message.state) == "sending")
            .values(state="queued", error=reason)
        )
        final = s.execute(select(col(Message.state)).where(col(Message.id) == job.message_id)).scalar()
        s.execute(update(Outbox).where(col(Outbox.id) == job.outbox_id).values(done=final in TERMINAL))
        return True


def add_failed_part(db: Database, job: OutboxJob, files: list[dict[str, object]], reason: str) -> int:
    """A file the marketplace refused inside an otherwise accepted message: a new ``failed``
    message holding only that file, which the user can re-send alone (``R``)."""
    with db.write() as s:
        return enqueue_in(s, job.chat_id, "", files=files, state="failed", error=reason)


def invariant_violations(db: Database) -> list[str]:
    """Rows that break the outbox invariants: ``done`` agrees with a terminal state for every
    unclaimed row; a claimed row is ``sending`` (or ``sent`` by its echo) and not done; a
    ``sending`` row is claimed. Empty list = consistent."""
    out: list[str] = []
    with db.read() as s:
        rows = s.execute(
            select(col(Outbox.id), col(Message.state), col(Outbox.done), col(Outbox.claimed_by)).join(
                Message,
                col(Message.id) == Outbox.message_id,
            )
        ).all()
    for oid, state, done, owner in rows:
        if owner is None and bool(done) != (state in TERMINAL):
            out.append(f"outbox {oid}: state {state} but done={done}")
        if owner is not None and (done or state not in ("sending", "sent")):
            out.append(f"outbox {oid}: claimed by {owner} in state {state} done={done}")
        if owner is None and state == "sending":
            out.append(f"outbox {oid}: sending without an owner")
    return out


def message_state(db: Database, message_id: int) -> tuple[str, str | None]:
    with db.read() as s:
        row = s.execute(
            select(col(Message.state), col(Message.error)).where(col(Message.id) == message_id)
        ).one_or_none()
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
            .where(col(Outbox.message_id) == message_id)
            .values(done=False, next_attempt_at=None, claimed_by=None, claimed_until=None, in_flight=None)
        )


def confirm_sent(db: Database, message_id: int) -> None:
    """The user checked the marketplace: the unconfirmed message did arrive."""
    with db.write() as s:
        res = s.execute(
            update(Message)
            .where(col(Message.id) == message_id, col(Message.state) == "unknown")
            .values(state="sent", error=None)
        )
        if rowcount(res):
            s.execute(update(Outbox).where(col(Outbox.message_id) == message_id).values(done=True))


def withdraw(db: Database, message_id: int) -> str:
    """Take a failed/queued message back into the draft for editing; return its text."""
    with db.write() as s:
        msg = s.get(Message, message_id)
        if msg is None or msg.author != "seller" or msg.state not in ("failed", "queued", "unknown"):
            raise UsageError("only a queued, failed or unconfirmed outgoing message can be edited")
        if msg.state == "queued":
            res = s.execute(
                update(Outbox)
                .where(col(Outbox.message_id) == message_id, col(Outbox.claimed_by).is_(None))
                .values(done=True)
            )
            if not rowcount(res):
                raise UsageError("that message is being sent right now")
        text = msg.text
        s.execute(delete(Outbox).where(col(Outbox.message_id) == message_id))
        s.execute(update(FollowUp).where(col(FollowUp.message_id) == message_id).values(message_id=None))
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
    with db.read() as s:
        q = select(func.count()).select_from(Outbox).where(col(Outbox.done).is_(False))
        if account_id is not None:
            q = q.where(col(Outbox.account_id) == account_id)
        return int(s.execute(q).scalar() or 0)
