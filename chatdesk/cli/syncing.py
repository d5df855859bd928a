"""`chatdesk sync [--once]`: the headless daemon and one round for cron."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from chatdesk.cli.common import (
    app,
    get_ctx,
)


@app.command()
def sync(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="One round, then exit (1 if any account failed; a stream the token cannot read "
            "or an announced rate-limit wait is said once, not a failure).",
        ),
    ] = False,
    account: Annotated[list[str] | None, typer.Option("--account", help="Only this account (repeatable).")] = None,
) -> None:
    """Poll the marketplaces headlessly; without --once run the scheduler until Ctrl-C."""
    from chatdesk.sanitize import safe_text
    from chatdesk.store import accounts as store_accounts
    from chatdesk.sync import SyncEngine
    from chatdesk.sync.runtime import log_to_file

    c = get_ctx(ctx)
    log_to_file(c.data_dir)  # tracebacks go to chatdesk.log, never to the terminal
    db = c.db()
    for name in account or []:
        store_accounts.get_account(db, name)
    config = c.config()
    engine = SyncEngine(db, secrets=c.secrets(), config=config)
    from chatdesk import hooks

    watcher = hooks.attach(engine, db, config)  # [hooks] and topic tags, off the engine's thread
    if once:
        results = engine.run_once_blocking(account)
        watcher.stop()
        watcher.once()  # the round's events, before exiting
        failed = False
        for r in results:
            notes = "".join(f"; {n}" for n in r.notes)
            if r.errors:
                failed = True
                typer.echo(
                    f"{r.account}: FAILED: " + safe_text("; ".join(r.errors) + notes, single_line=True), err=True
                )
            elif not r.polled:
                typer.echo(f"{r.account}: skipped, {safe_text(r.note, single_line=True)}")
            else:
                typer.echo(f"{r.account}: ok, {r.new_messages} new messages" + safe_text(notes, single_line=True))
        raise typer.Exit(1 if failed else 0)
    typer.echo("chatdesk sync: polling; Ctrl-C to stop")
    try:
        asyncio.run(engine.run_forever())
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        watcher.stop()
