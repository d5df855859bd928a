"""Another process's commit reaches an open TUI's list in well under a second, with the app's
own watch settings (issue 15: change propagation p95 < 1 s; the old 1.5 s SQLite timer made it
1.6 s), and the watch thread ends with the app."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from chatdesk import app as app_module
from chatdesk.app import ChatdeskApp
from chatdesk.model import MessageInfo, Page
from chatdesk.store import views
from chatdesk.store.db import Database
from chatdesk.store.ingest import apply_page
from tests.tui.conftest import NOW, make_app, settle


async def test_another_writers_message_shows_within_a_fraction_of_a_second(store: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ChatdeskApp, "WATCH_INTERVAL", app_module.WATCH_INTERVAL)  # the shipped pace
    acc = next(c.account_id for c in views.list_chats(store) if c.external_id == "oz1")
    app = make_app(store)
    delays: list[float] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app, 0.5)
        lst = app.screen.chat_list  # type: ignore[attr-defined]
        for n in range(5):
            text = f"Ещё вопрос {n}"
            msg = MessageInfo("oz1", f"oz1-live-{n}", "buyer", text, NOW + timedelta(minutes=n + 1))
            t = threading.Thread(target=lambda m=msg: apply_page(store, acc, "chats", Page(messages=(m,))))
            t.start()
            t.join()
            committed = time.monotonic()
            while text not in lst.rendered_text() and time.monotonic() - committed < 5:
                await pilot.pause(0.01)
            delays.append(time.monotonic() - committed)
            await pilot.pause(0.3)
        watch = app._change_watch
    # Typically 0.1-0.25 s; one outlier is allowed for a loaded machine. A 1.5 s timer gets four
    # of five under 0.6 s about one time in twelve.
    assert sorted(delays)[3] < 0.6, delays
    assert watch is not None
    watch.join(2)
    assert not watch.running
