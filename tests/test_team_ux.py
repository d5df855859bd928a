"""Fresh-eyes findings of a team-mode tester (two keyless operators' TUIs and sync daemons on
one store), each on both engines."""

from __future__ import annotations

import httpx

from chatdesk.secrets import MemorySecrets
from chatdesk.store import accounts, views
from chatdesk.store.db import Database
from chatdesk.sync import SyncEngine
from chatdesk.sync.runtime import SyncEvent


def _keyless_tui(db: Database, owner: str = "anna-tui") -> tuple[SyncEngine, list[SyncEvent]]:
    eng = SyncEngine(db, secrets=MemorySecrets({}), owner=owner, client_factory=lambda _a: httpx.AsyncClient())
    eng.watching = True  # what start() sets: a TUI's engine
    events: list[SyncEvent] = []
    eng.add_listener(events.append)
    return eng, events


async def test_keyless_operator_tui_never_records_a_key_error_and_says_it_once(db: Database) -> None:
    acc = accounts.add_account(db, "wb-main", "wildberries")
    db.operator = "anna"
    eng, events = _keyless_tui(db)
    for _ in range(3):  # three ticks with no sync daemon anywhere
        res = await eng.poll_account(acc.id, due_only=True)
        assert not res.errors and not res.polled
        assert res.note == "no sync service is polling wb-main (keys live on the sync host)"
    # nothing in the shared store: `account list` shows no ERRORS for anybody
    assert all(not s.last_error for s in views.sync_status(db))
    assert accounts.lease_owner(db, acc.id) is None and not eng.is_polling(acc.id)
    # one "keyless" event (a status-line note), no error toasts, no "sync: here" every tick
    assert [e.kind for e in events] == ["lease", "keyless"]
    assert events[1].message and "chatdesk account add" not in events[1].message
    # a sync service takes the lease: the note is withdrawn once
    accounts.take_lease(db, acc.id, "daemon", 60)
    await eng.poll_account(acc.id, due_only=True)
    assert [e.kind for e in events] == ["lease", "keyless", "keyless"] and events[2].message is None
    await eng.aclose()


async def test_solo_tui_without_a_key_still_says_how_to_add_it(db: Database) -> None:
    acc = accounts.add_account(db, "wb-main", "wildberries")
    eng, events = _keyless_tui(db, "solo")
    res = await eng.poll_account(acc.id)
    assert res.errors and "no secret" in res.errors[0]
    assert [e.kind for e in events] == ["lease", "error"]
    await eng.aclose()


def test_status_line_words_for_an_account_nobody_polls() -> None:
    from datetime import UTC, datetime

    from chatdesk.store.views import StreamStatus
    from chatdesk.widgets.status_line import account_state

    fields = {f: None for f in StreamStatus.__dataclass_fields__}
    fields.update(account_id=1, account="wb-main", marketplace="wildberries", stream="chats")
    fields["last_error"] = "old error"
    st = StreamStatus(**fields)  # type: ignore[arg-type]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    note = "no sync service is polling wb-main (keys live on the sync host)"
    assert account_state([st], now, None, note) == (note, "warn")
    polled = StreamStatus(**{**fields, "poller": "host:1"})  # type: ignore[arg-type]
    assert account_state([polled], now, None, note)[1] == "error"  # a daemon polls it: its state wins
