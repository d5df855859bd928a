"""API tokens live only in the OS keyring, under service ``chatdesk`` and the account name.

The backend is the keyring library's choice, overridable with the standard
``PYTHON_KEYRING_BACKEND``. On a headless server without a Secret Service, set
``CHATDESK_KEYRING=file``: an encrypted file keyring (keyrings.cryptfile, Argon2 + AES) in the
data dir, unlocked by ``CHATDESK_KEYRING_PASSPHRASE`` or a prompt. There is never a plain-text
fallback: without a usable backend chatdesk stops and says what to do.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Protocol

from chatdesk.errors import SecretsError

SERVICE = "chatdesk"

NO_KEYRING_HELP = (
    "no usable keyring on this machine (no Secret Service/Keychain). Either run chatdesk in a desktop "
    "session, or use the encrypted file keyring: export CHATDESK_KEYRING=file and "
    "CHATDESK_KEYRING_PASSPHRASE=<a passphrase> (or let chatdesk prompt for it)"
)


class SecretStore(Protocol):
    def get(self, account: str) -> str: ...
    def set(self, account: str, secret: str) -> None: ...
    def delete(self, account: str) -> None: ...


class MemorySecrets:
    """Secrets kept in memory only: the demo's fake sandbox tokens, and tests."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def get(self, account: str) -> str:
        try:
            return self.values[account]
        except KeyError:
            raise SecretsError(f"no secret stored for account {account!r}") from None

    def set(self, account: str, secret: str) -> None:
        self.values[account] = secret

    def delete(self, account: str) -> None:
        self.values.pop(account, None)


class KeyringSecrets:
    """The real store. The backend is resolved lazily, on first use, off the UI loop."""

    def __init__(self, data_dir: Path | None = None, *, interactive: bool = True) -> None:
        self.data_dir = data_dir
        self._backend = None
        # The file keyring's passphrase when a UI asked for it (never put in the environment,
        # which child processes inherit); ``interactive=False``: never prompt on the terminal
        # (the TUI asks in a dialog before any worker needs the keyring).
        self.passphrase: str | None = None
        self.interactive = interactive

    def needs_passphrase(self) -> bool:
        """True when the encrypted file keyring is chosen and nothing has unlocked it yet."""
        return (
            os.environ.get("CHATDESK_KEYRING", "").lower() == "file"
            and not os.environ.get("CHATDESK_KEYRING_PASSPHRASE")
            and self.passphrase is None
            and self._backend is None
        )

    def unlock(self, passphrase: str) -> None:
        """Open the file keyring with ``passphrase`` (blocking: call it off the UI loop).
        Raises ``SecretsError`` when it is wrong; then nothing is kept."""
        self.passphrase = passphrase
        self._backend = None
        try:
            self._keyring()
        except SecretsError:
            self.passphrase = None
            raise

    def _keyring(self):  # type: ignore[no-untyped-def]
        if self._backend is not None:
            return self._backend
        import keyring
        from keyring.backends import fail

        if os.environ.get("CHATDESK_KEYRING", "").lower() == "file":
            self._backend = self._file_keyring()
            return self._backend
        try:
            backend = keyring.get_keyring()
        except Exception as exc:  # a misconfigured PYTHON_KEYRING_BACKEND
            raise SecretsError(f"cannot load the keyring backend: {exc}") from None
        name = type(backend).__module__ + "." + type(backend).__name__
        if "cryptfile" in name.lower():  # chosen by PYTHON_KEYRING_BACKEND: unlock it our way
            self._backend = self._file_keyring()
            return self._backend
        if "chainer" in name.lower():
            # The chainer would also try the encrypted file keyring, which asks for its
            # passphrase on the terminal at an unpredictable moment (inside the TUI, or with
            # the token piped on stdin). That one is only used when asked for by name.
            usable = [b for b in getattr(backend, "backends", []) if "cryptfile" not in type(b).__module__]
            if not usable:
                raise SecretsError(NO_KEYRING_HELP)
            backend = usable[0]
            name = type(backend).__module__ + "." + type(backend).__name__
        if isinstance(backend, fail.Keyring) or "null" in name.lower() or "plaintext" in name.lower():
            raise SecretsError(NO_KEYRING_HELP)
        self._backend = backend
        return backend

    def _file_keyring(self):  # type: ignore[no-untyped-def]
        from keyrings.cryptfile.cryptfile import CryptFileKeyring

        from chatdesk.paths import data_dir, ensure_private_dir

        folder = ensure_private_dir(self.data_dir or data_dir())
        kr = CryptFileKeyring()
        kr.file_path = str(folder / "keyring.cfg")
        passphrase = self.passphrase or os.environ.get("CHATDESK_KEYRING_PASSPHRASE")
        if not passphrase:
            if not self.interactive or not sys.stdin.isatty():
                raise SecretsError(
                    "the file keyring is locked: set CHATDESK_KEYRING_PASSPHRASE or run in a terminal to be asked"
                )
            passphrase = getpass.getpass("chatdesk keyring passphrase: ")
        try:
            kr.keyring_key = passphrase  # an existing file is checked here (MAC)
        except ValueError:
            raise SecretsError("wrong passphrase for the file keyring") from None
        return kr

    def get(self, account: str) -> str:
        try:
            value = self._keyring().get_password(SERVICE, account)
        except SecretsError:
            raise
        except Exception:
            raise SecretsError("cannot read the keyring: it is locked or unavailable") from None
        if not value:
            raise SecretsError(
                f"no secret in the keyring for account {account!r}; add it again with: chatdesk account add"
            )
        return value

    def set(self, account: str, secret: str) -> None:
        try:
            keyring = self._keyring()
            keyring.set_password(SERVICE, account, secret)
            stored = keyring.get_password(SERVICE, account)
        except SecretsError:
            raise
        except Exception:
            raise SecretsError("cannot write the keyring: it is locked or unavailable") from None
        if stored != secret:  # a backend that accepts and forgets must not pass for storage
            raise SecretsError(NO_KEYRING_HELP)
        if os.environ.get("CHATDESK_KEYRING", "").lower() == "file" and self.data_dir:
            path = self.data_dir / "keyring.cfg"
            if path.exists():
                os.chmod(path, 0o600)

    def delete(self, account: str) -> None:
        try:
            self._keyring().delete_password(SERVICE, account)
        except SecretsError:
            raise
        except Exception:
            pass  # already gone
