"""The sync engine with a scripted connector: cursors, errors per stream, lease, outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import httpx
import pytest

from chatdesk.connectors.base import (
    AuthError,
    BlockedHost,
    ChatRef,
    Connector,
    Download,
    KnownChat,
    Limits,
    MarketplaceDown,
    MessageInfo,
    MissingAccess,
    OutgoingFile,
    Page,
    RateLimited,
    Rejected,
    StreamUnavailable,
    TooManyParallel,
    TransientError,
)
from chatdesk.secrets import MemorySecrets
from chatdesk.store import accounts, ingest, outbox, views
from chatdesk.store.db import Database
from chatdesk.sync import SyncEngine
from chatdesk.sync import SyncEngine as _Engine
from chatdesk.sync import core as sync_core

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class Script:
    """What the fake marketplace does next."""

    def __init__(self) -> None:
        self.feed: list[MessageInfo] = []
        self.poll_errors: dict[str, list[Exception]] = {"chats": [], "extra": []}
        self.send_errors: list[Exception] = []
        self.sent: list[str] = []
        self.polls = 0


SCRIPT = Script()


class FakeConnector(Connector):
    marketplace = "fake"
    label = "Fake"
    streams = ("chats", "extra")
    limits: Mapping[str, Limits] = {"chat": Limits(max_text=100)}

    async def poll(self, stream: str, cursor: str | None, known: Mapping[str, KnownChat]) -> AsyncIterator[Page]:
        SCRIPT.polls += 1
        if SCRIPT.poll_errors[stream]:
            raise SCRIPT.poll_errors[stream].pop(0)
        if stream == "extra":
            return
        start = int(cursor or 0)
        for i in range(start, len(SCRIPT.feed), 2):
            yield Page(messages=tuple(SCRIPT.feed[i : i + 2]), cursor=str(min(i + 2, len(SCRIPT.feed))))

    async def send(self, chat: ChatRef, text: str, files: tuple[OutgoingFile, ...] = ()) -> None:
        if SCRIPT.send_errors:
            raise SCRIPT.send_errors.pop(0)
        SCRIPT.sent.append(text)
        SCRIPT.feed.append(MessageInfo(chat.external_id, f"s{len(SCRIPT.feed)}", "seller", text, T0))

    async def download(self, chat: ChatRef, attachment) -> Download:  # type: ignore[no-untyped-def]
        return Download(content=b"x")

    async def test(self) -> str:
        return "ok"


@pytest.fixture(autouse=True)
def fake(monkeypatch: pytest.MonkeyPatch):
    global SCRIPT
    SCRIPT = Script()
    monkeypatch.setattr(sync_core, "connector_class", lambda _m: FakeConnector)
    monkeypatch.setattr(_Engine, "INLINE_RETRIES", 1)
    return SCRIPT


def engine(db: Database, owner: str = "me") -> SyncEngine:
    return SyncEngine(
        db,
        secrets=MemorySecrets({"a": "tok", "b": "tok2"}),
        owner=owner,
        client_factory=lambda _a: httpx.AsyncClient(),
    )


def add(db: Database, name: str = "a"):  # type: ignore[no-untyped-def]
    return accounts.add_account(db, name, "wildberries")


def buyer(i: int, chat: str = "c1") -> MessageInfo:
    return MessageInfo(chat, f"b{i}", "buyer", f"вопрос {i}", T0)


async def test_poll_ingests_everything_and_idle_poll_adds_nothing(db: Database) -> None:
    acc = add(db)
    SCRIPT.feed = [buyer(i) for i in range(5)]
    eng = engine(db)
    res = await eng.poll_account(acc.id)
    assert res.ok and res.new_messages == 5
    assert ingest.get_cursor(db, acc.id, "chats") == "5"
    res = await eng.poll_account(acc.id)
    assert res.ok and res.new_messages == 0
    await eng.aclose()


async def test_error_in_one_stream_keeps_the_other_and_is_recorded(db: Database) -> None:
    acc = add(db)
    SCRIPT.feed = [buyer(1)]
    SCRIPT.poll_errors["extra"] = [StreamUnavailable("token lacks the questions category")]
    eng = engine(db)
    res = await eng.poll_account(acc.id)
    assert res.new_messages == 1
    # An unavailable stream is a state said once, not a failure (issue 11 §3): exit 0 from
    # `sync --once`, and a forced re-poll neither asks again nor repeats the line.
    assert res.errors == [] and res.notes == ["extra: token lacks the questions category"]
    status = {s.stream: s for s in views.sync_status(db)}
    assert status["extra"].unavailable and status["chats"].last_error is None
    polls = SCRIPT.polls
    again = await eng.poll_account(acc.id, force=True)
    assert again.ok and again.notes == [] and SCRIPT.polls == polls + 1  # only "chats" ran
    await eng.aclose()


async def test_auth_error_backs_off_without_touching_other_accounts(db: Database) -> None:
    a, b = add(db, "a"), add(db, "b")
    SCRIPT.feed = [buyer(1)]
    eng = engine(db)
    SCRIPT.poll_errors["chats"] = [AuthError("WB says: token expired")]
    res_a = await eng.poll_account(a.id)
    res_b = await eng.poll_account(b.id)
    assert res_a.errors and "token expired" in res_a.errors[0]
    assert res_b.ok and res_b.new_messages == 1
    polls = SCRIPT.polls
    await eng.poll_account(a.id)  # backing off: the chats stream is not polled
    assert SCRIPT.polls == polls + 1  # only the "extra" stream ran
    await eng.aclose()


async def test_short_rate_limit_is_waited_out_within_the_poll(db: Database) -> None:
    acc = add(db)
    SCRIPT.feed = [buyer(i) for i in range(3)]
    SCRIPT.poll_errors["chats"] = [RateLimited("slow down", retry_after=0.01)]
    eng = engine(db)
    res = await eng.poll_account(acc.id)
    assert res.ok and res.new_messages == 3
    await eng.aclose()


async def test_lease_keeps_a_second_process_from_polling(db: Database) -> None:
    acc = add(db)
    first, second = engine(db, "p1"), engine(db, "p2")
    assert (await first.poll_account(acc.id)).polled
    res = await second.poll_account(acc.id)
    assert not res.polled and "another chatdesk process" in (res.note or "")
    await first.aclose()  # releases the lease
    assert (await second.poll_account(acc.id)).polled
    await second.aclose()


async def _queue(db: Database, acc, text: str) -> int:  # type: ignore[no-untyped-def]
    SCRIPT.feed = [buyer(1)]
    eng = engine(db)
    await eng.poll_account(acc.id)
    await eng.aclose()
    chat = views.list_chats(db)[0]
    return outbox.enqueue(db, chat.id, text)


async def test_send_then_echo_shows_once_as_sent(db: Database) -> None:
    acc = add(db)
    mid = await _queue(db, acc, "Ответ продавца")
    eng = engine(db)
    await eng.deliver_account(acc.id)
    assert outbox.message_state(db, mid)[0] == "sent"
    await eng.poll_account(acc.id)
    chat = views.list_chats(db)[0]
    texts = [(m.text, m.state) for m in views.list_messages(db, chat.id)]
    assert texts.count(("Ответ продавца", "sent")) == 1 and len(texts) == 2
    await eng.aclose()


async def test_ambiguous_send_is_unknown_and_never_resent(db: Database) -> None:
    acc = add(db)
    mid = await _queue(db, acc, "hello")
    SCRIPT.send_errors = [TransientError("read timeout", reached_server=True)]
    eng = engine(db)
    await eng.deliver_account(acc.id)
    assert outbox.message_state(db, mid)[0] == "unknown"
    await eng.deliver_account(acc.id)
    assert SCRIPT.sent == []  # not re-sent
    # the marketplace did get it: the echo settles it
    SCRIPT.feed.append(MessageInfo("c1", "echo", "seller", "hello", T0))
    await eng.poll_account(acc.id)
    assert outbox.message_state(db, mid)[0] == "sent"
    await eng.aclose()


async def test_unreached_send_is_retried_later_and_rejection_fails(db: Database) -> None:
    acc = add(db)
    mid = await _queue(db, acc, "one")
    SCRIPT.send_errors = [TransientError("connection refused", reached_server=False)]
    eng = engine(db)
    await eng.deliver_account(acc.id)
    state, error = outbox.message_state(db, mid)
    assert state == "queued" and "connection refused" in (error or "")
    mid2 = outbox.enqueue(db, views.list_chats(db)[0].id, "two")
    SCRIPT.send_errors = [Rejected("Ozon: the 48-hour reply window has passed")]
    await eng.deliver_account(acc.id)
    assert outbox.message_state(db, mid2) == ("failed", "Ozon: the 48-hour reply window has passed")
    await eng.aclose()


async def test_missing_secret_is_reported_not_raised(db: Database) -> None:
    acc = accounts.add_account(db, "nosecret", "wildberries")
    eng = engine(db)
    res = await eng.poll_account(acc.id)
    assert res.errors and "no secret" in res.errors[0]
    await eng.aclose()


def test_background_engine_starts_polls_and_stops(db: Database) -> None:
    import threading

    acc = add(db)
    SCRIPT.feed = [buyer(1)]
    eng = engine(db)
    seen = threading.Event()
    eng.add_listener(lambda ev: seen.set() if ev.kind == "synced" else None)
    eng.start()
    try:
        assert seen.wait(10)
        assert eng.is_polling(acc.id)
    finally:
        eng.shutdown()
    assert views.list_chats(db)[0].unread == 1


# ----------------------------------------------------------------------------- policy table (issue 10/11)


@pytest.mark.parametrize(
    ("error", "failure", "kind"),
    [
        (AuthError("WB refused the token"), True, "bad_credentials"),
        (BlockedHost("blocked: IP not allowed"), True, "blocked"),
        (MarketplaceDown("WB is down"), True, "down"),
        (MissingAccess("no Premium Plus"), False, "missing_access"),
        (RateLimited("quota used up", retry_after=900), False, "quota"),
    ],
)
async def test_each_cause_gets_the_reaction_of_its_policy_row(
    db: Database, error: Exception, failure: bool, kind: str
) -> None:
    acc = add(db)
    SCRIPT.feed = [buyer(1)]
    SCRIPT.poll_errors["chats"] = [error] * 10
    eng = engine(db)
    res = await eng.poll_account(acc.id)
    assert bool(res.errors) is failure
    if not failure:
        assert res.notes and str(error) in res.notes[0]
    status = {s.stream: s for s in views.sync_status(db)}
    assert status["chats"].error_kind == kind and status["chats"].backoff_until is not None
    await eng.aclose()


async def test_parallel_limit_is_retried_after_a_short_pause_and_the_round_finishes(db: Database) -> None:
    acc = add(db)
    SCRIPT.feed = [buyer(i) for i in range(3)]
    SCRIPT.poll_errors["chats"] = [TooManyParallel("Hit rate limit of 3 parallel requests", retry_after=0.01)] * 3
    eng = engine(db)
    res = await eng.poll_account(acc.id)
    assert res.ok and res.new_messages == 3  # not parked for 60 s, nothing lost
    await eng.aclose()


async def test_an_announced_wait_is_honoured_by_a_forced_poll_of_another_process(db: Database) -> None:
    acc = add(db)
    SCRIPT.feed = [buyer(1)]
    SCRIPT.poll_errors["chats"] = [RateLimited("WB: retry in 600 s", retry_after=600)]
    first = engine(db, "daemon")
    res = await first.poll_account(acc.id)
    assert res.ok and "600" in res.notes[0]
    await first.aclose()
    polls = SCRIPT.polls
    cron = engine(db, "cron")  # `sync --once` from cron: a new process, forced
    res = await cron.poll_account(acc.id, force=True)
    assert res.ok and SCRIPT.polls == polls + 1  # only "extra" ran; chats waited as asked
    assert any("waiting until" in n for n in res.notes)
    await cron.aclose()


async def test_an_unexpected_exception_is_one_line_and_the_traceback_goes_to_the_log(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    acc = add(db)
    SCRIPT.poll_errors["chats"] = [KeyError("addTimestamp")]
    eng = engine(db)
    res = await eng.poll_account(acc.id)
    assert res.errors == ["chats: unexpected error: unexpected answer; details are in chatdesk.log"]
    assert any("Traceback" in r.getMessage() for r in caplog.records)
    await eng.aclose()


async def test_a_scheduler_tick_polls_only_streams_that_are_due(db: Database) -> None:
    acc = add(db)
    SCRIPT.feed = [buyer(1)]
    eng = engine(db)
    await eng.poll_account(acc.id)
    polls = SCRIPT.polls
    await eng.poll_account(acc.id, due_only=True)  # just polled: nothing is due yet
    assert SCRIPT.polls == polls
    status = {s.stream: s for s in views.sync_status(db)}
    assert status["chats"].next_poll_at is not None
    await eng.aclose()


class SlowSecrets(MemorySecrets):
    """The encrypted file keyring: every read costs an Argon2 derivation (seconds)."""

    def get(self, account: str) -> str:
        import time

        time.sleep(5.0)
        return super().get(account)


def _lease_within(db: Database, account_id: int, owner: str, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if accounts.lease_owner(db, account_id) == owner:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("dead_holder", [False, True])
def test_tui_engine_takes_the_lease_at_once_with_a_slow_keyring(db: Database, dead_holder: bool) -> None:
    """Bug: a TUI on a real store showed "sync: off" (or "sync: other" after a SIGKILL) for
    its first 30-60 s: each poll read the key (seconds with the file keyring) before the lease.
    Started the way the TUI starts it, the engine holds the lease within seconds, also over a
    lease left by a dead process of this host."""
    import socket
    import subprocess
    import sys
    import time

    acc = add(db)
    if dead_holder:
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        assert accounts.take_lease(db, acc.id, f"{socket.gethostname()}:{gone.pid}:killed", 600) is not None
    eng = SyncEngine(db, secrets=SlowSecrets({"a": "tok"}), owner="tui", client_factory=lambda _a: httpx.AsyncClient())
    kinds: list[str] = []
    eng.add_listener(lambda e: kinds.append(e.kind))
    eng.start()
    try:
        assert _lease_within(db, acc.id, "tui", 3.0)
        time.sleep(0.2)  # the engine's thread marks it held just after the commit
        assert eng.is_polling(acc.id)
        assert "lease" in kinds  # the TUI redraws "sync: here" now, not after the first poll
    finally:
        eng.shutdown()


async def test_without_the_key_the_lease_is_given_back_at_once(db: Database) -> None:
    acc = add(db)
    eng = SyncEngine(db, secrets=MemorySecrets({}), owner="no-key", client_factory=lambda _a: httpx.AsyncClient())
    res = await eng.poll_account(acc.id)
    assert res.errors and "no secret" in res.errors[0]
    assert accounts.lease_owner(db, acc.id) is None and not eng.is_polling(acc.id)
    await eng.aclose()
