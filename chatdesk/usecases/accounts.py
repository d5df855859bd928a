"""Blocking one-shot operations on an account, shared by the CLI and the TUI's thread workers:
add/test/remove an account, download an attachment, set a marketplace's read marker.

Each runs its own short event loop, so callers must be off the UI loop (CLI, or
``@work(thread=True)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from chatdesk.connectors import REQUIRED_SETTINGS, connector_class
from chatdesk.connectors.base import (
    AccountConfig,
    Attachment,
    ChatRef,
    Connector,
    ConnectorError,
    redact,
    transport_words,
)
from chatdesk.errors import ChatdeskError, UsageError
from chatdesk.ratelimit import RateLimiter
from chatdesk.secrets import SecretStore
from chatdesk.store import accounts as store_accounts
from chatdesk.store import views
from chatdesk.store.accounts import AccountRow
from chatdesk.store.db import Database
from chatdesk.sync import ClientFactory, default_client, log_unexpected

ACCOUNT_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def check_base_url(url: str, *, allow_http: bool = False) -> str:
    """A base URL must be http(s); plain http only to loopback unless explicitly allowed.

    A user name or password in it (``https://user:pass@proxy/``) is refused: it would be
    stored in the database and shown by ``account list`` in clear, and secrets belong in the
    keyring only. Errors never repeat the URL's userinfo. Raises UsageError."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
        has_userinfo = "@" in parts.netloc or parts.username is not None or parts.password is not None
    except ValueError:
        raise UsageError(f"base URL must be http(s)://host[:port][/path], not {display_base_url(text)!r}") from None
    if has_userinfo:
        raise UsageError(
            "base URL must not contain a user name or password (user:password@); "
            "chatdesk keeps secrets only in the keyring: use a proxy that needs no credentials in the URL"
        )
    if parts.scheme not in ("http", "https") or not hostname:
        raise UsageError(f"base URL must be http(s)://host[:port][/path], not {display_base_url(text)!r}")
    if parts.scheme == "http" and not allow_http:
        host = hostname
        loopback = host == "localhost"
        with contextlib.suppress(ValueError):
            loopback = loopback or ipaddress.ip_address(host).is_loopback
        if not loopback:
            raise UsageError(
                "plain http is only allowed to loopback (127.0.0.1, ::1, localhost); "
                "use https, or pass --allow-http if you really mean it"
            )
    return text.rstrip("/")


def display_base_url(url: str | None) -> str | None:
    """``url`` fit to show or export: any ``user:password@`` replaced by ``***@`` (rows saved
    before such URLs were refused), bounded to 200 characters."""
    if url is None:
        return None
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    shown = f"{scheme}{sep}{authority}{slash}{path}"
    return shown[:200]


def add_account(
    db: Database,
    secrets: SecretStore,
    marketplace: str,
    name: str,
    secret: str,
    *,
    base_url: str | None = None,
    settings: dict[str, str] | None = None,
    allow_http: bool = False,
    poll_interval: int | None = None,
) -> AccountRow:
    connector_class(marketplace)  # unknown marketplace -> UsageError
    if not name or not set(name.lower()) <= ACCOUNT_NAME_CHARS or len(name) > 64:
        raise UsageError("account name: 1-64 characters of letters, digits, '-', '_' or '.'")
    secret = secret.strip()
    if not secret:
        raise UsageError("the secret (API token) is empty")
    settings = {k: v for k, v in (settings or {}).items() if v}
    for key in REQUIRED_SETTINGS[marketplace]:
        if not settings.get(key):
            raise UsageError(f"{marketplace} needs --{key.replace('_', '-')}")
    if allow_http:
        settings["allow_http"] = "1"
    if base_url:
        base_url = check_base_url(base_url, allow_http=allow_http)
    row = store_accounts.add_account(
        db, name, marketplace, base_url=base_url, settings=settings, poll_interval=poll_interval
    )
    try:
        secrets.set(name, secret)
    except ChatdeskError:
        store_accounts.remove_account(db, name)  # no account without its secret
        raise
    return row


def remove_account(db: Database, secrets: SecretStore, name: str) -> None:
    store_accounts.get_account(db, name)
    store_accounts.remove_account(db, name)
    secrets.delete(name)


async def _with_connector(account: AccountRow, secrets: SecretStore, client_factory: ClientFactory | None, fn):  # type: ignore[no-untyped-def]
    secret = secrets.get(account.name)
    client = (client_factory or default_client)(account)
    cfg = AccountConfig(account.name, account.marketplace, secret, account.base_url, account.settings)
    connector: Connector = connector_class(account.marketplace)(cfg, client, RateLimiter())
    try:
        return await fn(connector)
    except ConnectorError as exc:
        raise ChatdeskError(redact(exc.message, secret)) from None
    except httpx.TransportError as exc:
        raise ChatdeskError(redact(f"cannot reach {account.marketplace}: {transport_words(exc)}", secret)) from None
    except httpx.HTTPError as exc:
        raise ChatdeskError(redact(f"HTTP error: {exc}", secret)) from None
    except Exception as exc:  # a bug: the CLI's crash log would keep the token-bearing text
        log_unexpected(f"unexpected error on account {account.name}", secret)
        raise ChatdeskError(redact(f"unexpected error (details in the log): {exc}", secret)) from None
    finally:
        await client.aclose()


def test_account(db: Database, secrets: SecretStore, name: str, client_factory: ClientFactory | None = None) -> str:
    account = store_accounts.get_account(db, name)

    async def run(c: Connector) -> str:
        return await c.test()

    return asyncio.run(_with_connector(account, secrets, client_factory, run))


def _chat_ref(db: Database, chat_id: int) -> tuple[AccountRow, ChatRef]:
    chat = views.get_chat(db, chat_id)
    if chat is None:
        raise UsageError(f"no chat with id {chat_id}")
    account = store_accounts.get_account_by_id(db, chat.account_id)
    ref = ChatRef(
        external_id=chat.external_id,
        kind=chat.kind,  # type: ignore[arg-type]
        reply_token=chat.reply_token,
        status=chat.status,
        last_buyer_message_id=chat.last_buyer_message_id,
    )
    return account, ref


def download_attachment(  # type: ignore[no-untyped-def]
    db: Database,
    secrets: SecretStore,
    chat_id: int,
    attachment: Attachment,
    folder: Path,
    client_factory: ClientFactory | None = None,
):
    """Moved to :func:`chatdesk.usecases.attachments.download_attachment` (bounded, streamed)."""
    from chatdesk.usecases import attachments

    return attachments.download_attachment(db, secrets, chat_id, attachment, folder, client_factory)


def unique_path(folder: Path, name: str) -> Path:
    """Moved to :func:`chatdesk.usecases.attachments.unique_path` (fits byte limits)."""
    from chatdesk.usecases import attachments

    return attachments.unique_path(folder, name)


def mark_read_remote(
    db: Database, secrets: SecretStore, chat_id: int, client_factory: ClientFactory | None = None
) -> None:
    """Set the marketplace's own read marker up to the newest buyer message (explicit action only)."""
    account, ref = _chat_ref(db, chat_id)
    if not ref.last_buyer_message_id:
        return

    async def run(c: Connector) -> None:
        await c.mark_read(ref, ref.last_buyer_message_id or "")

    asyncio.run(_with_connector(account, secrets, client_factory, run))
