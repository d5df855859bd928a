"""``chatdesk demo``: the real app, engine and connectors on the built-in sandbox.

Nothing leaves the machine: connectors talk to the sandbox through an in-process transport,
the store is a fresh temporary directory, and the fake sandbox tokens live in memory only
(never in the keyring). A ticker makes buyers write now and then so the inbox is live.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from chatdesk.config import Config
from chatdesk.sandbox import PREFIXES, SANDBOX_TOKEN, Sandbox, build_sandbox
from chatdesk.secrets import MemorySecrets
from chatdesk.store.db import Database
from chatdesk.sync import SyncEngine
from chatdesk.usecases.accounts import add_account

if TYPE_CHECKING:
    from chatdesk.store.views import ChatRow

DEMO_BASE = "http://127.0.0.1"  # never dialled: the sandbox transport answers in-process
DEMO_MODEL_URL = f"{DEMO_BASE}/llm/v1"  # answered in-process by the sandbox's fake model
DEMO_SETTINGS = {"ozon": {"client_id": "123456"}, "yandex": {"business_id": "12345678"}}


def setup(home: Path, sandbox: Sandbox) -> tuple[Database, MemorySecrets, SyncEngine]:
    db = Database(f"sqlite:///{home / 'chatdesk.db'}")
    secrets = MemorySecrets()
    for sim in sandbox.sims.values():
        name = f"demo-{PREFIXES[sim.marketplace]}"
        add_account(
            db,
            secrets,
            sim.marketplace,
            name,
            SANDBOX_TOKEN,
            base_url=f"{DEMO_BASE}/{sim.prefix}",
            settings=DEMO_SETTINGS.get(sim.marketplace, {}),
        )
    transport = sandbox.transport()
    # The demo delivers follow-ups at any hour, so "send now" can be watched whenever it runs.
    # The demo's model is the sandbox's fake chat-completions endpoint, answered in-process.
    from chatdesk.assist import llm
    from chatdesk.sandbox import llm as fake_llm

    llm.IN_PROCESS[DEMO_MODEL_URL] = fake_llm.transport(sandbox)
    config = Config(
        poll_interval=15,
        mark_read_delay=2.0,
        seller_name="Магазин «Уют»",
        sending_window=("00:00", "23:59"),
        assist={"base_url": DEMO_MODEL_URL, "model": "chatdesk-fake", "timeout": 10},
    )
    engine = SyncEngine(
        db,
        secrets=secrets,
        config=config,
        client_factory=lambda _a: httpx.AsyncClient(transport=transport, timeout=10.0),
        outbox_interval=2.0,
        followup_interval=5.0,
    )
    return db, secrets, engine


def _ticker(sandbox: Sandbox, stop: threading.Event, rng: random.Random) -> None:
    """Buyers keep writing while the demo runs."""
    while not stop.wait(rng.uniform(20, 45)):
        sim = rng.choice(list(sandbox.sims.values()))
        with sandbox.lock:
            truth = sim.truth()
            chats = [c["external_id"] for c in truth["chats"] if c.get("kind", "chat") == "chat"]
            target = rng.choice(chats) if chats and rng.random() < 0.7 else None
            sim.buyer_writes(target, None)


def run(*, headless: bool = False, show_inbox: Callable[[list[ChatRow]], None] | None = None) -> None:
    """Open the inbox on a fresh sandbox; ``headless`` syncs once, prints each account's outcome
    and hands the inbox rows to ``show_inbox`` (the CLI's table printer) instead."""
    home = Path(tempfile.mkdtemp(prefix="chatdesk-demo-"))
    sandbox = build_sandbox()
    try:
        db, secrets, engine = setup(home, sandbox)
        if headless:
            from chatdesk.store import views

            results = engine.run_once_blocking()
            for r in results:
                print(f"{r.account}: {'ok' if r.ok else 'FAILED ' + '; '.join(r.errors)}, {r.new_messages} messages")
            if show_inbox is not None:
                show_inbox(views.list_chats(db))
            return
        from chatdesk.app import run_app
        from chatdesk.desk import Desk

        # One-off actions (test, download, open, mark read) use the engine's in-process
        # transport too: the demo never dials the network.
        desk = Desk(db, engine.config, engine=engine, secrets=secrets, home=home, client_factory=engine.client_factory)
        stop = threading.Event()
        threading.Thread(target=_ticker, args=(sandbox, stop, random.Random(3)), daemon=True).start()
        from chatdesk import hooks

        watcher = hooks.attach(engine, db, engine.config)  # topic tags (and hooks, if any)
        try:
            run_app(
                desk=desk,
                demo_hint="Demo: a simulated WB, Ozon and Yandex Market. Press ? for keys, Enter to open a chat.",
            )
        finally:
            stop.set()
            watcher.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)
