"""CLI commands of issue 14: ``suggest`` and ``report``. Registered on the main Typer app by
:func:`register` (one line in ``chatdesk.cli``), so they move as one piece when the CLI
becomes a package."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer, ctx_of, print_json, chat_id_of, table) -> None:  # type: ignore[no-untyped-def]
    """Add the commands to ``app``; the helpers are the CLI's own (context, JSON, chat ids, table)."""

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
        from chatdesk.followups import load_templates
        from chatdesk.rules import describe
        from chatdesk.sanitize import safe_text

        c = ctx_of(ctx)
        db = c.db()
        cid = chat_id_of(db, chat)
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
