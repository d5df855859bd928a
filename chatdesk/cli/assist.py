"""`chatdesk suggest` and `chatdesk report` (issue 14): assist and insight over the store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from chatdesk.cli.common import Ctx, app, chat_id_arg, get_ctx, print_json

if TYPE_CHECKING:
    from chatdesk.assist.report import Report


@app.command(
    help="Reply suggestions for a chat's latest buyer message: how you answered similar questions before, "
    "matching templates, and a draft from your model if \\[assist] is configured in config.toml. Nothing is sent."
)
def suggest(
    ctx: typer.Context,
    chat: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option(min=1, max=20, help="Suggestions to offer (a model draft is one).")] = 3,
    offline: Annotated[bool, typer.Option("--offline", help="Skip the configured model.")] = False,
) -> None:
    """Reply suggestions for a chat's latest buyer message (help text: the decorator's; `[` escaped for rich)."""
    from chatdesk.assist import llm
    from chatdesk.assist import suggest as assist_suggest
    from chatdesk.rules import describe
    from chatdesk.sanitize import safe_text
    from chatdesk.usecases.followups import load_templates

    c = get_ctx(ctx)
    db = c.db()
    cid = chat_id_arg(db, chat)
    config = c.config()
    found = load_templates(c.home)
    result = assist_suggest.suggest(db, cid, config=config, found_templates=found, limit=limit)
    settings = llm.parse_settings(config.assist)
    if settings.enabled and not offline and result.for_message_id is not None:
        key = model_key(c) if settings.base_url else None
        try:
            drafted = assist_suggest.model_suggestion(
                db, cid, result, lambda ctx_: llm.ModelCall(settings, ctx_, key=key), found
            )
            result = assist_suggest.with_model(result, drafted, limit)
        except llm.ModelError as exc:
            result = assist_suggest.Suggestions(**{**result.__dict__, "notices": (*result.notices, f"model: {exc}")})
    if as_json:
        print_json(assist_suggest.to_json(result))
        return
    if result.buyer_text:
        about = assist_suggest.topic_words(result.topic)
        typer.echo(safe_text(f"buyer ({about}): {result.buyer_text}" if about else f"buyer: {result.buyer_text}"))
    for notice in result.notices:
        typer.echo(notice)
    for i, s in enumerate(result.items, 1):
        typer.echo("")
        typer.echo(safe_text(f"{i}. {s.text}"))
        typer.echo(safe_text(f"   why: {s.reason}"))
        for note in s.notes:
            typer.echo(safe_text(f"   check: {note}"))
        for line in describe(s.findings, s.text):
            typer.echo(safe_text(f"   {line}"))


@app.command(
    help="How fast and how well buyers were answered: first and next response time, SLA, each marketplace's "
    "reply window, waiting chats, follow-ups, rule-check blocks and overrides, and the products whose problems "
    "are rising."
)
def report(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option("--since", help="How far back: 7d, 24h, 2w, 30d; 0d is today since midnight.")
    ] = "7d",
    by: Annotated[str, typer.Option("--by", help="marketplace, account, product, topic or day.")] = "marketplace",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_csv: Annotated[bool, typer.Option("--csv")] = False,
) -> None:
    """Response-time and quality report over the store (help text: the decorator's)."""
    from datetime import UTC, datetime

    from chatdesk.assist import report as rep
    from chatdesk.errors import UsageError

    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    c = get_ctx(ctx)
    now = datetime.now(UTC)
    try:
        start = rep.period_start(since, now, c.config().tz)
        if by not in rep.GROUPS:
            raise ValueError(f"--by must be one of {', '.join(rep.GROUPS)}, not {by!r}")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    r = rep.build(c.db(), c.config(), since=start, until=now, by=by, now=now)
    if as_json:
        print_json(rep.to_json(r))
        return
    if as_csv:
        typer.echo(rep.to_csv(r), nl=False)
        return
    _print_report(r)


def _print_report(r: Report) -> None:
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


assist_app = typer.Typer(
    help="The model that drafts replies (optional; see the \\[assist] section in config.toml).", no_args_is_help=True
)
app.add_typer(assist_app, name="assist")


@assist_app.command("key")
def assist_key(
    ctx: typer.Context,
    remove: Annotated[bool, typer.Option("--remove", help="Forget the stored key.")] = False,
) -> None:
    """Store the model endpoint's key in the keyring (prompted without echo, or read from stdin)."""
    import getpass
    import sys

    from chatdesk.assist.llm import KEY_NAME
    from chatdesk.errors import UsageError

    secrets = get_ctx(ctx).secrets()
    if remove:
        secrets.delete(KEY_NAME)
        typer.echo("the model key is removed from the keyring")
        return
    key = sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass("model API key: ").strip()
    if not key:
        raise UsageError("no key given")
    secrets.set(KEY_NAME, key)
    typer.echo("the model key is stored in the keyring; it is sent only to [assist] base_url's host")


def model_key(c: Ctx) -> str | None:
    """The endpoint key from the keyring, or None when none is stored."""
    from chatdesk.assist.llm import KEY_NAME
    from chatdesk.errors import SecretsError

    try:
        return c.secrets().get(KEY_NAME)
    except SecretsError:
        return None


@assist_app.command("topics")
def assist_topics(
    ctx: typer.Context,
    refine: Annotated[
        bool, typer.Option("--refine", help="Show the tags the rules are unsure of to your model now.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many messages for --refine.")] = 200,
    recheck: Annotated[
        bool,
        typer.Option("--recheck", help="Look again at every stored tag and mark the unsure ones for your model."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Topics of buyer messages: how many per topic, chosen by the rules or by your model, and how many wait for it."""
    from chatdesk.assist import llm, topics
    from chatdesk.cli.common import print_table
    from chatdesk.errors import UsageError
    from chatdesk.store import topics as store_topics

    c = get_ctx(ctx)
    db = c.db()
    topics.tag_new(db)
    rechecked = topics.recheck(db) if recheck else None
    settings = llm.parse_settings(c.config().assist)
    refined = None
    if refine:
        if not settings.enabled:
            raise UsageError("no model is configured: add [assist] to config.toml (see the README)")
        key = model_key(c) if settings.base_url and settings.model else None
        refined = topics.refine(db, settings, key=key, limit=limit, budget=max(60.0, settings.timeout))
    counts = store_topics.topic_counts(db)
    if as_json:
        print_json(
            {
                "topics": [
                    {"topic": t, "label": topics.TOPICS.get(t, t), "source": src, "messages": n, "pending": p}
                    for t, src, n, p in counts
                ],
                "refined": None
                if refined is None
                else {"asked": refined.asked, "changed": refined.changed, "error": refined.error},
                "rechecked": rechecked,
            }
        )
        if refined is not None and refined.error:
            raise typer.Exit(1)
        return
    print_table(
        ["TOPIC", "BY", "MESSAGES", "WAITING FOR MODEL"],
        [[topics.TOPICS.get(t, t), "model" if src == "model" else "rules", n, p or ""] for t, src, n, p in counts],
    )
    pending = sum(p for *_x, p in counts)
    if rechecked is not None:
        typer.echo(f"looked again at the stored tags: {rechecked} more for your model")
    if refined is not None:
        typer.echo(f"model: looked at {refined.asked} messages, tagged {refined.changed}")
        if refined.error:
            typer.echo(f"model: {refined.error}", err=True)
            raise typer.Exit(1)
    elif pending and settings.enabled and not settings.refines_topics:
        typer.echo(f"{pending} tags the rules are unsure of; `chatdesk assist topics --refine` asks your model")
    elif pending and not settings.enabled:
        typer.echo(f"{pending} tags the rules are unsure of; a model in [assist] could refine them (see the README)")
