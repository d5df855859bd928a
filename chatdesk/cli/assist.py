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


@app.command()
def report(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="How far back: 7d, 24h, 2w, 30d.")] = "7d",
    by: Annotated[str, typer.Option("--by", help="marketplace, account, product, topic or day.")] = "marketplace",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_csv: Annotated[bool, typer.Option("--csv")] = False,
) -> None:
    """How fast and how well buyers were answered: first and next response time, SLA, each
    marketplace's reply window, waiting chats, follow-ups, rule-check blocks and overrides,
    and the products whose problems are rising."""
    from datetime import UTC, datetime

    from chatdesk.assist import report as rep
    from chatdesk.errors import UsageError

    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    try:
        length = rep.parse_since(since)
        if by not in rep.GROUPS:
            raise ValueError(f"--by must be one of {', '.join(rep.GROUPS)}, not {by!r}")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    c = get_ctx(ctx)
    now = datetime.now(UTC)
    r = rep.build(c.db(), c.config(), since=now - length, until=now, by=by, now=now)
    if as_json:
        print_json(rep.to_json(r))
        return
    if as_csv:
        typer.echo(rep.to_csv(r), nl=False)
        return
    _print_report(r)


def _print_report(r) -> None:  # type: ignore[no-untyped-def]
    from chatdesk.assist import report as rep
    from chatdesk.assist.topics import SHORT
    from chatdesk.cli.common import local_time, print_table

    typer.echo(f"from {local_time(r.since)} to {local_time(r.until)}, SLA {r.sla_minutes} min, by {r.by}")
    rows = []
    for g in [*r.groups, r.total]:
        rows.append(
            [
                g.key,
                g.conversations,
                g.buyer_messages,
                f"{rep.human_duration(g.first_response.median)}/{rep.human_duration(g.first_response.p90)}",
                f"{rep.human_duration(g.next_response.median)}/{rep.human_duration(g.next_response.p90)}",
                rep.percent(g.sla_share),
                rep.percent(g.window_share),
                g.unanswered_now,
                f"{g.followups_sent}/{g.followups_cancelled}/{g.followups_expired}",
                f"{g.rule_blocked}/{g.rule_overridden}",
            ]
        )
    print_table(
        ["GROUP", "CHATS", "MSGS", "FIRST med/p90", "NEXT med/p90", "SLA", "WINDOW", "WAIT", "FU s/c/e", "RULES b/o"],
        rows,
    )
    typer.echo("first response = time to the first answer in a new chat; next = to later answers;")
    typer.echo("SLA / WINDOW = share answered in time; FU = follow-ups sent/cancelled/expired;")
    typer.echo("RULES = messages blocked / sent despite a warning")
    if r.fire:
        typer.echo("")
        typer.echo("products on fire (problems now vs the period before):")
        print_table(
            ["PRODUCT", "NOW", "BEFORE", "WHAT"],
            [
                [
                    f.label,
                    f.current,
                    f.previous,
                    ", ".join(f"{SHORT.get(k, k)} {c}←{p}" for k, (c, p) in f.by_topic.items()),
                ]
                for f in r.fire
            ],
        )
