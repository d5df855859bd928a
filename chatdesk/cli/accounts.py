"""`chatdesk account add|list|remove|test`."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from chatdesk.cli.common import (
    account_app,
    get_ctx,
    iso,
    local_time,
    print_json,
    print_table,
)
from chatdesk.errors import UsageError


def _read_secret(label: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"{label}: ")
    line = sys.stdin.readline()
    return line.strip()


@account_app.command("add")
def account_add(
    ctx: typer.Context,
    marketplace: Annotated[str, typer.Argument(help="wildberries | ozon | yandex")],
    name: Annotated[str, typer.Argument(help="Your name for this account, e.g. 'wb-main'.")],
    base_url: Annotated[str | None, typer.Option(help="Replace the marketplace's hosts (sandbox, proxy).")] = None,
    client_id: Annotated[str | None, typer.Option(help="Ozon Client-Id.")] = None,
    business_id: Annotated[str | None, typer.Option(help="Yandex Market business id.")] = None,
    allow_http: Annotated[bool, typer.Option(help="Allow plain http to a non-loopback base URL.")] = False,
    poll_interval: Annotated[
        int | None, typer.Option(min=5, max=86_400, help="Seconds between polls (default from config).")
    ] = None,
    auth_scheme: Annotated[str | None, typer.Option(help="WB only: 'bearer' to send 'Bearer <token>'.")] = None,
) -> None:
    """Add an account; the secret is prompted without echo, or read from stdin."""
    from chatdesk.connectors import connector_class
    from chatdesk.usecases import accounts as actions

    c = get_ctx(ctx)
    connector_class(marketplace)
    if base_url:
        actions.check_base_url(base_url, allow_http=allow_http)  # refused before the secret is asked
    if business_id is not None and not business_id.isdigit():
        raise UsageError("--business-id must be a number")
    label = "API key" if marketplace != "wildberries" else "API token"
    secret = _read_secret(f"{marketplace} {label} for {name}")
    settings = {"client_id": client_id or "", "business_id": business_id or "", "auth_scheme": auth_scheme or ""}
    row = actions.add_account(
        c.db(),
        c.secrets(),
        marketplace,
        name,
        secret,
        base_url=base_url,
        settings=settings,
        allow_http=allow_http,
        poll_interval=poll_interval,
    )
    typer.echo(f"added {row.marketplace} account {row.name}; secret stored in the keyring")
    _warn_token(marketplace, secret)


def _warn_token(marketplace: str, secret: str) -> None:
    """WB tokens are JWTs with an expiry: say so ahead of time, not when sync starts failing."""
    if marketplace != "wildberries":
        return
    from chatdesk.connectors.wildberries import jwt_warning

    warning = jwt_warning(secret.strip())
    if warning:
        typer.echo(f"warning: {warning}", err=True)


@account_app.command("list")
def account_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Accounts and their sync state."""
    from chatdesk.store import accounts, views
    from chatdesk.usecases.accounts import display_base_url

    c = get_ctx(ctx)
    db = c.db()
    status = views.sync_status(db)
    rows = accounts.list_accounts(db)
    bad = views.bad_items(db, limit=1000)
    if as_json:
        print_json(
            [
                {
                    "name": a.name,
                    "marketplace": a.marketplace,
                    "base_url": display_base_url(a.base_url),
                    "settings": {k: v for k, v in a.settings.items()},
                    "streams": [
                        {
                            "stream": s.stream,
                            "last_success_at": iso(s.last_success_at),
                            "last_error": s.last_error,
                            "backoff_until": iso(s.backoff_until),
                            "unavailable": s.unavailable,
                            "error_kind": s.error_kind,
                        }
                        for s in status
                        if s.account_id == a.id and s.last_attempt_at
                    ],
                    "bad_items": [
                        {
                            "stream": b.stream,
                            "id": b.external_id,
                            "chat": b.chat_external_id,
                            "reason": b.reason,
                            "seen": b.seen,
                            "last_seen_at": iso(b.last_seen_at),
                        }
                        for b in bad
                        if b.account_id == a.id
                    ],
                }
                for a in rows
            ]
        )
        return
    table = []
    for a in rows:
        streams = [s for s in status if s.account_id == a.id]
        last_ok = max((s.last_success_at for s in streams if s.last_success_at), default=None)
        errors = "; ".join(f"{s.stream}: {s.last_error}" for s in streams if s.last_error)
        mine = [b for b in bad if b.account_id == a.id]
        if mine:
            ids = ", ".join(f"{b.external_id or '(no id)'} ({b.reason})" for b in mine[:3])
            more = f" and {len(mine) - 3} more (--json)" if len(mine) > 3 else ""
            errors = "; ".join(x for x in (errors, f"{len(mine)} item(s) not stored: {ids}{more}") if x)
        shown = display_base_url(a.base_url) or "official"
        table.append([a.name, a.marketplace, shown, local_time(last_ok) or "never", errors])
    print_table(["NAME", "MARKETPLACE", "BASE URL", "LAST SYNC", "ERRORS"], table)


@account_app.command("remove")
def account_remove(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (needed when not on a terminal).")] = False,
) -> None:
    """Remove an account, its secret, and its local data (the marketplace keeps everything).

    Asks first (Enter answers no); without a terminal it needs --yes.
    """
    from chatdesk.sanitize import safe_text
    from chatdesk.store.accounts import get_account
    from chatdesk.usecases import accounts as actions

    c = get_ctx(ctx)
    db = c.db()
    get_account(db, name)  # an unknown name is refused before asking
    shown = safe_text(name, single_line=True)
    what = f"account {shown}: its chats, drafts, queued replies and follow-ups on this computer, and its secret"
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"account remove deletes {what}; add --yes to confirm")
        if not typer.confirm(f"Remove {what}? The marketplace keeps its copy.", default=False):
            typer.echo("not removed")
            raise typer.Exit(1)
    actions.remove_account(db, c.secrets(), name)
    typer.echo(f"removed account {shown}")


@account_app.command("test")
def account_test(ctx: typer.Context, name: str) -> None:
    """Make one cheap authenticated request to check the token."""
    from chatdesk.sanitize import safe_text
    from chatdesk.store.accounts import get_account
    from chatdesk.usecases import accounts as actions

    c = get_ctx(ctx)
    secrets = c.secrets()
    account = get_account(c.db(), name)
    _warn_token(account.marketplace, secrets.get(name))
    result = actions.test_account(c.db(), secrets, name)
    typer.echo(f"{name}: ok — {safe_text(result, single_line=True)}")
