"""Issue 13 item 3: with CHATDESK_KEYRING=file and no passphrase in the environment, the TUI asks
once in a dialog before the engine starts (never a terminal prompt from a worker thread); a
wrong passphrase asks again with the reason; Esc refuses to start with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdesk.screens.dialogs import PassphraseDialog
from chatdesk.secrets import KeyringSecrets
from tests.tui.conftest import FakeEngine, make_app, settle

# One engine: the keyring dialog before the engine starts; the store is not involved.
pytestmark = pytest.mark.one_engine("the keyring dialog before the engine starts; the store is not involved")


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytest.importorskip("keyrings.cryptfile")
    monkeypatch.setenv("CHATDESK_KEYRING", "file")
    monkeypatch.delenv("CHATDESK_KEYRING_PASSPHRASE", raising=False)
    setup = KeyringSecrets(tmp_path, interactive=False)
    setup.unlock("правильный пароль")
    setup.set("wb-main", "token-123")
    return tmp_path


def no_getpass(*_a, **_k):  # type: ignore[no-untyped-def]
    raise AssertionError("a terminal prompt was attempted")


async def test_passphrase_is_asked_in_a_dialog_before_the_engine(store, file_keyring, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import getpass

    monkeypatch.setattr(getpass, "getpass", no_getpass)
    engine = FakeEngine(store)
    secrets = KeyringSecrets(file_keyring)
    app = make_app(store, engine=engine, secrets=secrets, home=file_keyring)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        assert isinstance(app.screen, PassphraseDialog)
        assert not engine.started
        await pilot.press(*"неправильный", "enter")
        await settle(pilot, app, 0.3)
        assert isinstance(app.screen, PassphraseDialog)  # asked again, saying why
        assert "wrong passphrase" in " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert not engine.started
        await pilot.press(*"правильный пароль", "enter")
        await settle(pilot, app, 0.3)
        assert not isinstance(app.screen, PassphraseDialog)
        assert engine.started
        assert secrets.get("wb-main") == "token-123"
        import os

        assert "CHATDESK_KEYRING_PASSPHRASE" not in os.environ  # never handed to child processes


async def test_escape_refuses_to_start(store, file_keyring) -> None:  # type: ignore[no-untyped-def]
    engine = FakeEngine(store)
    app = make_app(store, engine=engine, secrets=KeyringSecrets(file_keyring), home=file_keyring)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("escape")
        await settle(pilot, app)
    assert app.return_code == 2
    assert not engine.started
