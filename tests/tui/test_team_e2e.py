"""Issue 15 "Done when", end to end on both engines: operators Анна and Иван, each in their own
TUI (Pilot) on one store. Анна types in a chat and Иван's TUI shows "Анна typing"; Анна sends;
Иван's send into that chat is stopped with Анна's reply named; Иван sends anyway explicitly and
exactly one extra message is queued. The CLI's path (the same use case, ``replies.queue_reply``)
is stopped the same way. Also: a reply built from a suggestion is stopped when the buyer wrote
after the suggestion was made.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatdesk.model import MessageInfo, Page
from chatdesk.screens.dialogs import ReviewChoice
from chatdesk.store import accounts, team, views
from chatdesk.store.db import Database
from chatdesk.store.ingest import apply_page
from chatdesk.usecases import replies
from chatdesk.usecases import team as team_uc
from chatdesk.widgets.header import ChatHeader
from tests.tui.conftest import FakeEngine, at, make_app, seed, settle
from tests.tui.test_app import main


@pytest.fixture
def stores(store_url: str) -> Iterator[tuple[Database, Database]]:
    setup = Database(store_url)
    seed(setup)
    team.add_operator(setup, "anna", "Анна")
    team.add_operator(setup, "ivan", "Иван")
    setup.close()
    anna, ivan = Database(store_url), Database(store_url)
    anna.operator, ivan.operator = "anna", "ivan"
    yield anna, ivan
    anna.close()
    ivan.close()


def _seller(db: Database, chat_id: int) -> list[views.MessageRow]:
    return [m for m in views.list_messages(db, chat_id) if m.author == "seller"]


async def test_one_types_the_other_sees_it_and_is_stopped_by_the_reply(stores: tuple[Database, Database]) -> None:
    anna_db, ivan_db = stores
    anna_engine, ivan_engine = FakeEngine(anna_db), FakeEngine(ivan_db)
    anna_engine.outcome = ivan_engine.outcome = None  # keep the replies queued: we count them
    anna_app = make_app(anna_db, engine=anna_engine)
    ivan_app = make_app(ivan_db, engine=ivan_engine)
    async with ivan_app.run_test(size=(120, 30)) as ivan, anna_app.run_test(size=(120, 30)) as anna:
        await settle(ivan, ivan_app)
        await settle(anna, anna_app)
        iv, an = main(ivan_app), main(anna_app)
        cid = iv.target_id
        assert cid is not None and an.target_id == cid  # both opened the same (first) chat
        assert team.seen_message_id(ivan_db, cid, "ivan")  # Иван has looked at it
        before = len(_seller(ivan_db, cid))

        # Анна types: Иван's TUI shows it, in the header and in the list.
        await anna.press("r", *"Анна: отправили сегодня")
        an.presence_beat()
        await settle(anna, anna_app, 0.2)
        iv.refresh_conversation()
        iv.chat_list.reload()
        await settle(ivan, ivan_app, 0.3)
        assert "Анна typing" in str(iv.query_one(ChatHeader).render())
        assert "✎" in iv.chat_list.rendered_text()

        # Анна sends.
        await anna.press("ctrl+j")
        await settle(anna, anna_app, 0.3)
        assert [m.operator for m in _seller(anna_db, cid)][before:] == ["anna"]

        # The CLI's path (the same use case the TUI uses) is stopped with her reply named...
        with pytest.raises(team_uc.ReviewNeeded, match="Анна replied"):
            replies.queue_reply(ivan_db, cid, "Иван из командной строки")

        # ...and so is Иван's TUI: he types his own answer and sends.
        await ivan.press("r", *"Иван: завтра будет")
        await ivan.press("ctrl+j")
        await settle(ivan, ivan_app, 0.3)
        dialog = ivan_app.screen
        assert isinstance(dialog, ReviewChoice)
        shown = " ".join(str(w.render()) for w in dialog.query("Static"))
        assert "Анна replied" in shown and "review" in shown
        assert "Анна: отправили сегодня" in shown  # the new message itself is shown
        assert len(_seller(ivan_db, cid)) == before + 1  # nothing of his was queued

        # He sends anyway, explicitly: exactly one extra message, in his name.
        await ivan.press("a")
        await settle(ivan, ivan_app, 0.3)
        seller = _seller(ivan_db, cid)
        assert len(seller) == before + 2
        assert [(m.text, m.operator) for m in seller[before:]] == [
            ("Анна: отправили сегодня", "anna"),
            ("Иван: завтра будет", "ivan"),
        ]


@pytest.fixture
def solo_store(store_url: str) -> Iterator[Database]:
    db = Database(store_url)  # both engines
    seed(db)
    yield db
    db.close()


async def test_a_reply_from_a_suggestion_is_stopped_when_the_buyer_wrote_after_it(solo_store: Database) -> None:
    engine = FakeEngine(solo_store)
    engine.outcome = None
    app = make_app(solo_store, engine=engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app)
        scr = main(app)
        chat = scr.composer.chat
        assert chat is not None
        question = max(m.id for m in views.list_messages(solo_store, chat.id) if m.author == "buyer")
        await pilot.press("r")
        scr._insert(chat, True, "Уже едет, будет завтра", question)  # what picking a suggestion does
        await settle(pilot, app, 0.2)
        assert scr.composer.basis == question
        account = accounts.get_account_by_id(solo_store, chat.account_id)
        apply_page(
            solo_store,
            account.id,
            "chats",
            Page(messages=(MessageInfo(chat.external_id, "later", "buyer", "Отмените заказ", at(1)),)),
        )
        scr.refresh_conversation()
        await settle(pilot, app, 0.3)
        await pilot.press("ctrl+j")
        await settle(pilot, app, 0.3)
        assert isinstance(app.screen, ReviewChoice)  # the suggestion answered the old question
        await pilot.press("enter")  # cancel: review
        await settle(pilot, app, 0.2)
        assert scr.composer.text == "Уже едет, будет завтра" and scr.composer.basis is None
        assert "Уже едет, будет завтра" not in [m.text for m in views.list_messages(solo_store, chat.id)]
        await pilot.press("ctrl+j")  # reviewed: now it goes
        await settle(pilot, app, 0.3)
        assert [m.text for m in views.list_messages(solo_store, chat.id)].count("Уже едет, будет завтра") == 1


def test_the_list_hint_names_the_team_filters_as_remapped() -> None:
    from chatdesk.keymap import list_hint

    assert list_hint({}, team=False) == "1-4 U w o /"
    assert list_hint({}, team=True) == "1-4 U w o / m b"
    assert list_hint({"filter_mine": "M,ctrl+m", "filter_all": "0"}, team=True) == "0 2 3 4 U w o / M b"


async def test_team_mode_shows_m_and_b_under_the_chat_list(stores: tuple[Database, Database]) -> None:
    anna_db, _ = stores
    app = make_app(anna_db, engine=FakeEngine(anna_db))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        pane = main(app).query_one("#list-pane")
        assert str(pane.border_subtitle) == "1-4 U w o / m b"
        await pilot.press("m")
        await settle(pilot, app, 0.2)
        assert "mine" in str(pane.border_title)


async def test_followups_screen_shows_a_held_one_and_sends_it_anyway_only_with_a(
    stores: tuple[Database, Database],
) -> None:
    from datetime import UTC, datetime, timedelta

    from chatdesk.config import Config
    from chatdesk.screens.dialogs import ConfirmDialog
    from chatdesk.screens.followups import FollowUpsScreen
    from chatdesk.store import followups as store_followups
    from chatdesk.store import outbox
    from chatdesk.usecases import followups

    anna_db, ivan_db = stores
    all_day = Config(sending_window=("00:00", "23:59"), timezone="UTC")
    cid = views.list_chats(anna_db)[0].id
    team_uc.seen(anna_db, cid)
    fid = followups.schedule(anna_db, all_day, cid, datetime.now(UTC) + timedelta(days=1), "Как вам товар?")
    store_followups.send_now(anna_db, fid)
    outbox.enqueue(ivan_db, cid, "Иван уже ответил")
    followups.deliver_due(anna_db, all_day)  # the daemon's round: held
    assert store_followups.get(anna_db, fid).state == "held"

    engine = FakeEngine(anna_db)
    app = make_app(anna_db, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("p")
        await settle(pilot, app, 0.2)
        screen = app.screen
        assert isinstance(screen, FollowUpsScreen) and [r.state for r in screen.rows] == ["held"]
        title = str(screen.query_one("#fu-title").render())
        detail = str(screen.query_one("#fu-detail").render())
        assert "1 held for review" in title
        assert "held: Иван replied at" in detail and "— review" in detail
        await pilot.press("S")
        await settle(pilot, app)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")  # not the key: only `a` sends anyway
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert store_followups.get(anna_db, fid).state == "held"
        await pilot.press("S")
        await settle(pilot, app)
        await pilot.press("a")
        await settle(pilot, app, 0.2)
        assert store_followups.get(anna_db, fid).state == "pending"
    followups.deliver_due(anna_db, all_day)
    row = store_followups.get(anna_db, fid)
    assert row.state == "sending" and row.message_id is not None
    assert [m.operator for m in views.list_messages(anna_db, cid) if m.id == row.message_id] == ["anna"]
