"""Fresh-eyes findings of a team-mode tester (two keyless operators' TUIs and sync daemons on
one store), each on both engines."""

from __future__ import annotations

import httpx
import pytest

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


async def test_keyless_operator_tui_never_records_a_key_error_and_says_it_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    acc = accounts.add_account(db, "wb-main", "wildberries")
    taken: list[str] = []
    real_take = accounts.take_lease

    def take(_db: Database, _id: int, owner: str, *args: object, **kwargs: object) -> int | None:
        taken.append(owner)
        return real_take(_db, _id, owner, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(accounts, "take_lease", take)
    db.operator = "anna"
    eng, events = _keyless_tui(db)
    for _ in range(3):  # three ticks with no sync daemon anywhere
        res = await eng.poll_account(acc.id, due_only=True)
        assert not res.errors and not res.polled
        assert res.note == "no sync service is polling wb-main (keys live on the sync host)"
    # nothing in the shared store: `account list` shows no ERRORS for anybody, and no lease
    # was ever taken (a write each tick would wake every open TUI)
    assert taken == []
    assert all(not s.last_error for s in views.sync_status(db))
    assert accounts.lease_owner(db, acc.id) is None and not eng.is_polling(acc.id)
    # one "keyless" event (a status-line note), no error toasts, never "sync: here"
    assert [e.kind for e in events] == ["keyless"]
    assert events[0].message and "chatdesk account add" not in events[0].message
    # a sync service takes the lease: the note is withdrawn once
    real_take(db, acc.id, "daemon", 60)
    await eng.poll_account(acc.id, due_only=True)
    assert [e.kind for e in events] == ["keyless", "keyless"] and events[1].message is None
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


def test_who_a_seller_message_is_shown_as() -> None:
    from datetime import UTC, datetime

    from chatdesk.store.views import MessageRow
    from chatdesk.widgets.conversation import seller_label

    def msg(operator: str | None, name: str | None = None) -> MessageRow:
        return MessageRow(
            1, 1, None, "seller", "ok", datetime(2026, 1, 1, tzinfo=UTC), (), "sent", None, operator, name
        )

    # Ivan's window: Anna's follow-up carries her name, a portal reply is "seller", his own "You"
    assert seller_label(msg("anna", "Анна"), "ivan") == "Анна"
    assert seller_label(msg(None), "ivan") == "seller"
    assert seller_label(msg("ivan", "Иван"), "ivan") == "You"
    # Anna's window: her own follow-up is "You"
    assert seller_label(msg("anna", "Анна"), "anna") == "You"
    # solo chatdesk (no operator): every reply is the user's own
    assert seller_label(msg(None), None) == "You"
    assert seller_label(msg("anna", "\x1b[31mАнна[/b]"), "ivan") == "Анна[/b]"  # sanitized, never markup


def _wait(cond, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


async def test_a_daemon_polls_at_the_tui_pace_while_an_operator_tui_is_open_anywhere(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatdesk.sync import core as sync_core
    from chatdesk.sync import policy
    from tests.test_sync import FakeConnector

    monkeypatch.setattr(sync_core, "connector_class", lambda _m: FakeConnector)
    acc = accounts.add_account(db, "wb-main", "wildberries")
    paces: list[bool] = []
    real = policy.stream_interval

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        paces.append(kwargs["watching"])
        return real(*args, **kwargs)

    monkeypatch.setattr(policy, "stream_interval", spy)
    daemon = SyncEngine(
        db, secrets=MemorySecrets({"wb-main": "tok"}), owner="daemon", client_factory=lambda _a: httpx.AsyncClient()
    )
    daemon.daemon = True
    monkeypatch.setattr(daemon, "TICK", 0.0)  # read the clients table on every pace decision
    await daemon.poll_account(acc.id, force=True)
    assert paces and not any(paces)  # nobody watches: the idle pace
    # Anna's keyless TUI on another host opens: its engine beats a row into the store
    tui = SyncEngine(db, secrets=MemorySecrets({}), owner="anna-tui", client_factory=lambda _a: httpx.AsyncClient())
    db.operator = "anna"
    tui.start()
    try:
        assert _wait(lambda: accounts.open_clients(db) == 1)
        paces.clear()
        await daemon.poll_account(acc.id, force=True)
        assert paces and all(paces)  # the daemon uses its "TUI open" pace
    finally:
        tui.shutdown()
    # quitting removes the row at once (not after CLIENT_TTL)
    assert accounts.open_clients(db) == 0
    paces.clear()
    await daemon.poll_account(acc.id, force=True)
    assert paces and not any(paces)
    await daemon.aclose()


def test_open_clients_expire_when_their_heartbeat_runs_out(db: Database) -> None:
    import time

    accounts.client_heartbeat(db, "h1:1:a", "anna", 0.5)
    accounts.client_heartbeat(db, "h2:2:b", "ivan", 60)
    assert accounts.open_clients(db) == 2
    time.sleep(1.2)
    assert accounts.open_clients(db) == 1  # Anna's TUI died without quitting: it expired
    accounts.client_gone(db, "h2:2:b")
    assert accounts.open_clients(db) == 0


def test_the_daemon_log_is_private(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import logging
    import os
    import stat

    from chatdesk.sync.runtime import log_to_file

    old = os.umask(0o022)  # the usual umask: a plain open() would make it 0644
    try:
        path = log_to_file(tmp_path / "home")
        assert path is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        path.chmod(0o644)  # a log left readable by an older version is tightened
        assert log_to_file(tmp_path / "home") == path and stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)
        for name in ("chatdesk", "apscheduler"):
            logger = logging.getLogger(name)
            for h in [h for h in logger.handlers if getattr(h, "_chatdesk_file", False)]:
                logger.removeHandler(h)
                h.close()
            logger.propagate = True


def test_cli_names_people_by_display_name(store_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from chatdesk.cli import app
    from chatdesk.store import team
    from tests.tui.conftest import seed

    db = Database(store_url)
    seed(db)
    team.add_operator(db, "anna", "Анна")
    chat_id = views.list_chats(db)[0].id
    db.close()
    monkeypatch.setenv("CHATDESK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CHATDESK_DB", store_url)
    monkeypatch.setenv("CHATDESK_OPERATOR", "anna")
    runner = CliRunner()
    assert runner.invoke(app, ["note", str(chat_id), "не обещать скидку"]).exit_code == 0
    listed = runner.invoke(app, ["notes", str(chat_id)])
    assert listed.exit_code == 0, listed.output
    assert "note by Анна: не обещать скидку" in listed.output and "anna" not in listed.output
    assigned = runner.invoke(app, ["assign", str(chat_id)])
    assert assigned.exit_code == 0, assigned.output
    assert assigned.output.strip() == f"chat {chat_id} assigned to Анна"


def test_status_line_says_once_that_no_sync_service_polls_the_keyless_accounts() -> None:
    from datetime import UTC, datetime

    from chatdesk.store.views import StreamStatus
    from chatdesk.widgets.status_line import StatusLine

    now = datetime(2026, 1, 1, tzinfo=UTC)
    base = {f: None for f in StreamStatus.__dataclass_fields__}

    def st(i: int, name: str, mp: str) -> StreamStatus:
        return StreamStatus(**{**base, "account_id": i, "account": name, "marketplace": mp, "stream": "chats"})  # type: ignore[arg-type]

    streams = [st(1, "wb-main", "wildberries")]
    line = StatusLine(lambda: now)
    note = {1: "no sync service is polling wb-main (keys live on the sync host)"}
    line._data = (streams, 2, {1: False}, {}, note)
    assert line._line(3).plain == "2 unread │ no sync service is polling wb-main (keys live on the sync host)"
    three = [*streams, st(2, "ozon-main", "ozon"), st(3, "ym-main", "yandex")]
    line._data = (three, 2, {}, {}, dict.fromkeys((1, 2, 3), "no sync service"))
    assert line._line(2).plain == "2 unread │ no sync service polls 3 accounts (keys live on the sync host)"
    line._data = (three, 2, {}, {}, {2: "no sync service"})  # only ozon-main lacks a poller and a key here
    assert "no sync service is polling ozon-main" in line._line(3).plain and "WB wb-main" in line._line(3).plain


def test_annas_follow_up_goes_out_in_her_name_and_ivan_sees_anna(db: Database, store_url: str) -> None:
    from chatdesk.usecases import followups
    from chatdesk.widgets.conversation import seller_label
    from tests.test_team_sendtime import ALL_DAY, _as, _from_followup, _schedule_due
    from tests.test_team_sendtime import chat_id as _chat_fixture

    cid = _chat_fixture.__wrapped__(db)  # type: ignore[attr-defined]
    anna = _as(store_url, "anna")
    try:
        fid = _schedule_due(anna, cid, ALL_DAY)
    finally:
        anna.close()
    followups.deliver_due(db, ALL_DAY)  # the sync daemon: no operator of its own
    (msg,) = _from_followup(db, cid, fid)
    assert msg.operator == "anna" and msg.operator_name == "Анна"
    assert seller_label(msg, "ivan") == "Анна" and seller_label(msg, "anna") == "You"


def test_a_tui_heartbeat_does_not_wake_the_other_tuis_on_postgresql(db: Database, store_url: str) -> None:
    import time

    if not db.is_postgresql:
        pytest.skip("SQLite's data_version moves with any commit")
    watcher = Database(store_url)
    try:
        before = watcher.data_version()
        accounts.client_heartbeat(db, "h1:1:a", "anna", 30)
        time.sleep(0.3)
        assert watcher.data_version() == before  # a heartbeat: nothing on screen changed
        accounts.add_account(db, "wb-main", "wildberries")
        time.sleep(0.3)
        assert watcher.data_version() != before  # a real change still wakes it
    finally:
        watcher.close()


async def test_the_daemon_polls_at_once_when_the_first_tui_opens(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdesk.sync import core as sync_core
    from tests import test_sync
    from tests.test_sync import FakeConnector

    monkeypatch.setattr(sync_core, "connector_class", lambda _m: FakeConnector)
    acc = accounts.add_account(db, "wb-main", "wildberries")
    daemon = SyncEngine(
        db, secrets=MemorySecrets({"wb-main": "tok"}), owner="daemon", client_factory=lambda _a: httpx.AsyncClient()
    )
    daemon.daemon = True
    monkeypatch.setattr(daemon, "TICK", 0.0)
    await daemon._tick(acc.id)  # nobody watches: polled, next poll at the idle pace (60 s)
    polls = test_sync.SCRIPT.polls
    await daemon._tick(acc.id)
    assert test_sync.SCRIPT.polls == polls  # not due yet
    accounts.client_heartbeat(db, "anna-host:1:x", "anna", 30)  # Анна opens her TUI elsewhere
    await daemon._tick(acc.id)
    assert test_sync.SCRIPT.polls > polls  # polled at once, not up to a minute later
    polls = test_sync.SCRIPT.polls
    await daemon._tick(acc.id)
    assert test_sync.SCRIPT.polls == polls  # once: then the paced schedule holds
    await daemon.aclose()
