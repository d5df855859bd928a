"""Team mode commands: `chatdesk operator add|list|remove`, `assign`, `note`, `notes`, `who`.

Who "I" am comes from ``CHATDESK_OPERATOR`` or ``operator = "…"`` in config.toml.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from chatdesk.cli.common import app, chat_id_arg, console, get_ctx, iso, local_time, print_json, print_table
from chatdesk.errors import UsageError

if TYPE_CHECKING:  # the store is imported lazily: the CLI starts fast
    from chatdesk.store.db import Database

operator_app = typer.Typer(help="The support team's operators (team mode).", no_args_is_help=True)
app.add_typer(operator_app, name="operator")


@operator_app.command("add")
def operator_add(
    ctx: typer.Context,
    name: str,
    display: Annotated[str | None, typer.Option("--display", help='Name shown on replies, e.g. "Анна".')] = None,
) -> None:
    """Add an operator (NAME is what goes into CHATDESK_OPERATOR / config `operator`)."""
    from chatdesk.store import team

    row = team.add_operator(get_ctx(ctx).db(), name, display)
    typer.echo(f"added operator {row.name} ({row.display_name})")


@operator_app.command("list")
def operator_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List operators."""
    from chatdesk.store import team

    rows = team.list_operators(get_ctx(ctx).db())
    if as_json:
        print_json([{"name": r.name, "display_name": r.display_name, "created_at": iso(r.created_at)} for r in rows])
        return
    print_table(["NAME", "SHOWN AS"], [[r.name, r.display_name] for r in rows])


@operator_app.command("remove")
def operator_remove(ctx: typer.Context, name: str) -> None:
    """Remove an operator (their chats become unassigned; their sent messages keep the name)."""
    from chatdesk.store import team

    team.remove_operator(get_ctx(ctx).db(), name)
    typer.echo(f"removed operator {name}")


def _me(db: Database) -> str:
    if db.operator is None:
        raise UsageError('who are you? set CHATDESK_OPERATOR or operator = "…" in config.toml')
    return db.operator


@app.command()
def assign(
    ctx: typer.Context,
    chat: Annotated[str | None, typer.Argument(help="The chat (omit with --auto).")] = None,
    operator: Annotated[str | None, typer.Argument(help="Operator name (default: me).")] = None,
    none: Annotated[bool, typer.Option("--none", help="Unassign.")] = False,
    auto: Annotated[
        bool, typer.Option("--auto", help="Round-robin the unassigned waiting chats among operators.")
    ] = False,
    cap: Annotated[int, typer.Option("--cap", help="With --auto: at most this many waiting chats each.")] = 10,
) -> None:
    """Assign a chat to an operator (to me without a name; --none to unassign), or --auto."""
    from chatdesk.store import team

    db = get_ctx(ctx).db()
    if auto:
        pairs = team.auto_assign(db, cap)
        for chat_id, picked in pairs:
            typer.echo(f"chat {chat_id} assigned to {picked}")
        typer.echo(f"{len(pairs)} chat(s) assigned")
        return
    if chat is None:
        raise UsageError("which chat? (or --auto)")
    chat_id = chat_id_arg(db, chat)
    who: str | None = None if none else (operator or _me(db))
    team.assign(db, chat_id, who)
    shown = team.display_names(db).get(who, who) if who is not None else None  # "Анна", not the login
    typer.echo(f"chat {chat_id} unassigned" if shown is None else f"chat {chat_id} assigned to {shown}")


@app.command()
def note(ctx: typer.Context, chat: str, text: str) -> None:
    """Add an internal note to a chat: the team sees it, the buyer never does."""
    from chatdesk.store import team

    db = get_ctx(ctx).db()
    note_id = team.add_note(db, chat_id_arg(db, chat), text, db.operator)
    typer.echo(f"note {note_id} added (internal: never sent to the buyer)")


@app.command()
def notes(ctx: typer.Context, chat: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A chat's internal notes, oldest first."""
    from chatdesk.sanitize import safe_text
    from chatdesk.store import team

    db = get_ctx(ctx).db()
    rows = team.list_notes(db, chat_id_arg(db, chat))
    if as_json:
        print_json(
            [{"id": n.id, "operator": n.operator, "text": n.text, "created_at": iso(n.created_at)} for n in rows]
        )
        return
    out = console()
    names = team.display_names(db)  # people by their display name ("Анна"), as everywhere else
    for n in rows:
        who = names.get(n.operator, n.operator) if n.operator else "—"
        out.print(safe_text(f"{local_time(n.created_at)} note by {who}: {n.text}"))


@app.command()
def who(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Who is viewing or typing in which chat right now, and who polls each account."""
    from chatdesk.store import team, views

    db = get_ctx(ctx).db()
    here = team.presence(db)
    pollers = {s.account: s.poller for s in views.sync_status(db)}
    if as_json:
        print_json(
            {
                "presence": [{"chat_id": c, "operator": o, "state": st} for c, ops in here.items() for o, st in ops],
                "pollers": pollers,
            }
        )
        return
    rows = [[str(c), o, st] for c, ops in sorted(here.items()) for o, st in ops]
    print_table(["CHAT", "OPERATOR", "STATE"], rows)
    for account, owner in sorted(pollers.items()):
        typer.echo(f"{account}: {'polled and delivered by ' + owner if owner else 'nobody polls it right now'}")
