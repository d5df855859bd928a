"""`chatdesk followup …`, `resolve` and `templates list`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from chatdesk.cli.common import (
    ID_MAX,
    app,
    chat_id_arg,
    followup_app,
    get_ctx,
    iso,
    local_time,
    print_json,
    print_table,
    templates_app,
    text_or_template,
    when_arg,
)
from chatdesk.errors import UsageError

if TYPE_CHECKING:
    from chatdesk.store.followups import FollowUpRow


def _followup_json(f: FollowUpRow) -> dict[str, object]:
    return {
        "id": f.id,
        "chat_id": f.chat_id,
        "account": f.account,
        "marketplace": f.marketplace,
        "customer": f.customer,
        "due_at": iso(f.due_at),
        "text": f.text,
        "state": f.state,
        "reason": f.reason,
        "rule": f.rule,
        "template": f.template,
        "message_id": f.message_id,
        "operator": f.operator,
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
    anyway: Annotated[
        bool, typer.Option("--anyway", help="Team mode: schedule although the chat changed since you looked.")
    ] = False,
) -> None:
    """Schedule a follow-up into a chat (warns when the buyer is waiting: a follow-up is not an answer)."""
    from chatdesk.store import views
    from chatdesk.usecases import followups

    c = get_ctx(ctx)
    db = c.db()
    chat_id = chat_id_arg(db, chat)
    due = when_arg(c, in_, at)
    assert due is not None  # required: when_arg refuses a missing time
    body = text_or_template(c, chat_id, text, template)
    fid = followups.schedule(db, c.config(), chat_id, due, body, template=template, force=force, anyway=anyway)
    typer.echo(f"follow-up {fid} scheduled for {local_time(due)}")
    row = views.get_chat(db, chat_id)
    warning = followups.waiting_warning(row) if row is not None else None
    if warning:
        typer.echo(f"warning: {warning}", err=True)


@followup_app.command("list")
def followup_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Include sent, cancelled, expired and failed.")] = False,
) -> None:
    """Scheduled follow-ups (and, with --all, their history)."""
    from chatdesk.store import followups as store_followups

    open_states = store_followups.OPEN_STATES  # pending, and held ones waiting for review
    rows = store_followups.list_followups(get_ctx(ctx).db(), states=None if all_ or as_json else open_states)
    if as_json:
        print_json([_followup_json(f) for f in rows])
        return
    print_table(
        ["ID", "CHAT", "CUSTOMER", "DUE", "STATE", "TEXT"],
        [
            [
                f.id,
                f.chat_id,
                f.customer or "",
                local_time(f.due_at),
                # A held one's reason is what the operator must read: it goes where it is not cut.
                f.state + (f": {f.reason}" if f.reason and f.state != "held" else ""),
                f"{f.reason} · {f.text}" if f.state == "held" and f.reason else f.text,
            ]
            for f in rows
        ],
    )


@followup_app.command("cancel")
def followup_cancel(
    ctx: typer.Context, followup_id: Annotated[int, typer.Argument(min=1, max=ID_MAX, help="Its id (followup list).")]
) -> None:
    """Cancel a pending follow-up (kept in the history as cancelled)."""
    from chatdesk.store import followups as store_followups

    store_followups.cancel(get_ctx(ctx).db(), followup_id)
    typer.echo(f"follow-up {followup_id} cancelled")


@followup_app.command("send")
def followup_send(
    ctx: typer.Context,
    followup_id: Annotated[int, typer.Argument(min=1, max=ID_MAX, help="Its id (followup list).")],
    anyway: Annotated[
        bool,
        typer.Option("--anyway", help="Send a held follow-up although the buyer or another operator wrote since."),
    ] = False,
) -> None:
    """Send a follow-up now (the sync service delivers it at its next round)."""
    from chatdesk.store import followups as store_followups
    from chatdesk.usecases import followups

    c = get_ctx(ctx)
    db = c.db()
    row = store_followups.get(db, followup_id)
    if row.state == "held" and not anyway:
        raise UsageError(f"follow-up {followup_id} is held: {row.reason} (add --anyway to send it anyway)")
    if row.state not in store_followups.OPEN_STATES:
        raise UsageError(f"follow-up {followup_id} is already {row.state}")
    if anyway:
        followups.send_anyway(db, followup_id)  # what the chat holds now counts as reviewed
    else:
        # Due now, but still checked at delivery: a reply or buyer message since it was
        # scheduled holds it (red team: without --anyway it went out over a colleague's reply).
        store_followups.send_now(db, followup_id)
    typer.echo(f"follow-up {followup_id} will be sent at the next sync round")


@followup_app.command("edit")
def followup_edit(
    ctx: typer.Context,
    followup_id: Annotated[int, typer.Argument(min=1, max=ID_MAX, help="Its id (followup list).")],
    text: Annotated[str | None, typer.Option("--text")] = None,
    template: Annotated[str | None, typer.Option("--template")] = None,
    in_: Annotated[str | None, typer.Option("--in")] = None,
    at: Annotated[str | None, typer.Option("--at")] = None,
    force: Annotated[bool, typer.Option("--force")] = False,
) -> None:
    """Change the time and/or text of a pending follow-up."""
    from chatdesk.store import followups as store_followups
    from chatdesk.store import views
    from chatdesk.usecases import followups

    c = get_ctx(ctx)
    db = c.db()
    row = store_followups.get(db, followup_id)
    due = when_arg(c, in_, at, required=False)
    body = None
    overrides = None
    if text is not None or template is not None:
        body = text_or_template(c, row.chat_id, text, template)
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

    from chatdesk.usecases import followups

    c = get_ctx(ctx)
    db = c.db()
    ids = followups.resolve(db, c.config(), chat_id_arg(db, chat), datetime.now(UTC), c.home)
    typer.echo(f"resolved; {len(ids)} follow-up(s) scheduled" + (f": {', '.join(map(str, ids))}" if ids else ""))


@templates_app.command("list")
def templates_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Templates and any that are broken (with the reason)."""
    from chatdesk import templates
    from chatdesk.paths import templates_dir

    folder = templates_dir(get_ctx(ctx).home)
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
    print_table(["NAME", "DESCRIPTION", "TEXT"], [[t.name, t.description, t.text] for t in found])
    for err in errors:
        typer.echo(f"broken: {err}", err=True)
