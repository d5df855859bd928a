"""Operators on one store (both engines): identity on outgoing messages, the send-time check,
assignment, per-operator drafts, internal notes that never reach a connector, presence."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from chatdesk.model import MessageInfo, Page
from chatdesk.store import accounts, ingest, outbox, team, views
from chatdesk.store.db import Database
from chatdesk.usecases import replies
from chatdesk.usecases import team as team_uc
from tests.team_helpers import T0, as_operator, one_chat_two_operators


@pytest.fixture
def chat_id(db: Database) -> int:
    return one_chat_two_operators(db)


_as = as_operator


def test_second_operators_send_is_stopped_by_the_first_ones_reply(db: Database, store_url: str, chat_id: int) -> None:
    anna, ivan = _as(store_url, "anna"), _as(store_url, "ivan")
    try:
        team_uc.seen(anna, chat_id)
        team_uc.seen(ivan, chat_id)  # both look at the buyer's question
        replies.queue_reply(ivan, chat_id, "Заказ уже в пути")  # Иван answers first
        with pytest.raises(team_uc.ReviewNeeded) as err:
            replies.queue_reply(anna, chat_id, "Отправим завтра")
        assert str(err.value).startswith("Иван replied")
        assert str(err.value).endswith("— review")
        assert [c.text for c in err.value.changes] == ["Заказ уже в пути"]
        assert len([m for m in views.list_messages(db, chat_id) if m.author == "seller"]) == 1  # nothing queued
        replies.queue_reply(anna, chat_id, "Отправим завтра", anyway=True)  # explicitly
        # Outgoing messages carry who wrote them.
        assert [(m.text, m.operator) for m in views.list_messages(db, chat_id) if m.author == "seller"] == [
            ("Заказ уже в пути", "ivan"),
            ("Отправим завтра", "anna"),
        ]
    finally:
        anna.close()
        ivan.close()


def test_a_new_buyer_message_stops_the_send_until_reviewed(db: Database, store_url: str, chat_id: int) -> None:
    anna = _as(store_url, "anna")
    try:
        team_uc.seen(anna, chat_id)
        acc = accounts.get_account(db, "wb")
        ingest.apply_page(db, acc.id, "chats", Page(messages=(MessageInfo("c1", "b2", "buyer", "Ау?", T0),)))
        with pytest.raises(team_uc.ReviewNeeded, match="the buyer wrote again — review"):
            replies.queue_reply(anna, chat_id, "Ответ")
        team_uc.seen(anna, chat_id)  # she reads it
        replies.queue_reply(anna, chat_id, "Ответ")  # now it goes
    finally:
        anna.close()


def test_never_opened_chat_needs_review_and_solo_use_has_no_check(db: Database, store_url: str, chat_id: int) -> None:
    anna = _as(store_url, "anna")
    try:
        with pytest.raises(team_uc.ReviewNeeded):
            replies.queue_reply(anna, chat_id, "Ответ")
    finally:
        anna.close()
    replies.queue_reply(db, chat_id, "Ответ без команды")  # db.operator is None: solo seller


def test_review_line_names_and_times() -> None:
    now = T0 + timedelta(minutes=2)
    changes = [
        team.Change(1, "seller", "ivan", "x", T0),
        team.Change(2, "buyer", None, "y", T0 + timedelta(seconds=90)),
    ]
    assert team_uc.describe(changes, {"ivan": "Иван"}, now) == "Иван replied 2 min ago / the buyer wrote again — review"


def test_assignment_and_filters(db: Database, chat_id: int) -> None:
    assert [c.id for c in views.list_chats(db, views.ChatFilter(unassigned=True))] == [chat_id]
    team.assign(db, chat_id, "anna")
    assert views.list_chats(db, views.ChatFilter(assigned_to="anna"))[0].assigned_to == "anna"
    assert views.list_chats(db, views.ChatFilter(assigned_to="ivan")) == []
    assert views.list_chats(db, views.ChatFilter(unassigned=True)) == []
    with pytest.raises(Exception, match="no operator named 'olga'"):
        team.assign(db, chat_id, "olga")
    team.remove_operator(db, "anna")  # her chats go back to the pool
    assert views.get_chat(db, chat_id).assigned_to is None  # type: ignore[union-attr]


def test_drafts_are_per_operator(db: Database, store_url: str, chat_id: int) -> None:
    anna, ivan = _as(store_url, "anna"), _as(store_url, "ivan")
    try:
        views.save_draft(anna, chat_id, "черновик Анны")
        views.save_draft(ivan, chat_id, "черновик Ивана")
        assert views.get_draft(anna, chat_id) == "черновик Анны"
        assert views.get_draft(ivan, chat_id) == "черновик Ивана"
        team_uc.seen(ivan, chat_id)
        replies.queue_reply(ivan, chat_id, "отправил")  # clears Ivan's draft only
        assert views.get_draft(ivan, chat_id) == ""
        assert views.get_draft(anna, chat_id) == "черновик Анны"
    finally:
        anna.close()
        ivan.close()


def test_notes_never_reach_the_outbox_or_a_connector(db: Database, chat_id: int) -> None:
    secret_note = "ВНУТРЕННЕЕ: покупатель спорный, не обещать возврат"
    team.add_note(db, chat_id, secret_note, "anna")
    outbox.enqueue(db, chat_id, "Обычный ответ")
    assert [n.text for n in team.list_notes(db, chat_id)] == [secret_note]
    assert all(secret_note not in m.text for m in views.list_messages(db, chat_id))
    acc = accounts.get_account(db, "wb")
    jobs = outbox.claim_due(db, acc.id, "daemon", limit=100)
    assert jobs and all(secret_note not in j.text and secret_note not in str(j.files) for j in jobs)


def test_presence_heartbeat_and_expiry(db: Database, chat_id: int) -> None:
    team.heartbeat(db, chat_id, "anna", "typing", ttl=60)
    team.heartbeat(db, chat_id, "ivan", "viewing", ttl=0.5)
    assert team.presence(db, [chat_id]) == {chat_id: [("anna", "typing"), ("ivan", "viewing")]}
    time.sleep(1.2)
    assert team.presence(db, [chat_id]) == {chat_id: [("anna", "typing")]}  # Ivan's heartbeat ran out
    team.leave(db, chat_id, "anna")
    assert team.presence(db) == {}


def test_followup_scheduling_is_guarded_too(db: Database, store_url: str, chat_id: int) -> None:
    from chatdesk.config import Config
    from chatdesk.usecases import followups

    anna = _as(store_url, "anna")
    try:
        due = T0 + timedelta(days=3)
        with pytest.raises(team_uc.ReviewNeeded):  # never looked at the chat
            followups.schedule(anna, Config(), chat_id, due, "Как вам товар?")
        team_uc.seen(anna, chat_id)
        assert followups.schedule(anna, Config(), chat_id, due, "Как вам товар?")
    finally:
        anna.close()


def test_round_robin_auto_assignment_respects_the_cap(db: Database, chat_id: int) -> None:
    acc = accounts.get_account(db, "wb")
    msgs = tuple(MessageInfo(f"w{i}", f"wb{i}", "buyer", "Вопрос", T0 + timedelta(minutes=i)) for i in range(5))
    ingest.apply_page(db, acc.id, "chats", Page(messages=msgs))  # 6 waiting chats in all
    pairs = team.auto_assign(db, cap=2)
    assert [who for _, who in pairs] == ["anna", "ivan", "anna", "ivan"]  # 2 each, then full
    assert pairs[0][0] == chat_id  # the longest wait first
    assert len(views.list_chats(db, views.ChatFilter(unassigned=True))) == 2
    assert team.auto_assign(db, cap=2) == []
    with pytest.raises(Exception, match="at least 1"):
        team.auto_assign(db, cap=0)


def test_the_list_shows_who_else_is_in_a_chat(db: Database, store_url: str, chat_id: int) -> None:
    team.heartbeat(db, chat_id, "ivan", "typing", ttl=60)
    team.heartbeat(db, chat_id, "anna", "viewing", ttl=60)
    anna = _as(store_url, "anna")
    try:
        assert views.list_chats(anna)[0].present == (("ivan", "typing"),)  # not herself
    finally:
        anna.close()
    assert views.list_chats(db)[0].present == ()  # solo use: no presence query at all


def _send_together(chat_id: int, senders: dict[str, Database], text: str) -> dict[str, str]:
    """Start one queue_reply per operator at the same instant; name -> "queued" | "review"."""
    import threading

    start = threading.Barrier(len(senders))
    outcome: dict[str, str] = {}

    def send(name: str) -> None:
        start.wait()
        try:
            replies.queue_reply(senders[name], chat_id, f"{text} {name}")
            outcome[name] = "queued"
        except team_uc.ReviewNeeded:
            outcome[name] = "review"

    threads = [threading.Thread(target=send, args=(name,)) for name in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcome


def test_two_operators_sending_at_the_same_moment_cannot_both_pass_the_check(
    db: Database, store_url: str, chat_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fresh-eyes finding: `send` by Анна and Иван started together both went out (look, then
    write). The check now runs in the transaction that queues, after locking the chat; the
    window between the early look and the queueing is widened here so both pass the early one."""
    slow_parts = replies.reply_parts

    def reply_parts(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.3)  # both operators are now past the early check
        return slow_parts(*args, **kwargs)

    monkeypatch.setattr(replies, "reply_parts", reply_parts)
    anna, ivan = _as(store_url, "anna"), _as(store_url, "ivan")
    acc = views.list_chats(db)[0].account_id
    try:
        for round_ in range(3):
            if round_:
                again = MessageInfo("c1", f"b{round_ + 1}", "buyer", "Ау?", T0 + timedelta(minutes=round_))
                ingest.apply_page(db, acc, "chats", Page(messages=(again,)))
            team_uc.seen(anna, chat_id)
            team_uc.seen(ivan, chat_id)
            outcome = _send_together(chat_id, {"anna": anna, "ivan": ivan}, f"ответ {round_}")
            assert sorted(outcome.values()) == ["queued", "review"], outcome
        sellers = [m for m in views.list_messages(db, chat_id) if m.author == "seller"]
        assert len(sellers) == 3  # one reply per buyer message, never two
    finally:
        anna.close()
        ivan.close()
