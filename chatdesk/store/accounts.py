"""Accounts (identity and settings, never secrets) and the per-account poll lease."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from chatdesk.errors import UsageError
from chatdesk.store.db import Database, from_db, utcnow
from chatdesk.store.ingest import _insert
from chatdesk.store.schema import Account, Chat, Draft, FollowUp, Lease, Message, Outbox, SyncState


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
        return [_row(a) for a in s.execute(select(Account).order_by(Account.name)).scalars()]


def get_account(db: Database, name: str) -> AccountRow:
    with db.read() as s:
        acc = s.execute(select(Account).where(Account.name == name)).scalar_one_or_none()
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
        chat_ids = select(Chat.id).where(Chat.account_id == acc.id)
        msg_ids = select(Message.id).where(col(Message.chat_id).in_(chat_ids))
        s.execute(delete(Outbox).where(Outbox.account_id == acc.id))
        s.execute(delete(FollowUp).where(col(FollowUp.chat_id).in_(chat_ids)))
        s.execute(delete(Draft).where(col(Draft.chat_id).in_(chat_ids)))
        s.execute(delete(Message).where(col(Message.id).in_(msg_ids)))
        s.execute(delete(Chat).where(Chat.account_id == acc.id))
        s.execute(delete(SyncState).where(SyncState.account_id == acc.id))
        s.execute(delete(Lease).where(Lease.account_id == acc.id))
        s.execute(delete(Account).where(Account.id == acc.id))


# ----------------------------------------------------------------------------- lease


def acquire_lease(db: Database, account_id: int, owner: str, ttl: float) -> bool:
    """Take or renew the right to poll ``account_id``; False if another live process has it.

    A lease left by a process on this machine that no longer exists (killed, crashed) is
    taken over at once: waiting for its expiry would stop a restarted daemon from syncing
    for minutes."""
    now = utcnow()
    until = now + timedelta(seconds=ttl)
    with db.write() as s:
        s.execute(_insert(s, Lease.__table__), [{"account_id": account_id, "owner": owner, "expires_at": until}])
        current = s.execute(select(Lease.owner).where(Lease.account_id == account_id)).scalar()
        taken = Lease.owner == owner
        if current is not None and current != owner and _owner_is_dead(current):
            taken = taken | (Lease.owner == current)
        res = s.execute(
            update(Lease)
            .where(Lease.account_id == account_id)
            .where(taken | (Lease.expires_at < now))
            .values(owner=owner, expires_at=until)
        )
        return bool(res.rowcount)  # type: ignore[attr-defined]


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
        s.execute(delete(Lease).where(Lease.account_id == account_id, Lease.owner == owner))


def lease_owner(db: Database, account_id: int) -> str | None:
    with db.read() as s:
        row = s.execute(
            select(Lease.owner).where(Lease.account_id == account_id, Lease.expires_at >= utcnow())
        ).scalar()
    return row
