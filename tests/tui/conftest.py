"""Fixtures for the TUI tests: a small fixed store (on each engine), a fixed clock, a fake sync engine.

Every test that reads or writes the store runs on SQLite and on PostgreSQL through ``store_url``;
tests marked ``one_engine`` only render identical data and run on SQLite."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from textual.worker import WorkerCancelled

from chatdesk.app import ChatdeskApp
from chatdesk.config import Config
from chatdesk.model import Attachment, ChatInfo, MessageInfo, Page
from chatdesk.store import outbox
from chatdesk.store.accounts import add_account
from chatdesk.store.db import Database
from chatdesk.store.ingest import apply_page
from chatdesk.sync import SyncEvent

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def at(minutes_ago: float) -> datetime:
    return NOW - timedelta(minutes=minutes_ago)


def chat(
    account_id: int, db: Database, ext: str, customer: str, messages: list[tuple[str, str, float]], **info: object
) -> None:
    """One chat with messages (author, text, minutes ago)."""
    files: tuple[Attachment, ...] = info.pop("attachments", ())  # type: ignore[assignment]
    last = len(messages) - 1
    msgs = tuple(
        MessageInfo(ext, f"{ext}-{i}", author, text, at(ago), files if i == last else ())  # type: ignore[arg-type]
        for i, (author, text, ago) in enumerate(messages)
    )
    info_ = ChatInfo(ext, customer=customer, **info)  # type: ignore[arg-type]
    apply_page(db, account_id, "chats", Page(chats=(info_,), messages=msgs))


def seed(db: Database) -> dict[str, int]:
    wb = add_account(db, "wb-main", "wildberries").id
    oz = add_account(db, "ozon-main", "ozon", settings={"client_id": "1"}).id
    ym = add_account(db, "ym-main", "yandex", settings={"business_id": "2"}).id
    chat(
        wb,
        db,
        "wb1",
        "Анна",
        [
            ("buyer", "Здравствуйте! Где мой заказ?", 50),
            ("seller", "Добрый день, уже едет", 45),
            ("buyer", "Спасибо, а когда будет?", 40),
        ],
        context={"nmID": "88412006", "size": "M", "price": "1990"},
    )
    chat(oz, db, "oz1", "Борис", [("buyer", "Размер подойдёт на 180 см?", 200)], order_id="0123-4567-1")
    chat(
        ym,
        db,
        "ym1",
        "Вера",
        [("buyer", "Пришёл не тот цвет", 1500), ("seller", "Оформим возврат", 1490)],
        order_id="555",
        status="FINISHED",
    )
    chat(
        wb,
        db,
        "wb2",
        "Глеб",
        [("buyer", "Вот фото брака", 10)],
        attachments=(Attachment("photo.jpg", 2048, "image/jpeg", url="https://example.test/photo.jpg"),),
    )
    return {"wb": wb, "ozon": oz, "yandex": ym}


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's real data dir (the remembered theme lives there)."""
    monkeypatch.setenv("CHATDESK_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(autouse=True)
def _fast_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorter debounce/watch periods: the behaviour is the same, the suite waits less."""
    from chatdesk.screens.main import MainScreen

    monkeypatch.setattr(MainScreen, "PREVIEW_DEBOUNCE", 0.01)
    monkeypatch.setattr(ChatdeskApp, "WATCH_INTERVAL", 0.05)


@pytest.fixture
def store(store_url: str) -> Iterator[Database]:
    """The seeded store, once per engine (SQLite and PostgreSQL, see ``tests/conftest.py``)."""
    db = Database(store_url)
    seed(db)
    yield db
    db.close()


class FakeEngine:
    """The SyncEngine interface; ``deliver_now`` settles the outbox as told by ``outcome``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.listeners: list[Callable[[SyncEvent], None]] = []
        self.outcome: str | None = "sent"  # "sent", a failure reason, or None (leave queued)
        self.synced: list[int | None] = []
        self.started = self.stopped = False

    def add_listener(self, fn: Callable[[SyncEvent], None]) -> None:
        self.listeners.append(fn)

    def start(self) -> None:
        self.started = True

    def shutdown(self) -> None:
        self.stopped = True

    def is_polling(self, account_id: int) -> bool:
        return True

    def sync_now(self, account_id: int | None = None) -> None:
        self.synced.append(account_id)

    def followups_now(self) -> None:
        self.followups_kicked = getattr(self, "followups_kicked", 0) + 1

    def emit(self, event: SyncEvent) -> None:
        for fn in self.listeners:
            fn(event)

    def deliver_now(self) -> None:
        outcome = self.outcome
        if outcome is None:
            return

        def run() -> None:  # on another thread, like the real engine
            from chatdesk.store.accounts import list_accounts

            for acc in list_accounts(self.db):
                for job in outbox.claim_due(self.db, acc.id, "fake-engine"):
                    if outcome == "sent":
                        outbox.mark_sent(self.db, job)
                    else:
                        outbox.mark_failed(self.db, job, outcome)
                    self.emit(SyncEvent("outbox", acc.id, chat_ids=frozenset({job.chat_id})))

        threading.Thread(target=run).start()


def make_app(db: Database, **kwargs: object) -> ChatdeskApp:
    config = kwargs.pop("config", None) or Config(timezone="UTC", mark_read_delay=0.3, bell=False)
    app = ChatdeskApp(db, config=config, **kwargs)  # type: ignore[arg-type]
    app.clock = lambda: NOW
    app.cursor_blink = False  # a blinking cursor makes snapshots depend on timing
    return app


async def _workers_done(app: ChatdeskApp) -> None:
    """Wait for the workers; an exclusive worker cancelled by a newer one (the cursor moved
    on) is expected, so wait again for its successor instead of failing."""
    for _ in range(20):
        try:
            await app.workers.wait_for_complete()
            return
        except WorkerCancelled:
            continue


async def settle(pilot, app: ChatdeskApp, delay: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    """Let debounces fire and thread workers finish, then process the messages they posted."""
    await pilot.pause(delay)
    await _workers_done(app)
    await pilot.pause()
    await _workers_done(app)
    await pilot.pause()
