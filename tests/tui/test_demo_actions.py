"""Issue 13 item 4: in the demo, the one-off actions (t test, d download, v open, M mark read)
reach the in-process sandbox through the desk's client factory, never a real HTTP client."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from chatdesk.demo import setup
from chatdesk.desk import Desk
from chatdesk.sandbox import build_sandbox
from chatdesk.store import views
from chatdesk.store.accounts import list_accounts
from chatdesk.usecases import accounts as actions


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def no_network(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("a demo action tried to build a real HTTP client")

    import chatdesk.sync

    monkeypatch.setattr(chatdesk.sync, "default_client", no_network)
    monkeypatch.setattr(actions, "default_client", no_network)
    sandbox = build_sandbox()
    db, secrets, engine = setup(tmp_path, sandbox)
    engine.run_once_blocking()
    desk = Desk(db, engine.config, engine=engine, secrets=secrets, home=tmp_path)
    yield desk
    db.close()


def test_demo_desk_uses_the_engines_transport(demo: Desk) -> None:
    assert demo.actions_kwargs()["client_factory"] is demo.engine.client_factory  # type: ignore[union-attr]
    client = demo.client_factory(list_accounts(demo.db)[0])
    assert isinstance(client, httpx.AsyncClient)


def test_test_account_answers_in_the_demo(demo: Desk) -> None:
    for acc in list_accounts(demo.db):
        words = actions.test_account(demo.db, demo.require_secrets(), acc.name, **demo.actions_kwargs())
        assert words


def test_mark_read_on_ozon_in_the_demo(demo: Desk) -> None:
    chat = next(c for c in views.list_chats(demo.db) if c.marketplace == "ozon" and c.last_buyer_message_id)
    actions.mark_read_remote(demo.db, demo.require_secrets(), chat.id, **demo.actions_kwargs())


def test_download_an_attachment_in_the_demo(demo: Desk, tmp_path: Path) -> None:
    found = None
    for chat in views.list_chats(demo.db):
        for msg in views.list_messages(demo.db, chat.id, limit=500):
            if msg.attachments:
                found = (chat, msg.attachments[0])
                break
        if found:
            break
    assert found is not None, "the demo data has an attachment"
    chat, att = found
    path = actions.download_attachment(
        demo.db, demo.require_secrets(), chat.id, att, tmp_path / "dl", **demo.actions_kwargs()
    )
    assert path.exists() and path.stat().st_size > 0
