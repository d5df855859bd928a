"""The store: idempotent ingestion, reconciliation, cursors, outbox claims, leases, schema."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatdesk.errors import StoreError
from chatdesk.model import Attachment, ChatInfo, MessageInfo, Page
from chatdesk.store import accounts, fts, ingest, outbox, views
from chatdesk.store.db import Database

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def msg(chat: str, ext: str, author: str, text: str, minutes: int = 0, **kw) -> MessageInfo:
    return MessageInfo(chat, ext, author, text, T0 + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


@pytest.fixture
def acc(db: Database):
    return accounts.add_account(db, "wb", "wildberries")


def test_ingest_is_idempotent_and_keeps_aggregates(db: Database, acc) -> None:
    page = Page(
        chats=(ChatInfo("c1", customer="Алёна", product_id="123", context={"size": "M"}),),
        messages=(
            msg("c1", "e1", "buyer", "Здравствуйте! Размер M подойдёт?"),
            msg("c1", "e2", "seller", "Да, подойдёт.", 5),
            msg("c1", "e3", "buyer", "Спасибо!", 9, attachments=(Attachment("фото.jpg", 10, "image/jpeg", "d1"),)),
        ),
        cursor="100",
    )
    first = ingest.apply_page(db, acc.id, "chats", page)
    again = ingest.apply_page(db, acc.id, "chats", page)
    assert (first.new_messages, first.new_buyer_messages) == (3, 2)
    assert again.new_messages == 0
    (chat,) = views.list_chats(db)
    assert chat.customer == "Алёна" and chat.context == {"size": "M"}
    assert chat.unread == 1 and chat.waiting and chat.preview == "Спасибо!"
    msgs = views.list_messages(db, chat.id)
    assert [m.external_id for m in msgs] == ["e1", "e2", "e3"]
    assert msgs[2].attachments[0].name == "фото.jpg"
    assert ingest.get_cursor(db, acc.id, "chats") == "100"


def test_messages_for_unknown_chat_create_it(db: Database, acc) -> None:
    ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("new", "x", "buyer", "hi"),)))
    assert views.list_chats(db)[0].external_id == "new"


def test_cursor_none_leaves_cursor(db: Database, acc) -> None:
    ingest.apply_page(db, acc.id, "chats", Page(cursor="5"))
    ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("c", "1", "buyer", "x"),)))
    assert ingest.get_cursor(db, acc.id, "chats") == "5"


def test_outbox_echo_is_reconciled_not_duplicated(db: Database, acc) -> None:
    ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("c1", "e1", "buyer", "Когда доставка?"),)))
    chat = views.list_chats(db)[0]
    views.save_draft(db, chat.id, "draft text")
    mid = outbox.enqueue(db, chat.id, "Завтра  доставим.")
    assert views.get_draft(db, chat.id) == ""  # cleared in the same transaction
    (job,) = outbox.claim_due(db, acc.id, "me")
    assert outbox.claim_due(db, acc.id, "other") == []  # nobody else can take it
    outbox.mark_sent(db, job)
    res = ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("c1", "e2", "seller", "Завтра доставим.", 3),)))
    assert res.reconciled == 1 and res.new_messages == 0
    msgs = views.list_messages(db, chat.id)
    assert [(m.id, m.external_id, m.state) for m in msgs][-1] == (mid, "e2", "sent")
    assert len(msgs) == 2


def test_late_error_never_downgrades_a_reconciled_echo(db: Database, acc) -> None:
    ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("c1", "e1", "buyer", "?"),)))
    chat = views.list_chats(db)[0]
    mid = outbox.enqueue(db, chat.id, "ok")
    (job,) = outbox.claim_due(db, acc.id, "me")
    ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("c1", "e2", "seller", "ok", 1),)))
    outbox.mark_unknown(db, job, "timeout")
    assert outbox.message_state(db, mid) == ("sent", None)


def test_interrupted_send_becomes_unknown_and_is_not_resent(db: Database, acc, monkeypatch) -> None:
    ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("c1", "e1", "buyer", "?"),)))
    chat = views.list_chats(db)[0]
    mid = outbox.enqueue(db, chat.id, "answer")
    (job,) = outbox.claim_due(db, acc.id, "dead-process")
    assert outbox.begin_part(db, job, 0)  # the request was on the wire when the process died
    outbox.enqueue(db, chat.id, "second")  # unrelated queued row stays queued
    # The dead process stopped renewing: its claim lapses by the database's clock (issue 15:
    # a skewed local clock no longer decides, so the lapse is made in the store itself).
    from sqlalchemy import update

    from chatdesk.store.schema import Outbox

    with db.write() as s:
        s.execute(
            update(Outbox)
            .where(Outbox.claimed_by == "dead-process")  # type: ignore[arg-type]
            .values(claimed_until=datetime.now(UTC) - timedelta(hours=1))
        )
    assert outbox.settle_interrupted(db, acc.id) == 1
    assert outbox.message_state(db, mid)[0] == "unknown"
    jobs = outbox.claim_due(db, acc.id, "me")
    assert [j.text for j in jobs] == ["second"]


def test_withdraw_puts_failed_text_back_into_draft(db: Database, acc) -> None:
    ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("c1", "e1", "buyer", "?"),)))
    chat = views.list_chats(db)[0]
    mid = outbox.enqueue(db, chat.id, "typo")
    (job,) = outbox.claim_due(db, acc.id, "me")
    outbox.mark_failed(db, job, "too late")
    assert outbox.withdraw(db, mid) == "typo"
    assert views.get_draft(db, chat.id) == "typo"
    assert all(m.id != mid for m in views.list_messages(db, chat.id))


def test_lease_is_exclusive_until_expiry(db: Database, acc) -> None:
    assert accounts.acquire_lease(db, acc.id, "a", 60)
    assert not accounts.acquire_lease(db, acc.id, "b", 60)
    assert accounts.acquire_lease(db, acc.id, "a", 60)  # renewal
    assert accounts.acquire_lease(db, acc.id, "a", -1)  # expire it
    assert accounts.acquire_lease(db, acc.id, "b", 60)


def test_fts_matches_russian_case_insensitively(db: Database, acc) -> None:
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(messages=(msg("c1", "1", "buyer", "Ёлочная ИГРУШКА пришла разбитой"), msg("c2", "2", "buyer", "Нет"))),
    )
    assert len(fts.search_ids(db, "игрушка")) == 1
    assert len(fts.search_ids(db, "елочн")) == 1  # ё folds to е, prefix match
    assert fts.search_ids(db, '" OR *') == []  # user text never becomes FTS syntax


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    Database(f"sqlite:///{path}").close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer chatdesk"):
        Database(f"sqlite:///{path}")


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a chatdesk database"):
        Database(f"sqlite:///{junk}")
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a chatdesk database"):
        Database(f"sqlite:///{other}")


def test_db_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    Database(f"sqlite:///{path}").close()
    assert path.stat().st_mode & 0o777 == 0o600


def test_newest_page_of_messages(db: Database, acc) -> None:
    ingest.apply_page(
        db, acc.id, "chats", Page(messages=tuple(msg("c", str(i), "buyer", f"m{i}", i) for i in range(30)))
    )
    chat = views.list_chats(db)[0]
    last = views.list_messages(db, chat.id, limit=10)
    assert [m.text for m in last] == [f"m{i}" for i in range(20, 30)]
    older = views.list_messages(db, chat.id, before=(last[0].created_at, last[0].id), limit=10)
    assert [m.text for m in older] == [f"m{i}" for i in range(10, 20)]


@pytest.mark.sqlite_only
def test_fast_sqlite_path_writes_what_sqlalchemy_writes(db: Database, acc, tmp_path: Path) -> None:
    """Rows from the driver-level bulk insert/update and from the ORM must be indistinguishable,
    or time comparisons between them (ordering, unread, follow-up checks) would go wrong."""
    ingest.apply_page(db, acc.id, "chats", Page(messages=(msg("c1", "e1", "buyer", "Вопрос", 0),)))
    chat = views.list_chats(db)[0]
    outbox.enqueue(db, chat.id, "ответ через ORM")  # written by SQLAlchemy
    path = db.engine.url.database
    con = sqlite3.connect(path)
    stamps = [r[0] for r in con.execute("SELECT created_at FROM message ORDER BY id")]
    chat_stamps = con.execute("SELECT last_message_at, last_buyer_at FROM chat").fetchone()
    con.close()
    import re

    shape = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
    assert all(shape.match(s) for s in [*stamps, *chat_stamps]), (stamps, chat_stamps)
    assert stamps[0] == "2026-11-20 10:00:00.000000"
    assert views.get_chat(db, chat.id).last_message_at == T0
