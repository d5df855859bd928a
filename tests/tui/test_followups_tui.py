"""Pilot tests of the follow-up flows: schedule from a chat (with the live preview and rule
warnings), see it marked in the list, edit, cancel, send now, resolve, and templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual.geometry import Region
from textual.widgets import Input, TextArea

from chatdesk.config import Config
from chatdesk.screens.dialogs import ConfirmDialog
from chatdesk.screens.followups import FollowUpsScreen
from chatdesk.screens.main import MainScreen
from chatdesk.screens.schedule import ScheduleDialog
from chatdesk.screens.templates import TemplatePicker
from chatdesk.store import followups as store_followups
from chatdesk.store import views
from tests.tui.conftest import NOW, FakeEngine, make_app, settle

CFG = Config(timezone="UTC", mark_read_delay=5, bell=False, seller_name="Уют")


def chat_id(db, ext: str) -> int:  # type: ignore[no-untyped-def]
    return next(c.id for c in views.list_chats(db) if c.external_id == ext)


async def open_wb1(pilot, app) -> MainScreen:  # type: ignore[no-untyped-def]
    await settle(pilot, app)
    await pilot.press("j", "enter")
    await settle(pilot, app)
    assert isinstance(app.screen, MainScreen)
    return app.screen


async def schedule(pilot, app, when: str, text: str) -> ScheduleDialog:  # type: ignore[no-untyped-def]
    await pilot.press("f")
    await settle(pilot, app)
    dialog = app.screen
    assert isinstance(dialog, ScheduleDialog)
    dialog.query_one("#sched-when", Input).value = when
    dialog.query_one("#sched-text", TextArea).load_text(text)
    await settle(pilot, app)
    return dialog


async def test_schedule_marks_the_list_and_lands_in_the_store(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store, config=CFG, home=tmp_path)
    async with app.run_test(size=(110, 34)) as pilot:
        scr = await open_wb1(pilot, app)
        dialog = await schedule(pilot, app, "2d", "Анна, как вам заказ?")
        info = str(dialog.query_one("#sched-when-info").render())
        assert "Thu 12 Mar 12:00" in info and "in 2d" in info
        assert "Анна, как вам заказ?" in str(dialog.query_one("#sched-preview").render())
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        (row,) = store_followups.list_followups(store)
        assert row.chat_id == chat_id(store, "wb1") and row.due_at == NOW + timedelta(days=2)
        assert row.text == "Анна, как вам заказ?" and row.state == "pending"
        await settle(pilot, app, 0.2)
        assert "⚑" in scr.chat_list.rendered_text().splitlines()[2]  # Анна's row is marked


async def test_typed_time_outside_the_window_moves_to_the_next_allowed_minute(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store, config=CFG, home=tmp_path)
    async with app.run_test(size=(110, 34)) as pilot:
        await open_wb1(pilot, app)
        dialog = await schedule(pilot, app, "tomorrow 23:30", "Добрый вечер!")
        assert "moved into the sending window" in str(dialog.query_one("#sched-when-info").render())
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        (row,) = store_followups.list_followups(store)
        assert row.due_at == NOW.replace(hour=9) + timedelta(days=2)


async def test_warnings_show_and_need_confirmation_hard_limits_block(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store, config=CFG, home=tmp_path)
    async with app.run_test(size=(110, 34)) as pilot:
        await open_wb1(pilot, app)
        dialog = await schedule(pilot, app, "3d", "Звоните +7 999 123-45-67")
        assert "warning" in str(dialog.query_one("#sched-findings").render())
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot, app)
        (row,) = store_followups.list_followups(store)
        assert row.text.startswith("Звоните")
        await pilot.press("f")
        await settle(pilot, app)
        app.screen.query_one("#sched-text", TextArea).load_text("я" * 1001)
        await settle(pilot, app)
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert isinstance(app.screen, ScheduleDialog)  # blocked: still open
        assert len(store_followups.list_followups(store)) == 1


async def test_followups_screen_edit_cancel_send_now(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    app = make_app(store, config=CFG, home=tmp_path, engine=engine)
    cid = chat_id(store, "wb1")
    first = store_followups.add(store, cid, NOW + timedelta(days=3), "Первый")
    second = store_followups.add(store, cid, NOW + timedelta(days=7), "Второй")
    async with app.run_test(size=(110, 34)) as pilot:
        await settle(pilot, app)
        await pilot.press("p")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, FollowUpsScreen) and [r.id for r in screen.rows] == [first, second]
        await pilot.press("e")
        await settle(pilot, app)
        dialog = app.screen
        assert isinstance(dialog, ScheduleDialog)
        assert dialog.query_one("#sched-text", TextArea).text == "Первый"
        dialog.query_one("#sched-text", TextArea).load_text("Первый, исправленный")
        await settle(pilot, app)
        await pilot.press("ctrl+s")
        await settle(pilot, app, 0.1)
        assert store_followups.get(store, first).text == "Первый, исправленный"
        await pilot.press("j", "c")
        await settle(pilot, app)
        await pilot.press("y")
        await settle(pilot, app, 0.1)
        assert store_followups.get(store, second).state == "cancelled"
        await pilot.press("g", "S")
        await settle(pilot, app)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")  # Enter cancels a buyer-facing action
        await settle(pilot, app)
        assert store_followups.get(store, first).due_at == NOW + timedelta(days=3)  # unchanged
        await pilot.press("S")
        await settle(pilot, app)
        await pilot.press("y")
        await settle(pilot, app, 0.1)
        assert store_followups.get(store, first).due_at <= datetime.now(UTC)  # due now (the real clock)
        assert engine.followups_kicked == 1
        await pilot.press("h")
        await settle(pilot, app)
        assert {r.state for r in screen.rows} == {"pending", "cancelled"}
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, MainScreen) and app.screen.conversation.chat.id == cid


async def test_resolve_schedules_by_rules(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store, config=CFG, home=tmp_path)
    async with app.run_test(size=(110, 34)) as pilot:
        await open_wb1(pilot, app)
        await pilot.press("x")
        await settle(pilot, app)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot, app, 0.1)
        rows = store_followups.list_followups(store)
        assert sorted(r.rule for r in rows) == ["check-in", "cross-sell"]  # restock: not a consumable
        assert all("{" not in r.text for r in rows)
        assert views.get_chat(store, chat_id(store, "wb1")).resolved_at is not None


async def test_template_picker_fills_the_composer(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store, config=CFG, home=tmp_path)
    async with app.run_test(size=(110, 34)) as pilot:
        scr = await open_wb1(pilot, app)
        await pilot.press("r")
        await settle(pilot, app)
        await pilot.press("ctrl+t")
        await settle(pilot, app)
        assert isinstance(app.screen, TemplatePicker)
        await pilot.press(*"checkin")
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, MainScreen)
        text = scr.composer.text
        assert text.startswith("Здравствуйте, Анна!") and "{" not in text


async def test_ozon_window_is_said_when_scheduling(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 13 item 8: Ozon accepts seller messages only within 48 h of the buyer's last
    message; a follow-up later than that is refused at scheduling time, saying why."""
    app = make_app(store, config=CFG, home=tmp_path)
    async with app.run_test(size=(110, 34)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "j", "enter")  # Борис, Ozon, wrote 200 min ago
        await settle(pilot, app)
        dialog = await schedule(pilot, app, "3d", "Как вам размер?")
        info = str(dialog.query_one("#sched-when-info").render())
        assert "the reply window closes in" in info and "48 h" in info and "last moment" in info
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert isinstance(app.screen, ScheduleDialog)  # refused
        assert store_followups.list_followups(store) == []
        dialog.query_one("#sched-when", Input).value = "1d"
        await settle(pilot, app)
        await pilot.press("ctrl+s")
        await settle(pilot, app, 0.1)
        (row,) = store_followups.list_followups(store)
        assert row.due_at == NOW + timedelta(days=1)


async def test_resolve_in_ozon_skips_what_cannot_fire_and_says_why(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(store, config=CFG, home=tmp_path)
    async with app.run_test(size=(110, 34)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "j", "enter", "x")
        await settle(pilot, app)
        assert isinstance(app.screen, ConfirmDialog)
        body = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "check-in: not scheduled — Ozon accepts messages only within 48 h" in body
        assert "restock: not scheduled — no consumables configured" in body  # no restock promise
        await pilot.press("y")
        await settle(pilot, app, 0.1)
        assert store_followups.list_followups(store) == []
        assert views.get_chat(store, chat_id(store, "oz1")).resolved_at is not None


async def test_schedule_dialog_fits_80x24_typing_and_ctrl_s_work(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """UX report 29a: at 80x24 the dialog (Ozon chat, default 3d past the window) was cut after the
    preview: the block reason, the keys line and typed text were off-screen."""
    app = make_app(store, config=CFG, home=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "j", "enter")  # Борис, Ozon: 3d is past its 48 h window
        await settle(pilot, app)
        await pilot.press("f")
        await settle(pilot, app)
        dialog = app.screen
        assert isinstance(dialog, ScheduleDialog)
        screen = Region(0, 0, 80, 24)

        def on_screen(selector: str) -> bool:
            region = dialog.query_one(selector).region
            return region.height >= 1 and screen.contains_region(region)

        assert on_screen(".dialog-keys") and on_screen("#sched-when-info")
        await pilot.press(*"hello")
        await settle(pilot, app)
        area = dialog.query_one("#sched-text", TextArea)
        assert area.text == "hello" and on_screen("#sched-text")
        await pilot.press("ctrl+s")  # refused: past the window, said on screen
        await settle(pilot, app)
        assert isinstance(app.screen, ScheduleDialog) and on_screen(".dialog-keys")
        dialog.query_one("#sched-when", Input).value = "1d"
        await settle(pilot, app)
        await pilot.press("ctrl+s")
        await settle(pilot, app, 0.1)
        (row,) = store_followups.list_followups(store)
        assert row.text == "hello" and row.state == "pending"


async def test_schedule_dialog_warns_once_that_the_buyer_is_waiting(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """fuanswer item 1: a follow-up is not an answer; Анна's question is open (◷)."""
    app = make_app(store, config=CFG, home=tmp_path)
    async with app.run_test(size=(110, 34)) as pilot:
        await open_wb1(pilot, app)
        dialog = await schedule(pilot, app, "2d", "Анна, как вам заказ?")
        (line,) = dialog.query("#sched-waiting")
        assert str(line.render()) == "⚠ the buyer is waiting for an answer; a follow-up does not answer them"
        assert views.get_chat(store, chat_id(store, "wb1")).waiting
