"""The team-mode test world shared by test_team_mode and test_team_sendtime: one WB chat with a
buyer's question, operators anna (Анна) and ivan (Иван), and a store handle per operator."""

from __future__ import annotations

from datetime import UTC, datetime

from chatdesk.model import ChatInfo, MessageInfo, Page
from chatdesk.store import accounts, ingest, team, views
from chatdesk.store.db import Database

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def one_chat_two_operators(db: Database) -> int:
    """Account "wb", chat "c1" whose buyer asked "Где мой заказ?" at T0; returns the chat id."""
    acc = accounts.add_account(db, "wb", "wildberries")
    page = Page(
        chats=(ChatInfo("c1", customer="Покупатель"),),
        messages=(MessageInfo("c1", "b1", "buyer", "Где мой заказ?", T0),),
    )
    ingest.apply_page(db, acc.id, "chats", page)
    team.add_operator(db, "anna", "Анна")
    team.add_operator(db, "ivan", "Иван")
    return views.list_chats(db)[0].id


def as_operator(store_url: str, operator: str | None) -> Database:
    """A second handle on the same store, acting for ``operator`` (close it after use)."""
    db = Database(store_url)
    db.operator = operator
    return db
