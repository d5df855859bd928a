"""`chatdesk suggest` and `chatdesk report` (issue 14): assist and insight over the store."""

from __future__ import annotations

from typing import Annotated

import typer

from chatdesk.cli.common import app, chat_id_arg, get_ctx, print_json


@app.command()
def suggest(
    ctx: typer.Context,
    chat: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option(min=1, max=20, help="Past answers to offer.")] = 3,
) -> None:
    """Reply suggestions for a chat's latest buyer message: how you answered similar questions
    before, and matching templates. Offline; nothing is sent."""
    from chatdesk.assist import suggest as assist_suggest
    from chatdesk.rules import describe
    from chatdesk.sanitize import safe_text
    from chatdesk.usecases.followups import load_templates

    c = get_ctx(ctx)
    db = c.db()
    cid = chat_id_arg(db, chat)
    result = assist_suggest.suggest(db, cid, config=c.config(), found_templates=load_templates(c.home), limit=limit)
    if as_json:
        print_json(assist_suggest.to_json(result))
        return
    for notice in result.notices:
        typer.echo(notice)
    if result.buyer_text:
        typer.echo(safe_text(f"buyer: {result.buyer_text}"))
    for i, s in enumerate(result.items, 1):
        typer.echo("")
        typer.echo(safe_text(f"{i}. {s.text}"))
        typer.echo(safe_text(f"   why: {s.reason}"))
        for note in s.notes:
            typer.echo(safe_text(f"   check: {note}"))
        for line in describe(s.findings, s.text):
            typer.echo(safe_text(f"   {line}"))
