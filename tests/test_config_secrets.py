"""Config parsing errors are one clear line; secrets go only to the (encrypted file) keyring."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdesk.config import Config, load_config
from chatdesk.errors import SecretsError, UsageError
from chatdesk.secrets import KeyringSecrets


def test_missing_config_is_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "none.toml") == Config()


def test_config_values_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('poll_interval = 30\nnotify_command = ["notify-send", "x"]\n[keymap]\nreply = "r"\n')
    cfg = load_config(path)
    assert cfg.poll_interval == 30 and cfg.notify_command == ("notify-send", "x") and cfg.keymap == {"reply": "r"}
    for bad, words in [
        ("poll_interval = 'soon'", "poll_interval must be"),
        ("nope = 1", "unknown setting 'nope'"),
        ("poll_interval = [", "not valid TOML"),
        ('timezone = "Mars/Olympus"', "bad timezone"),
        ('sending_window = ["21:00", "09:00"]', "must start before"),
    ]:
        path.write_text(bad)
        with pytest.raises(UsageError, match=words):
            load_config(path)


def test_file_keyring_roundtrip_is_encrypted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = KeyringSecrets(tmp_path)
    secrets.set("wb-main", "super-secret-token-123")
    assert KeyringSecrets(tmp_path).get("wb-main") == "super-secret-token-123"
    stored = (tmp_path / "keyring.cfg").read_bytes()
    assert b"super-secret-token-123" not in stored
    assert (tmp_path / "keyring.cfg").stat().st_mode & 0o777 == 0o600
    secrets.delete("wb-main")
    with pytest.raises(SecretsError, match="no secret"):
        KeyringSecrets(tmp_path).get("wb-main")


def test_no_usable_keyring_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHATDESK_KEYRING")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    with pytest.raises(SecretsError, match="CHATDESK_KEYRING=file"):
        KeyringSecrets(tmp_path).set("x", "y")


def test_locked_file_keyring_without_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHATDESK_KEYRING_PASSPHRASE")
    with pytest.raises(SecretsError, match="CHATDESK_KEYRING_PASSPHRASE"):
        KeyringSecrets(tmp_path).get("x")


def test_a_keyring_that_forgets_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """keyring's chainer with no backends (a server without a Secret Service) accepts a
    password and drops it; chatdesk must say so instead of adding an account with no token."""
    monkeypatch.delenv("CHATDESK_KEYRING")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.chainer.ChainerBackend")
    import keyring.backends.chainer as chainer

    monkeypatch.setattr(chainer.ChainerBackend, "backends", property(lambda self: []))
    with pytest.raises(SecretsError, match="CHATDESK_KEYRING=file"):
        KeyringSecrets(tmp_path).set("x", "y")


def test_the_chainer_never_falls_through_to_a_prompting_file_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The encrypted file keyring registers itself with keyring's chainer and would ask for a
    passphrase on the terminal (inside the TUI, or with the token piped): only by name."""
    from keyrings.cryptfile.cryptfile import CryptFileKeyring

    monkeypatch.delenv("CHATDESK_KEYRING")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.chainer.ChainerBackend")
    import keyring.backends.chainer as chainer

    monkeypatch.setattr(chainer.ChainerBackend, "backends", property(lambda self: [CryptFileKeyring()]))
    with pytest.raises(SecretsError, match="CHATDESK_KEYRING=file"):
        KeyringSecrets(tmp_path).set("x", "y")
