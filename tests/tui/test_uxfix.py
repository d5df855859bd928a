"""Fresh-user findings (team/ux-findings.md) as Pilot flows: what a seller does, what they see."""

from __future__ import annotations

from datetime import timedelta

from chatdesk.screens.main import MainScreen
from chatdesk.store import views
from tests.tui.conftest import NOW, FakeEngine, make_app, settle


def main(app) -> MainScreen:  # type: ignore[no-untyped-def]
    return next(s for s in app.screen_stack if isinstance(s, MainScreen))


def chat_id(db, ext: str) -> int:  # type: ignore[no-untyped-def]
    return next(c.id for c in views.list_chats(db) if c.external_id == ext)


def status(app) -> str:  # type: ignore[no-untyped-def]
    return str(main(app).query_one("#composer-status").render())


async def test_ozon_composer_counts_down_then_refuses_after_48h(store) -> None:  # type: ignore[no-untyped-def]
    """Finding 1: Борис (Ozon) wrote 200 min before NOW. The composer shows the time left; two
    days later it says the window closed, before anything is typed, and ctrl+j queues nothing."""
    engine = FakeEngine(store)
    app = make_app(store, engine=engine)
    async with app.run_test(size=(110, 34)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "j", "enter")
        await settle(pilot, app)
        assert main(app).composer.chat is not None and main(app).composer.chat.external_id == "oz1"
        assert "window closes in 44 h" in status(app)
        app.clock = lambda: NOW + timedelta(days=2)
        await pilot.press("r", *"Подойдёт")
        await settle(pilot, app)
        shown = status(app)
        assert "blocked" in shown and "reply window closed" in shown and "earlier" not in shown
        before = len(views.list_messages(store, chat_id(store, "oz1")))
        await pilot.press("ctrl+j")
        await settle(pilot, app, 0.3)
        assert len(views.list_messages(store, chat_id(store, "oz1"))) == before
        assert main(app).composer.text == "Подойдёт"  # kept: nothing was lost


async def test_resolve_dialog_shows_texts_warns_and_enter_cancels(store) -> None:  # type: ignore[no-untyped-def]
    """Finding 4: Глеб (WB, first row) wrote last and got no answer. `x` names that, shows each buyer-facing
    text it would schedule, and Enter cancels: nothing is resolved or scheduled."""
    from chatdesk.screens.dialogs import ConfirmDialog
    from chatdesk.store import followups as store_followups

    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        gleb = chat_id(store, "wb2")
        await pilot.press("enter")
        await settle(pilot, app)
        await pilot.press("x")
        await settle(pilot, app, 0.3)
        assert isinstance(app.screen, ConfirmDialog)
        body = " ".join(getattr(w.render(), "plain", str(w.render())) for w in app.screen.query("Static"))
        assert "The buyer is waiting" in body
        assert "check-in:" in body and "Здравствуйте, Глеб!" in body  # the check-in's own words, filled for this chat
        await pilot.press("enter")
        await settle(pilot, app, 0.3)
        assert not isinstance(app.screen, ConfirmDialog)
        assert views.get_chat(store, gleb).resolved_at is None
        assert store_followups.list_followups(store) == []
