"""The send-time promise everywhere (issue 15, item 1), on both engines: a follow-up scheduled
by one operator is held at delivery when the buyer or another operator wrote after it was
scheduled; a reply built from a suggestion is stopped when the buyer wrote after the
suggestion was made; and the check runs in the queueing transaction, so two operators sending
at the same moment never both get through."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from chatdesk.config import Config
from chatdesk.errors import UsageError
from chatdesk.model import MessageInfo, Page
from chatdesk.store import accounts, ingest, outbox, views
from chatdesk.store import followups as store_followups
from chatdesk.store.db import Database
from chatdesk.usecases import followups, replies
from chatdesk.usecases import team as team_uc
from tests.team_helpers import T0, as_operator, one_chat_two_operators

ALL_DAY = Config(sending_window=("00:00", "23:59"), timezone="Europe/Moscow")
KEEP = Config(sending_window=("00:00", "23:59"), timezone="Europe/Moscow", cancel_followup_if_buyer_writes=False)


@pytest.fixture
def chat_id(db: Database) -> int:
    return one_chat_two_operators(db)


_as = as_operator


def _buyer_writes(db: Database, ext: str, text: str) -> None:
    acc = accounts.get_account(db, "wb")
    ingest.apply_page(db, acc.id, "chats", Page(messages=(MessageInfo("c1", ext, "buyer", text, T0),)))


def _schedule_due(anna: Database, chat_id: int, config: Config, text: str = "Как вам товар?") -> int:
    team_uc.seen(anna, chat_id)
    fid = followups.schedule(anna, config, chat_id, datetime.now(UTC) + timedelta(days=1), text)
    store_followups.send_now(anna, fid)  # due now
    return fid


def _from_followup(db: Database, chat_id: int, fid: int) -> list[views.MessageRow]:
    mid = store_followups.get(db, fid).message_id
    return [m for m in views.list_messages(db, chat_id) if m.id == mid]


def test_another_operators_reply_holds_a_due_followup_until_sent_anyway(
    db: Database, store_url: str, chat_id: int
) -> None:
    anna, ivan = _as(store_url, "anna"), _as(store_url, "ivan")
    try:
        fid = _schedule_due(anna, chat_id, ALL_DAY)
        team_uc.seen(ivan, chat_id)
        replies.queue_reply(ivan, chat_id, "Иван: заказ уже в пути")  # after Anna scheduled it

        assert followups.deliver_due(db, ALL_DAY) == []  # at delivery: nothing queued
        row = store_followups.get(db, fid)
        assert row.state == "held"
        assert row.reason is not None and row.reason.startswith("Иван replied at ") and row.reason.endswith("— review")
        assert row.message_id is None
        assert [f.id for f in store_followups.list_followups(db, states=store_followups.OPEN_STATES)] == [fid]
        assert followups.deliver_due(db, ALL_DAY) == []  # held stays held, round after round

        followups.send_anyway(anna, fid)  # reviewed: explicitly
        assert followups.deliver_due(db, ALL_DAY)
        sent = _from_followup(db, chat_id, fid)
        assert [(m.text, m.operator) for m in sent] == [("Как вам товар?", "anna")]
        seller = [m for m in views.list_messages(db, chat_id) if m.author == "seller"]
        assert len(seller) == 2  # Ivan's reply and the follow-up: exactly one extra message
    finally:
        anna.close()
        ivan.close()


def test_a_buyer_message_holds_it_when_followups_are_not_cancelled(db: Database, store_url: str, chat_id: int) -> None:
    anna = _as(store_url, "anna")
    try:
        fid = _schedule_due(anna, chat_id, KEEP)
        _buyer_writes(db, "b2", "А можно быстрее?")
        followups.deliver_due(db, KEEP)
        row = store_followups.get(db, fid)
        assert row.state == "held" and row.reason is not None
        assert "the buyer wrote again at" in row.reason
    finally:
        anna.close()


def test_own_replies_and_solo_use_do_not_hold(db: Database, store_url: str, chat_id: int) -> None:
    anna = _as(store_url, "anna")
    try:
        fid = _schedule_due(anna, chat_id, ALL_DAY)
        replies.queue_reply(anna, chat_id, "Анна: дополню")  # her own reply is no news to her
        followups.deliver_due(db, ALL_DAY)
        assert store_followups.get(db, fid).state == "sending"
    finally:
        anna.close()
    solo = followups.schedule(db, ALL_DAY, chat_id, datetime.now(UTC) + timedelta(days=1), "Соло: напоминание")
    store_followups.send_now(db, solo)
    outbox.enqueue(db, chat_id, "ответ с портала")  # solo seller: no operators, no hold
    followups.deliver_due(db, ALL_DAY)
    assert store_followups.get(db, solo).state == "sending"


def test_a_held_followup_can_be_cancelled_and_a_settled_one_not_sent_anyway(
    db: Database, store_url: str, chat_id: int
) -> None:
    anna, ivan = _as(store_url, "anna"), _as(store_url, "ivan")
    try:
        fid = _schedule_due(anna, chat_id, ALL_DAY)
        outbox.enqueue(ivan, chat_id, "Иван ответил")
        followups.deliver_due(db, ALL_DAY)
        store_followups.cancel(anna, fid)
        assert store_followups.get(db, fid).state == "cancelled"
        with pytest.raises(Exception, match="no longer pending or held"):
            followups.send_anyway(anna, fid)
    finally:
        anna.close()
        ivan.close()


def test_followup_list_and_send_cli(
    db: Database, store_url: str, chat_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatdesk.cli import app

    anna, ivan = _as(store_url, "anna"), _as(store_url, "ivan")
    try:
        fid = _schedule_due(anna, chat_id, ALL_DAY)
        outbox.enqueue(ivan, chat_id, "Иван ответил")
        followups.deliver_due(db, ALL_DAY)
    finally:
        anna.close()
        ivan.close()
    monkeypatch.setenv("CHATDESK_DB", store_url)
    monkeypatch.setenv("CHATDESK_OPERATOR", "anna")
    runner = CliRunner()
    listed = runner.invoke(app, ["followup", "list"])
    assert listed.exit_code == 0, listed.output
    line = next(x for x in listed.output.splitlines() if x.startswith(str(fid)))
    assert " held " in line and "Иван replied at " in line and "— review · Как вам товар?" in line
    as_json = runner.invoke(app, ["followup", "list", "--json"])
    assert '"operator": "anna"' in as_json.output and '"state": "held"' in as_json.output
    refused = runner.invoke(app, ["followup", "send", str(fid)])
    assert isinstance(refused.exception, UsageError) and "--anyway" in str(refused.exception)  # exit 2 from main()
    assert store_followups.get(db, fid).state == "held"
    ok = runner.invoke(app, ["followup", "send", str(fid), "--anyway"])
    assert ok.exit_code == 0, ok.output
    assert store_followups.get(db, fid).state == "pending"


def test_a_reply_from_a_suggestion_is_stopped_when_the_buyer_wrote_after_it(
    db: Database, store_url: str, chat_id: int
) -> None:
    basis = max(m.id for m in views.list_messages(db, chat_id) if m.author == "buyer")  # the suggestion's question
    anna = _as(store_url, "anna")
    try:
        team_uc.seen(anna, chat_id)
        _buyer_writes(db, "b2", "Отмените заказ, пожалуйста")
        team_uc.seen(anna, chat_id)  # the new message was on her screen, but the text answers the old one
        with pytest.raises(team_uc.ReviewNeeded, match="the buyer wrote again — review"):
            replies.queue_reply(anna, chat_id, "Заказ уже в пути", basis=basis)
        replies.queue_reply(anna, chat_id, "Отменили заказ")  # typed for the new message: goes
    finally:
        anna.close()
    with pytest.raises(team_uc.ReviewNeeded):  # solo use too: the suggestion is out of date
        replies.queue_reply(db, chat_id, "Заказ уже в пути", basis=basis)
    assert [m.text for m in views.list_messages(db, chat_id) if m.author == "seller"] == ["Отменили заказ"]


def test_the_check_is_part_of_the_queueing_transaction(db: Database, store_url: str, chat_id: int) -> None:
    anna, ivan = _as(store_url, "anna"), _as(store_url, "ivan")
    try:
        team_uc.seen(anna, chat_id)
        team_uc.seen(ivan, chat_id)
        guard = team_uc.send_guard(anna, chat_id)  # Anna's early check has passed...
        assert guard is not None
        outbox.enqueue(ivan, chat_id, "Иван успел первым")  # ...then Ivan's reply lands
        with pytest.raises(team_uc.ReviewNeeded, match="Иван replied"):
            outbox.enqueue_parts(anna, chat_id, [("Анна опоздала", [])], guard=guard)
        assert [m.text for m in views.list_messages(db, chat_id) if m.author == "seller"] == ["Иван успел первым"]
    finally:
        anna.close()
        ivan.close()


def test_two_operators_sending_at_once_never_both_get_through(db: Database, store_url: str, chat_id: int) -> None:
    anna, ivan = _as(store_url, "anna"), _as(store_url, "ivan")
    try:
        for round_ in range(8):
            team_uc.seen(anna, chat_id)
            team_uc.seen(ivan, chat_id)
            start = threading.Barrier(2)
            outcomes: dict[str, str] = {}

            def send(
                who: Database,
                name: str,
                round_: int = round_,
                start: threading.Barrier = start,
                outcomes: dict[str, str] = outcomes,
            ) -> None:
                start.wait()
                try:
                    replies.queue_reply(who, chat_id, f"{name} {round_}")
                    outcomes[name] = "sent"
                except team_uc.ReviewNeeded:
                    outcomes[name] = "review"

            threads = [
                threading.Thread(target=send, args=(anna, "anna")),
                threading.Thread(target=send, args=(ivan, "ivan")),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert sorted(outcomes.values()) == ["review", "sent"], (round_, outcomes)
    finally:
        anna.close()
        ivan.close()


def test_cli_send_of_a_pending_followup_is_still_held_by_a_colleagues_reply(
    db: Database, store_url: str, chat_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team: Иван scheduled a follow-up, Анна answered, then `followup send ID` (no --anyway)
    sent Иван's follow-up over her reply. Without --anyway it is only due now; delivery holds it."""
    from chatdesk.cli import app

    ivan, anna = _as(store_url, "ivan"), _as(store_url, "anna")
    try:
        team_uc.seen(ivan, chat_id)
        fid = followups.schedule(ivan, ALL_DAY, chat_id, datetime.now(UTC) + timedelta(days=3), "FU от Ивана")
        outbox.enqueue(anna, chat_id, "Анна ответила")
    finally:
        ivan.close()
        anna.close()
    monkeypatch.setenv("CHATDESK_DB", store_url)
    monkeypatch.setenv("CHATDESK_OPERATOR", "ivan")
    sent = CliRunner().invoke(app, ["followup", "send", str(fid)])
    assert sent.exit_code == 0, sent.output
    followups.deliver_due(db, ALL_DAY)
    row = store_followups.get(db, fid)
    assert row.state == "held" and "Анна replied" in (row.reason or ""), row
