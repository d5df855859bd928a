"""The ``chatdesk`` command line: a contract that scripts and tests depend on.

Every failure is one line on stderr with a non-zero exit code (2 for bad input) and no
traceback; unexpected errors are logged with their traceback to ``<data dir>/chatdesk.log``.
Untrusted text reaches the terminal only through :mod:`chatdesk.sanitize`.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chatdesk.errors import ChatdeskError, UsageError

if TYPE_CHECKING:
    from chatdesk.store.views import ChatRow

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    invoke_without_command=True,
    help="A keyboard-driven terminal inbox for Wildberries, Ozon and Yandex Market buyer chats.",
    pretty_exceptions_enable=False,
)
account_app = typer.Typer(help="Add, list, test and remove marketplace accounts.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The built-in marketplace simulator.", no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(sandbox_app, name="sandbox")


@dataclass
class Ctx:
    home: str | None
    db_arg: str | None
    _db: object = None

    @property
    def data_dir(self) -> Path:
        from chatdesk.paths import data_dir

        return data_dir(self.home)

    def db(self):  # type: ignore[no-untyped-def]
        if self._db is None:
            from chatdesk.paths import db_url
            from chatdesk.store.db import Database

            self._db = Database(db_url(self.home, self.db_arg))
        return self._db

    def secrets(self):  # type: ignore[no-untyped-def]
        from chatdesk.secrets import KeyringSecrets

        return KeyringSecrets(self.data_dir)

    def config(self):  # type: ignore[no-untyped-def]
        from chatdesk.config import load_config
        from chatdesk.paths import config_file

        return load_config(config_file(self.home))


def _ctx(ctx: typer.Context) -> Ctx:
    return ctx.obj  # type: ignore[no-any-return]


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        str | None, typer.Option("--home", help="Data directory (default: CHATDESK_HOME or the user data dir).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database path or SQLAlchemy URL (default: CHATDESK_DB or <home>/chatdesk.db)."),
    ] = None,
) -> None:
    """With no command: open the inbox."""
    ctx.obj = Ctx(home, db)
    if ctx.invoked_subcommand is None:
        c = _ctx(ctx)
        from chatdesk.app import run_app
        from chatdesk.sync import SyncEngine

        database = c.db()
        config = c.config()
        secrets = c.secrets()
        engine = SyncEngine(database, secrets=secrets, config=config)
        run_app(database, config=config, engine=engine, secrets=secrets, home=c.data_dir)


# ----------------------------------------------------------------------------- output helpers


def _console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(markup=False, highlight=False, emoji=False, soft_wrap=False)


_JSON_UNSAFE = {c: f"\\u{c:04x}" for c in [*range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]}


def print_json(data: object) -> None:
    """JSON that keeps text exact yet is safe on a terminal: C1 and bidi controls escaped."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    sys.stdout.write(text.translate({k: v for k, v in _JSON_UNSAFE.items()}) + "\n")


def _iso(dt) -> str | None:  # type: ignore[no-untyped-def]
    return dt.isoformat(timespec="seconds") if dt else None


def _table(columns: list[str], rows: list[list[object]]) -> None:
    """A plain aligned table: short columns keep their width, the last (text) column gets what
    is left of the terminal and is cut with an ellipsis. Widths count terminal cells, not code
    points, so emoji and wide characters keep the columns straight."""
    import shutil

    from rich.cells import cell_len, set_cell_size

    from chatdesk.sanitize import safe_text

    cells = [columns] + [[safe_text("" if v is None else v, single_line=True) for v in row] for row in rows]
    widths = [min(28, max(cell_len(r[i]) for r in cells)) for i in range(len(columns) - 1)]
    total = shutil.get_terminal_size((160, 24)).columns if sys.stdout.isatty() else 10_000
    last = max(10, total - sum(widths) - 2 * len(widths))
    out = []
    for row in cells:
        parts = [set_cell_size(row[i], w) for i, w in enumerate(widths)]
        text = row[-1]
        if cell_len(text) > last:
            text = set_cell_size(text, last - 1) + "…"
        out.append("  ".join([*parts, text]).rstrip())
    sys.stdout.write("\n".join(out) + "\n")


def _local(dt) -> str:  # type: ignore[no-untyped-def]
    return dt.astimezone().strftime("%Y-%m-%d %H:%M") if dt else ""


# ----------------------------------------------------------------------------- accounts


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
    poll_interval: Annotated[int | None, typer.Option(help="Seconds between polls (default from config).")] = None,
    auth_scheme: Annotated[str | None, typer.Option(help="WB only: 'bearer' to send 'Bearer <token>'.")] = None,
) -> None:
    """Add an account; the secret is prompted without echo, or read from stdin."""
    from chatdesk import actions
    from chatdesk.connectors import connector_class

    c = _ctx(ctx)
    connector_class(marketplace)
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

    c = _ctx(ctx)
    db = c.db()
    status = views.sync_status(db)
    rows = accounts.list_accounts(db)
    if as_json:
        print_json(
            [
                {
                    "name": a.name,
                    "marketplace": a.marketplace,
                    "base_url": a.base_url,
                    "settings": {k: v for k, v in a.settings.items()},
                    "streams": [
                        {
                            "stream": s.stream,
                            "last_success_at": _iso(s.last_success_at),
                            "last_error": s.last_error,
                            "backoff_until": _iso(s.backoff_until),
                            "unavailable": s.unavailable,
                        }
                        for s in status
                        if s.account_id == a.id and s.last_attempt_at
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
        table.append([a.name, a.marketplace, a.base_url or "official", _local(last_ok) or "never", errors])
    _table(["NAME", "MARKETPLACE", "BASE URL", "LAST SYNC", "ERRORS"], table)


@account_app.command("remove")
def account_remove(ctx: typer.Context, name: str) -> None:
    """Remove an account, its secret, and its local data (the marketplace keeps everything)."""
    from chatdesk import actions

    c = _ctx(ctx)
    actions.remove_account(c.db(), c.secrets(), name)
    typer.echo(f"removed account {name}")


@account_app.command("test")
def account_test(ctx: typer.Context, name: str) -> None:
    """Make one cheap authenticated request to check the token."""
    from chatdesk import actions
    from chatdesk.sanitize import safe_text
    from chatdesk.store.accounts import get_account

    c = _ctx(ctx)
    secrets = c.secrets()
    account = get_account(c.db(), name)
    _warn_token(account.marketplace, secrets.get(name))
    result = actions.test_account(c.db(), secrets, name)
    typer.echo(f"{name}: ok — {safe_text(result, single_line=True)}")


# ----------------------------------------------------------------------------- sync


@app.command()
def sync(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="One round, then exit (non-zero if any account failed).")
    ] = False,
    account: Annotated[list[str] | None, typer.Option("--account", help="Only this account (repeatable).")] = None,
) -> None:
    """Poll the marketplaces headlessly; without --once run the scheduler until Ctrl-C."""
    from chatdesk.sanitize import safe_text
    from chatdesk.store import accounts as store_accounts
    from chatdesk.sync import SyncEngine

    c = _ctx(ctx)
    db = c.db()
    for name in account or []:
        store_accounts.get_account(db, name)
    engine = SyncEngine(db, secrets=c.secrets(), config=c.config())
    if once:
        results = engine.run_once_blocking(account)
        failed = False
        for r in results:
            if r.errors:
                failed = True
                typer.echo(f"{r.account}: FAILED: " + safe_text("; ".join(r.errors), single_line=True), err=True)
            elif not r.polled:
                typer.echo(f"{r.account}: skipped, {safe_text(r.note, single_line=True)}")
            else:
                typer.echo(f"{r.account}: ok, {r.new_messages} new messages")
        raise typer.Exit(1 if failed else 0)
    typer.echo("chatdesk sync: polling; Ctrl-C to stop")
    try:
        asyncio.run(engine.run_forever())
    except KeyboardInterrupt:
        typer.echo("stopped")


# ----------------------------------------------------------------------------- reading


def _chat_json(ch) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "id": ch.id,
        "marketplace": ch.marketplace,
        "account": ch.account,
        "kind": ch.kind,
        "external_id": ch.external_id,
        "customer": ch.customer,
        "order_id": ch.order_id,
        "product_id": ch.product_id,
        "status": ch.status,
        "unread": ch.unread,
        "waiting": ch.waiting,
        "last_message_at": _iso(ch.last_message_at),
        "preview": ch.preview,
        "has_followup": ch.has_followup,
    }


@app.command()
def chats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    marketplace: Annotated[str | None, typer.Option(help="wildberries | ozon | yandex")] = None,
    unread: Annotated[bool, typer.Option("--unread")] = False,
    waiting: Annotated[bool, typer.Option("--waiting", help="Last message is the buyer's.")] = False,
) -> None:
    """List conversations, newest activity first."""
    from chatdesk.connectors import connector_class
    from chatdesk.store import views

    if marketplace:
        connector_class(marketplace)
    rows = views.list_chats(_ctx(ctx).db(), views.ChatFilter(marketplace=marketplace, unread=unread, waiting=waiting))
    if as_json:
        print_json([_chat_json(r) for r in rows])
        return
    print_chats(rows)


def print_chats(rows: list[ChatRow]) -> None:
    """The inbox as a table (``chats`` and ``demo --headless``)."""
    from chatdesk.connectors import LABELS

    _table(
        ["ID", "MP", "ACCOUNT", "CUSTOMER", "UNREAD", "WAIT", "LAST", "PREVIEW"],
        [
            [
                r.id,
                LABELS.get(r.marketplace, r.marketplace),
                r.account,
                r.customer or r.order_id or r.product_id or r.external_id,
                r.unread or "",
                "●" if r.waiting else "",
                _local(r.last_message_at),
                r.preview or "",
            ]
            for r in rows
        ],
    )


def _chat_id(db, value: str) -> int:  # type: ignore[no-untyped-def]
    from chatdesk.store import views

    if not value.isdigit() or views.get_chat(db, int(value)) is None:
        raise UsageError(f"no chat with id {value!r} (ids are printed by: chatdesk chats)")
    return int(value)


def _message_json(m) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "id": m.id,
        "external_id": m.external_id,
        "author": m.author,
        "text": m.text,
        "created_at": _iso(m.created_at),
        "attachments": [
            {"name": a.name, "size": a.size, "content_type": a.content_type, "download_id": a.download_id, "url": a.url}
            for a in m.attachments
        ],
        "state": m.state,
        "error": m.error,
    }


@app.command()
def messages(ctx: typer.Context, chat: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A conversation's messages, oldest first."""
    from chatdesk.sanitize import safe_text
    from chatdesk.store import views

    db = _ctx(ctx).db()
    rows = views.list_messages(db, _chat_id(db, chat))
    if as_json:
        print_json([_message_json(m) for m in rows])
        return
    out = _console()
    for m in rows:
        state = "" if m.state in ("received", "sent") else f" [{m.state}{': ' + m.error if m.error else ''}]"
        files = "".join(f" [file: {a.name}]" for a in m.attachments)
        out.print(safe_text(f"{_local(m.created_at)} {m.author}{state}: {m.text}{files}"))


@app.command()
def search(
    ctx: typer.Context,
    query: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Full-text search over every message (case-insensitive, Russian included)."""
    from chatdesk.store import fts, views

    db = _ctx(ctx).db()
    if not db.is_sqlite:
        raise ChatdeskError("full-text search needs the SQLite store")
    hits = fts.search_ids(db, query, limit)
    msgs = {m.id: m for m in views.messages_by_ids(db, [h[0] for h in hits])}
    chats_by_id = {c.id: c for c in views.list_chats_by_ids(db, sorted({h[1] for h in hits}))}
    rows = [(msgs[mid], chats_by_id[cid]) for mid, cid in hits if mid in msgs and cid in chats_by_id]
    if as_json:
        print_json([{"chat_id": c.id, "customer": c.customer, "message": _message_json(m)} for m, c in rows])
        return
    _table(
        ["CHAT", "CUSTOMER", "WHEN", "AUTHOR", "TEXT"],
        [[c.id, c.customer or c.external_id, _local(m.created_at), m.author, m.text] for m, c in rows],
    )


# ----------------------------------------------------------------------------- sending


@app.command()
def send(
    ctx: typer.Context,
    chat: str,
    text: Annotated[str | None, typer.Argument(help="The message (or use --stdin / --template).")] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the message from standard input.")] = False,
    attach: Annotated[list[Path] | None, typer.Option("--attach", help="A file to attach (repeatable).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Send despite content warnings (recorded).")] = False,
    template: Annotated[str | None, typer.Option("--template", help="Fill and send a template.")] = None,
) -> None:
    """Send a reply; exits 0 only once the marketplace accepted it."""
    from chatdesk import sending

    c = _ctx(ctx)
    db = c.db()
    chat_id = _chat_id(db, chat)
    text = _text_or_template(c, chat_id, text, template, stdin=stdin)
    outcome = sending.send_now(db, c.secrets(), c.config(), chat_id, text, list(attach or []), force=force)
    typer.echo(outcome.line)
    raise typer.Exit(outcome.exit_code)


def _text_or_template(c: Ctx, chat_id: int, text: str | None, template: str | None, *, stdin: bool = False) -> str:
    """Exactly one source of text: the argument, stdin, or a filled template."""
    sources = [x for x in (text is not None, stdin, template is not None) if x]
    if len(sources) != 1:
        raise UsageError("give exactly one of: TEXT, --stdin, --template NAME")
    if stdin:
        return sys.stdin.read()
    if template is not None:
        from chatdesk.followups import render_template
        from chatdesk.store import views

        chat_row = views.get_chat(c.db(), chat_id)
        assert chat_row is not None
        return render_template(template, chat_row, c.config(), c.home)
    assert text is not None
    return text


# ----------------------------------------------------------------------------- follow-ups and templates

followup_app = typer.Typer(help="Schedule, list, edit and cancel follow-up messages.", no_args_is_help=True)
templates_app = typer.Typer(help="Reply templates (plain text files in <data dir>/templates).", no_args_is_help=True)
app.add_typer(followup_app, name="followup")
app.add_typer(templates_app, name="templates")


def _when(c: Ctx, in_: str | None, at: str | None, *, required: bool = True):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from chatdesk.timeparse import parse_duration, parse_when

    if in_ and at:
        raise UsageError("give --in or --at, not both")
    if not in_ and not at:
        if required:
            raise UsageError("say when: --in 3d or --at 2026-12-01T10:00")
        return None
    now = datetime.now(UTC)
    try:
        if in_:
            return now + parse_duration(in_)
        return parse_when(at or "", now=now, tz=c.config().tz)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _followup_json(f) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "id": f.id,
        "chat_id": f.chat_id,
        "account": f.account,
        "marketplace": f.marketplace,
        "customer": f.customer,
        "due_at": _iso(f.due_at),
        "text": f.text,
        "state": f.state,
        "reason": f.reason,
        "rule": f.rule,
        "template": f.template,
        "message_id": f.message_id,
    }


@followup_app.command("add")
def followup_add(
    ctx: typer.Context,
    chat: str,
    text: Annotated[str | None, typer.Argument(help="The message (or --template).")] = None,
    in_: Annotated[str | None, typer.Option("--in", help="Delay: 3d, 2h, 1w, '2d 4h'.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Time: ISO date/time, 'tomorrow 10:00'.")] = None,
    template: Annotated[str | None, typer.Option("--template")] = None,
    force: Annotated[bool, typer.Option("--force", help="Keep it despite content warnings (recorded).")] = False,
) -> None:
    """Schedule a follow-up into a chat."""
    from chatdesk import followups

    c = _ctx(ctx)
    db = c.db()
    chat_id = _chat_id(db, chat)
    due = _when(c, in_, at)
    body = _text_or_template(c, chat_id, text, template)
    fid = followups.schedule(db, c.config(), chat_id, due, body, template=template, force=force)
    typer.echo(f"follow-up {fid} scheduled for {_local(due)}")


@followup_app.command("list")
def followup_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Include sent, cancelled, expired and failed.")] = False,
) -> None:
    """Scheduled follow-ups (and, with --all, their history)."""
    from chatdesk.store import followups as store_followups

    rows = store_followups.list_followups(_ctx(ctx).db(), states=None if all_ or as_json else ("pending",))
    if as_json:
        print_json([_followup_json(f) for f in rows])
        return
    _table(
        ["ID", "CHAT", "CUSTOMER", "DUE", "STATE", "TEXT"],
        [
            [
                f.id,
                f.chat_id,
                f.customer or "",
                _local(f.due_at),
                f.state + (f": {f.reason}" if f.reason else ""),
                f.text,
            ]
            for f in rows
        ],
    )


@followup_app.command("cancel")
def followup_cancel(ctx: typer.Context, followup_id: int) -> None:
    """Cancel a pending follow-up (kept in the history as cancelled)."""
    from chatdesk.store import followups as store_followups

    store_followups.cancel(_ctx(ctx).db(), followup_id)
    typer.echo(f"follow-up {followup_id} cancelled")


@followup_app.command("edit")
def followup_edit(
    ctx: typer.Context,
    followup_id: int,
    text: Annotated[str | None, typer.Option("--text")] = None,
    template: Annotated[str | None, typer.Option("--template")] = None,
    in_: Annotated[str | None, typer.Option("--in")] = None,
    at: Annotated[str | None, typer.Option("--at")] = None,
    force: Annotated[bool, typer.Option("--force")] = False,
) -> None:
    """Change the time and/or text of a pending follow-up."""
    from chatdesk import followups
    from chatdesk.store import followups as store_followups
    from chatdesk.store import views

    c = _ctx(ctx)
    db = c.db()
    row = store_followups.get(db, followup_id)
    due = _when(c, in_, at, required=False)
    body = None
    overrides = None
    if text is not None or template is not None:
        body = _text_or_template(c, row.chat_id, text, template)
        chat_row = views.get_chat(db, row.chat_id)
        assert chat_row is not None
        overrides = followups.check_text(chat_row, body, force=force)
    if due is None and body is None:
        raise UsageError("nothing to change: give --text/--template and/or --in/--at")
    store_followups.edit(db, followup_id, due_at=due, text=body, overrides=overrides)
    typer.echo(f"follow-up {followup_id} updated")


@app.command()
def resolve(ctx: typer.Context, chat: str) -> None:
    """Mark a chat resolved and schedule the configured follow-ups (check-in, restock, cross-sell)."""
    from datetime import UTC, datetime

    from chatdesk import followups

    c = _ctx(ctx)
    db = c.db()
    ids = followups.resolve(db, c.config(), _chat_id(db, chat), datetime.now(UTC), c.home)
    typer.echo(f"resolved; {len(ids)} follow-up(s) scheduled" + (f": {', '.join(map(str, ids))}" if ids else ""))


@templates_app.command("list")
def templates_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Templates and any that are broken (with the reason)."""
    from chatdesk import templates
    from chatdesk.paths import templates_dir

    folder = templates_dir(_ctx(ctx).home)
    templates.install_default_templates(folder)
    found, errors = templates.load_templates(folder)
    if as_json:
        print_json(
            {
                "folder": str(folder),
                "templates": [{"name": t.name, "description": t.description, "text": t.text} for t in found],
                "errors": [str(e) for e in errors],
            }
        )
        return
    typer.echo(f"templates in {folder}")
    _table(["NAME", "DESCRIPTION", "TEXT"], [[t.name, t.description, t.text] for t in found])
    for err in errors:
        typer.echo(f"broken: {err}", err=True)


# ----------------------------------------------------------------------------- demo and sandbox


@app.command()
def demo(
    ctx: typer.Context,
    headless: Annotated[
        bool, typer.Option("--headless", help="Sync once and print the inbox instead of the TUI.")
    ] = False,
) -> None:
    """The app on the built-in sandbox, with its own temporary store."""
    from chatdesk import demo as demo_mod

    demo_mod.run(headless=headless)


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8765,
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    chats: Annotated[int, typer.Option(help="Seeded conversations per marketplace.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    page_size: Annotated[int | None, typer.Option(help="Force small pages.")] = None,
) -> None:
    """Serve the simulated marketplaces over HTTP on loopback."""
    import ipaddress
    import time

    from chatdesk.sandbox import build_sandbox

    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise UsageError("the sandbox only listens on loopback")
    options = {"page_size": page_size} if page_size else {}
    sandbox = build_sandbox(seed=seed, chats=chats, **options)
    server = sandbox.serve(host, port)
    base = f"http://{host}:{server.server_port}"
    for prefix, sim in sandbox.sims.items():
        typer.echo(f"{sim.marketplace}: {base}/{prefix}")
    typer.echo(f"control: {base}/_sandbox/ ; serving until Ctrl-C", err=False)
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


# ----------------------------------------------------------------------------- assist (issue 14)

from chatdesk import cli_assist  # noqa: E402 - the commands live in their own module

cli_assist.register(app, _ctx, print_json, _chat_id, _table)


# ----------------------------------------------------------------------------- entry point


def main() -> None:
    """Console entry: one line per error, exit 2 for bad input, no tracebacks."""
    from typer.exceptions import TyperException

    try:
        result = app(standalone_mode=False)
        if isinstance(result, int) and result:
            sys.exit(result)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except TyperException as exc:  # bad flags or arguments
        sys.stderr.write(f"chatdesk: {exc.format_message()}\n")
        sys.exit(2)
    except ChatdeskError as exc:
        from chatdesk.sanitize import safe_text

        sys.stderr.write(f"chatdesk: {safe_text(str(exc), single_line=True)}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        _log_crash(exc)
        from chatdesk.sanitize import safe_text

        sys.stderr.write(f"chatdesk: unexpected error: {safe_text(type(exc).__name__)} (details in chatdesk.log)\n")
        sys.exit(1)


def _log_crash(exc: BaseException) -> None:
    """Where it happened, for a bug report; not the exception's text, which may quote a
    marketplace answer or a header and so a token."""
    import traceback

    try:
        from chatdesk.paths import data_dir, ensure_private_dir

        path = ensure_private_dir(data_dir()) / "chatdesk.log"
        logging.basicConfig(filename=path, level=logging.ERROR)
        frames = "".join(traceback.format_tb(exc.__traceback__))
        logging.getLogger("chatdesk").error("unexpected %s (text withheld)\n%s", type(exc).__name__, frames)
    except Exception:
        pass
