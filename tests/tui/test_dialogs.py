"""Issue 13 item 13 and issue 12's TUI item: Enter never confirms a destructive or buyer-facing
action, and R on an unconfirmed ("unknown") reply asks first, offering "it arrived" (C)."""

from __future__ import annotations

from chatdesk.screens.dialogs import ChoiceDialog, ConfirmDialog
from chatdesk.screens.main import MainScreen
from chatdesk.store import outbox, views
from tests.tui.conftest import FakeEngine, make_app, settle


def chat_id(db, ext: str) -> int:  # type: ignore[no-untyped-def]
    return next(c.id for c in views.list_chats(db) if c.external_id == ext)


async def test_enter_cancels_send_anyway(store) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    engine.outcome = None
    app = make_app(store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("r")
        app.screen.composer.input.insert("пишите в telegram @shop")
        await pilot.press("ctrl+j")
        await settle(pilot, app)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, MainScreen)
        assert views.list_messages(store, chat_id(store, "wb2"))[-1].author == "buyer"  # not sent
        await pilot.press("ctrl+j")
        await settle(pilot, app)
        await pilot.press("y")
        await settle(pilot, app)
        assert views.list_messages(store, chat_id(store, "wb2"))[-1].author == "seller"


async def test_enter_cancels_account_removal(store) -> None:  # type: ignore[no-untyped-def]
    from chatdesk.secrets import MemorySecrets

    app = make_app(store, secrets=MemorySecrets())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("a")
        await settle(pilot, app)
        await pilot.press("d")
        await settle(pilot, app)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        await settle(pilot, app, 0.2)
        assert len(app.screen.accounts) == 3


async def unknown_reply(store, pilot, app) -> int:  # type: ignore[no-untyped-def]
    cid = chat_id(store, "wb2")
    mid = outbox.enqueue(store, cid, "Отправили вам замену")
    account = views.get_chat(store, cid).account_id
    for job in outbox.claim_due(store, account, "test"):
        outbox.mark_unknown(store, job, "the connection broke off")
    app.reload_views()
    await settle(pilot, app, 0.2)
    await pilot.press("enter")  # open Глеб's chat; the conversation has focus
    await settle(pilot, app)
    return mid


async def test_retry_of_an_unknown_reply_asks_first(store) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    engine.outcome = None
    app = make_app(store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        mid = await unknown_reply(store, pilot, app)
        await pilot.press("R")
        await settle(pilot, app)
        assert isinstance(app.screen, ChoiceDialog)
        await pilot.press("enter")  # cancels
        await settle(pilot, app)
        assert outbox.message_state(store, mid)[0] == "unknown"
        await pilot.press("R")
        await settle(pilot, app)
        await pilot.press("C")  # it arrived
        await settle(pilot, app)
        assert outbox.message_state(store, mid)[0] == "sent"


async def test_retry_of_an_unknown_reply_can_send_again(store) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    engine.outcome = None
    app = make_app(store, engine=engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        mid = await unknown_reply(store, pilot, app)
        await pilot.press("R")
        await settle(pilot, app)
        await pilot.press("R")
        await settle(pilot, app)
        assert outbox.message_state(store, mid)[0] == "queued"


async def test_attach_prompt_starts_empty_and_completes_paths(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from chatdesk.screens.dialogs import PromptDialog, complete_path

    (tmp_path / "чек-март.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "папка").mkdir()
    assert complete_path(f"{tmp_path}/че") == f"{tmp_path}/чек-март.png"
    assert complete_path(f"{tmp_path}/па") == f"{tmp_path}/папка/"
    assert complete_path(f"{tmp_path}/нет") is None
    app = make_app(store)
    async with app.run_test(size=(110, 34)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "enter", "r", "ctrl+o")
        await settle(pilot, app)
        assert isinstance(app.screen, PromptDialog)
        field = app.screen.query_one("#prompt-input")
        assert field.value == ""  # no "~/" to turn an absolute path into "~//tmp/…"
        await pilot.press(*f"{tmp_path}/че")
        await settle(pilot, app, 0.3)
        await pilot.press("right")  # accept the completion
        assert field.value == f"{tmp_path}/чек-март.png"


async def test_copy_and_pipe_the_message_text(store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sys

    app = make_app(store)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
    out = tmp_path / "piped.txt"
    async with app.run_test(size=(110, 34)) as pilot:
        await settle(pilot, app)
        await pilot.press("j", "enter")  # Анна; the conversation has focus
        await settle(pilot, app)
        await pilot.press("k", "k", "Y")  # the first k selects the newest message
        assert copied == ["Добрый день, уже едет"]
        await pilot.press("vertical_line")
        await settle(pilot, app)
        script = f"{sys.executable} -c \"import sys; open('{out}', 'w').write(sys.stdin.read())\""
        app.screen.query_one("#prompt-input").value = script
        await pilot.press("enter")
        await settle(pilot, app, 0.3)
        assert out.read_text(encoding="utf-8") == "Добрый день, уже едет"
