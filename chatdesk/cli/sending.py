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
    edit: Annotated[
        bool, typer.Option("--edit", help="Replace the published answer to a question (WB: once, within 60 days).")
    ] = False,
    anyway: Annotated[
        bool, typer.Option("--anyway", help="Team mode: send although the chat changed since you looked.")
    ] = False,
) -> None:
    """Send a reply; exits 0 only once the marketplace accepted it.

    A second answer to an answered question replaces the published one, so it needs --edit.

    Exit codes: 0 sent; 1 failed or refused (nothing went out); 2 bad input (nothing queued);
    3 queued, unconfirmed or being sent by another chatdesk process: do NOT run send again,
    chatdesk delivers it (running it again would send the reply twice); 4 (team mode) the buyer
    or another operator wrote since you last looked: nothing queued, review (the new messages
    are printed) and send again, or --anyway; 5 partly sent: some parts went out (e.g. the
    text) and others were refused (e.g. a file) — the line names both; do NOT run the same
    send again (what went out would arrive twice), send only the refused parts (e.g. the file
    alone with --attach) or press R on them in the inbox.
    """
    from chatdesk.store import views
    from chatdesk.usecases import questions
    from chatdesk.usecases import replies as sending

    c = get_ctx(ctx)
    db = c.db()
    chat_id = chat_id_arg(db, chat)
    text = text_or_template(c, chat_id, text, template, stdin=stdin)
    from chatdesk.usecases.team import ReviewNeeded

    chat_row = views.get_chat(db, chat_id)
    assert chat_row is not None
    answer = questions.check_answer(db, chat_row, edit=edit)
    try:
        outcome = sending.send_now(
            db, c.secrets(), c.config(), chat_id, text, list(attach or []), force=force, anyway=anyway
        )
    except ReviewNeeded as exc:
        from chatdesk.cli.common import console, local_time
        from chatdesk.sanitize import safe_text
        from chatdesk.store import team

        names = team.display_names(db)
        out = console()
        for ch in exc.changes:
            who = "buyer" if ch.author == "buyer" else names.get(ch.operator or "", ch.operator or "seller (portal)")
            out.print(safe_text(f"{local_time(ch.created_at)} {who}: {ch.text}"))
        raise
    line = outcome.line
    if answer.replaces is not None and outcome.exit_code == 0:
        line = line.split("; note:", 1)[0] + f"; {answer.note} (message {answer.replaces} is now shown as replaced)"
    typer.echo(line)
    raise typer.Exit(outcome.exit_code)
