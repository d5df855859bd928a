"""Accounts (identity and settings, never secrets) and the per-account poll lease."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from chatdesk.errors import UsageError
from chatdesk.store.db import Database, from_db, rowcount, table_of, utcnow
from chatdesk.store.ingest import _insert
from chatdesk.store.schema import (
    Account,
    BadItem,
    Chat,
    ChatOperator,
    Draft,
    FollowUp,
    Lease,
    Message,
    Note,
    OpenClient,
    Outbox,
    SyncState,
    SyncWorker,
)


@dataclass(frozen=True)
class AccountRow:
    id: int
    name: str
    marketplace: str
    base_url: str | None
    settings: dict[str, str]
    poll_interval: int | None
    enabled: bool
    created_at: datetime


def _row(a: Account) -> AccountRow:
    assert a.id is not None
    return AccountRow(
        id=a.id,
        name=a.name,
        marketplace=a.marketplace,
        base_url=a.base_url,
        settings=json.loads(a.settings or "{}"),
        poll_interval=a.poll_interval,
        enabled=a.enabled,
        created_at=from_db(a.created_at),
    )


def add_account(
    db: Database,
    name: str,
    marketplace: str,
    *,
    base_url: str | None = None,
    settings: dict[str, str] | None = None,
    poll_interval: int | None = None,
) -> AccountRow:
    try:
        with db.write() as s:
            acc = Account(
                name=name,
                marketplace=marketplace,
                base_url=base_url,
                settings=json.dumps(settings or {}, sort_keys=True),
                poll_interval=poll_interval,
                created_at=utcnow(),
            )
            s.add(acc)
            s.flush()
            return _row(acc)
    except IntegrityError:
        raise UsageError(f"an account named {name!r} already exists") from None


def list_accounts(db: Database) -> list[AccountRow]:
    with db.read() as s:
        return [_row(a) for a in s.execute(select(Account).order_by(col(Account.name))).scalars()]


def get_account(db: Database, name: str) -> AccountRow:
    with db.read() as s:
        acc = s.execute(select(Account).where(col(Account.name) == name)).scalar_one_or_none()
    if acc is None:
        raise UsageError(f"no account named {name!r} (see: chatdesk account list)")
    return _row(acc)


def get_account_by_id(db: Database, account_id: int) -> AccountRow:
    with db.read() as s:
        acc = s.get(Account, account_id)
    if acc is None:
        raise UsageError(f"no account with id {account_id}")
    return _row(acc)


def remove_account(db: Database, name: str) -> None:
    """Delete an account and everything synced from it (the marketplace still has it all)."""
    acc = get_account(db, name)
    with db.write() as s:
        chat_ids = select(col(Chat.id)).where(col(Chat.account_id) == acc.id)
        msg_ids = select(col(Message.id)).where(col(Message.chat_id).in_(chat_ids))
        s.execute(delete(Outbox).where(col(Outbox.account_id) == acc.id))
        s.execute(delete(FollowUp).where(col(FollowUp.chat_id).in_(chat_ids)))
        s.execute(delete(Draft).where(col(Draft.chat_id).in_(chat_ids)))
        s.execute(delete(ChatOperator).where(col(ChatOperator.chat_id).in_(chat_ids)))
        s.execute(delete(Note).where(col(Note.chat_id).in_(chat_ids)))
        s.execute(delete(Message).where(col(Message.id).in_(msg_ids)))
        s.execute(delete(Chat).where(col(Chat.account_id) == acc.id))
        s.execute(delete(SyncState).where(col(SyncState.account_id) == acc.id))
        s.execute(delete(BadItem).where(col(BadItem.account_id) == acc.id))
        s.execute(delete(Lease).where(col(Lease.account_id) == acc.id))
        s.execute(delete(Account).where(col(Account.id) == acc.id))


# ----------------------------------------------------------------------------- lease
#
# Who polls an account is decided in the database: a lease row per account with an owner, an
# expiry and a fencing counter. On PostgreSQL every time in these statements is the database's
# clock (``now()``), so hosts with skewed clocks still agree on who holds what; on SQLite all
# processes share one machine and its clock.


def _clock(s: Session) -> tuple[object, Callable[[float], object]]:
    """(now, now + seconds) as SQL for the engine: the database clock on PostgreSQL."""
    if s.get_bind().dialect.name == "postgresql":
        return func.now(), lambda seconds: func.now() + timedelta(seconds=seconds)
    now = utcnow()
    return now, lambda seconds: now + timedelta(seconds=seconds)


def heartbeat_worker(db: Database, owner: str, ttl: float) -> int:
    """Record that sync engine ``owner`` is alive for ``ttl`` seconds; forget workers whose
    heartbeat ran out (and dead processes of this host). Return the number of live workers
    (at least 1: this one)."""
    with db.write() as s:
        now, plus = _clock(s)
        s.execute(delete(SyncWorker).where(col(SyncWorker.heartbeat_until) < now))
        res = s.execute(update(SyncWorker).where(col(SyncWorker.owner) == owner).values(heartbeat_until=plus(ttl)))
        if not rowcount(res):
            s.execute(_insert(s, table_of(SyncWorker)).values(owner=owner, heartbeat_until=plus(ttl), started_at=now))
        owners = list(s.execute(select(col(SyncWorker.owner))).scalars())
        dead = [o for o in owners if o != owner and _owner_is_dead(o)]
        if dead:
            s.execute(delete(SyncWorker).where(col(SyncWorker.owner).in_(dead)))
        return max(1, len(owners) - len(dead))


def forget_worker(db: Database, owner: str) -> None:
    with db.write() as s:
        s.execute(delete(SyncWorker).where(col(SyncWorker.owner) == owner))


def client_heartbeat(db: Database, owner: str, operator: str | None, ttl: float) -> None:
    """Record that a TUI (engine owner id ``owner``, acting for ``operator`` or None) is open
    on this store for the next ``ttl`` seconds (database clock on PostgreSQL); forget clients
    whose heartbeat ran out."""
    with db.write(notify=False) as s:  # nothing on screen changes: do not wake every TUI
        now, plus = _clock(s)
        s.execute(delete(OpenClient).where(col(OpenClient.alive_until) < now))
        res = s.execute(
            update(OpenClient).where(col(OpenClient.owner) == owner).values(alive_until=plus(ttl), operator=operator)
        )
        if not rowcount(res):
            s.execute(_insert(s, table_of(OpenClient)).values(owner=owner, operator=operator, alive_until=plus(ttl)))


def client_gone(db: Database, owner: str) -> None:
    """The TUI ``owner`` closed: daemons stop polling fast for it at once (not at expiry)."""
    with db.write() as s:
        s.execute(delete(OpenClient).where(col(OpenClient.owner) == owner))


def open_clients(db: Database) -> int:
    """How many TUIs anywhere have an unexpired heartbeat on this store."""
    with db.read() as s:
        now, _plus = _clock(s)
        n = s.execute(select(func.count()).select_from(OpenClient).where(col(OpenClient.alive_until) >= now)).scalar()
    return int(n or 0)


def take_lease(db: Database, account_id: int, owner: str, ttl: float, *, share: int | None = None) -> int | None:
    """Take or renew the right to poll ``account_id`` for ``ttl`` seconds; return the lease's
    fencing counter, or None when another live process holds it.

    The counter grows each time the lease changes hands, never on renewal: a holder that
    sees a different counter than it got has lost the lease meanwhile. A lease left by a
    process on this machine that no longer exists is taken over at once; elsewhere a lease
    is free when its expiry (database clock) has passed.

    ``share`` (several sync daemons): the most leases this owner should hold. Over it, a new
    account is refused and an account held beyond the share (the highest ids first) is given
    up, so a daemon that joins gets its part of the accounts."""
    with db.write() as s:
        now, plus = _clock(s)
        if share is not None:
            held = sorted(
                s.execute(
                    select(col(Lease.account_id)).where(col(Lease.owner) == owner, col(Lease.expires_at) >= now)
                ).scalars()
            )
            if account_id not in held and len(held) >= share:
                return None
            if account_id in held and len(held) > share and account_id in held[share:]:
                s.execute(delete(Lease).where(col(Lease.account_id) == account_id, col(Lease.owner) == owner))
                return None
        s.execute(
            _insert(s, table_of(Lease)).values(
                account_id=account_id, owner=owner, expires_at=plus(ttl), fence=1, acquired_at=now
            )
        )
        current = s.execute(select(col(Lease.owner)).where(col(Lease.account_id) == account_id)).scalar()
        mine = col(Lease.owner) == owner
        free = col(Lease.expires_at) < now
        if current is not None and current != owner and _owner_is_dead(current):
            free = free | (col(Lease.owner) == current)
        res = s.execute(
            update(Lease)
            .where(col(Lease.account_id) == account_id)
            .where(mine | free)
            .values(
                owner=owner,
                expires_at=plus(ttl),
                fence=case((mine, Lease.fence), else_=Lease.fence + 1),
                acquired_at=case((mine, Lease.acquired_at), else_=now),
            )
            .returning(col(Lease.fence))
        )
        row = res.first()
        return int(row[0]) if row is not None else None


def acquire_lease(db: Database, account_id: int, owner: str, ttl: float) -> bool:
    """:func:`take_lease` as a yes/no."""
    return take_lease(db, account_id, owner, ttl) is not None


def holds_lease(db: Database, account_id: int, owner: str, fence: int | None = None) -> bool:
    """True when ``owner`` still holds the account's unexpired lease (with ``fence``, if given)."""
    with db.read() as s:
        now, _ = _clock(s)
        q = select(col(Lease.fence)).where(
            col(Lease.account_id) == account_id,
            col(Lease.owner) == owner,
            col(Lease.expires_at) >= now,
        )
        found = s.execute(q).scalar()
    return found is not None and (fence is None or int(found) == fence)


def _owner_is_dead(owner: str) -> bool:
    """True only when certain: the owner (``host:pid:nonce``) ran on this host and its pid is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists but not ours to signal
        return False
    return False


def release_lease(db: Database, account_id: int, owner: str) -> None:
    with db.write() as s:
        s.execute(delete(Lease).where(col(Lease.account_id) == account_id, col(Lease.owner) == owner))


def lease_owner(db: Database, account_id: int) -> str | None:
    with db.read() as s:
        now, _ = _clock(s)
        row = s.execute(
            select(col(Lease.owner)).where(col(Lease.account_id) == account_id, col(Lease.expires_at) >= now)
        ).scalar()
    return row
