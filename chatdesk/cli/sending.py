"""`chatdesk send`: check, queue and deliver one reply, and say how it went."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chatdesk.cli.common import (
    app,
    chat_id_arg,
    get_ctx,
    text_or_template,
)


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
    """Send a reply; exits 0 only once the marketplace accepted it.

    Exit codes: 0 sent; 1 failed or refused (nothing went out); 2 bad input (nothing queued);
    3 queued, unconfirmed or being sent by another chatdesk process: do NOT run send again,
    chatdesk delivers it (running it again would send the reply twice).
    """
    from chatdesk.usecases import replies as sending

    c = get_ctx(ctx)
    db = c.db()
    chat_id = chat_id_arg(db, chat)
    text = text_or_template(c, chat_id, text, template, stdin=stdin)
    outcome = sending.send_now(db, c.secrets(), c.config(), chat_id, text, list(attach or []), force=force)
    typer.echo(outcome.line)
    raise typer.Exit(outcome.exit_code)
