"""`chatdesk chats`, `messages`, `search`, `download`: reading the store and saving attachments."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chatdesk.cli.common import (
    app,
    chat_id_arg,
    console,
    get_ctx,
    iso,
    local_time,
    parse_id,
    print_chats,
    print_json,
    print_table,
)
from chatdesk.errors import UsageError
from chatdesk.usecases.titles import chat_title

if TYPE_CHECKING:
    from chatdesk.store.views import ChatRow, MessageRow


def _window_closes(ch: ChatRow) -> str | None:
    from chatdesk.rules import NEVER, reply_window_closes

    closes = reply_window_closes(ch.marketplace, ch.kind, ch.last_buyer_at)
    return None if closes is None else "closed" if closes == NEVER else iso(closes)


def _chat_json(ch: ChatRow) -> dict[str, object]:
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
        "resolved": ch.resolved_at is not None and (ch.last_buyer_at is None or ch.last_buyer_at <= ch.resolved_at),
        "resolved_at": iso(ch.resolved_at),
        "last_message_at": iso(ch.last_message_at),
        "last_buyer_at": iso(ch.last_buyer_at),
        # when the marketplace stops accepting a reply (Ozon: 48 h after the buyer wrote); null: no window
        "reply_window_closes": _window_closes(ch),
        "preview": ch.preview,
        "has_followup": ch.has_followup,
        "assigned_to": ch.assigned_to,
    }


@app.command()
def chats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    marketplace: Annotated[str | None, typer.Option(help="wildberries | ozon | yandex")] = None,
    unread: Annotated[bool, typer.Option("--unread")] = False,
    waiting: Annotated[bool, typer.Option("--waiting", help="Last message is the buyer's.")] = False,
    mine: Annotated[bool, typer.Option("--mine", help="Team mode: assigned to me.")] = False,
    unassigned: Annotated[bool, typer.Option("--unassigned", help="Team mode: assigned to nobody.")] = False,
) -> None:
    """List conversations, newest activity first."""
    from chatdesk.connectors import connector_class
    from chatdesk.store import views

    if marketplace:
        connector_class(marketplace)
    db = get_ctx(ctx).db()
    if mine and db.operator is None:
        from chatdesk.errors import UsageError

        raise UsageError('--mine needs CHATDESK_OPERATOR or operator = "…" in config.toml')
    flt = views.ChatFilter(
        marketplace=marketplace,
        unread=unread,
        waiting=waiting,
        assigned_to=db.operator if mine else None,
        unassigned=unassigned,
    )
    rows = views.list_chats(db, flt)
    if as_json:
        print_json([_chat_json(r) for r in rows])
        return
    print_chats(rows)


def _message_json(m: MessageRow, replaced: bool = False, names: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "id": m.id,
        "external_id": m.external_id,
        "author": m.author,
        "text": m.text,
        "created_at": iso(m.created_at),
        "attachments": [
            {"name": a.name, "size": a.size, "content_type": a.content_type, "download_id": a.download_id, "url": a.url}
            for a in m.attachments
        ],
        "state": m.state,
        "error": m.error,
        "replaced": replaced,
        "operator": m.operator,
        "operator_name": (names or {}).get(m.operator or "", m.operator),
    }


@app.command()
def messages(ctx: typer.Context, chat: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A conversation's messages, oldest first."""
    from chatdesk.store import team, views
    from chatdesk.usecases.questions import replaced_ids
    from chatdesk.usecases.team import seen

    db = get_ctx(ctx).db()
    chat_id = chat_id_arg(db, chat)
    rows = views.list_messages(db, chat_id)
    chat_row = views.get_chat(db, chat_id)
    replaced = replaced_ids(rows, chat_row.kind if chat_row else "chat")
    names = team.display_names(db)
    seen(db, chat_id, max((m.id for m in rows), default=None))  # team mode: this operator has looked
    if as_json:
        print_json([_message_json(m, m.id in replaced, names) for m in rows])
        return
    lines: list[str] = []
    for m in rows:
        state = "" if m.state in ("received", "sent") else f" [{m.state}{': ' + m.error if m.error else ''}]"
        state += " [replaced by a later answer]" if m.id in replaced else ""
        files = "".join(f" [file: {a.name}]" for a in m.attachments)
        files += f" (message {m.id}: chatdesk download {m.id})" if m.attachments else ""
        who = f" ({names.get(m.operator, m.operator)})" if m.operator else ""
        lines.append(f"{local_time(m.created_at)} {m.author}{who}{state}: {m.text}{files}")
    _print_messages(lines)


def _print_messages(lines: list[str]) -> None:
    """One message per line when stdout is a pipe or file (``| tail``, ``| grep`` see whole
    messages; a line break inside a message becomes a space); on a
    terminal, long messages wrap with their continuation lines indented under the text."""
    import shutil
    import sys
    import textwrap

    from chatdesk.sanitize import safe_text

    if not sys.stdout.isatty():
        sys.stdout.write("".join(safe_text(line, single_line=True) + "\n" for line in lines))
        return
    width = max(40, shutil.get_terminal_size((100, 24)).columns)
    out = console()
    for line in lines:
        for i, part in enumerate(safe_text(line).split("\n")):
            wrapped = textwrap.wrap(part, width, initial_indent="" if i == 0 else "    ", subsequent_indent="    ")
            out.print("\n".join(wrapped) or "", soft_wrap=True)


@app.command()
def search(
    ctx: typer.Context,
    query: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Full-text search over every message (case-insensitive, Russian included)."""
    from chatdesk.store import fts, views

    db = get_ctx(ctx).db()
    hits = fts.search_ids(db, query, limit)
    msgs = {m.id: m for m in views.messages_by_ids(db, [h[0] for h in hits])}
    chats_by_id = {c.id: c for c in views.list_chats_by_ids(db, sorted({h[1] for h in hits}))}
    rows = [(msgs[mid], chats_by_id[cid]) for mid, cid in hits if mid in msgs and cid in chats_by_id]
    rows.sort(key=_hit_order)
    if as_json:
        print_json(
            [
                {"chat_id": c.id, "customer": c.customer, "title": chat_title(c), "message": _message_json(m)}
                for m, c in rows
            ]
        )
        return
    print_table(
        ["CHAT", "CUSTOMER", "WHEN", "AUTHOR", "TEXT"],
        [[c.id, chat_title(c), local_time(m.created_at), m.author, m.text] for m, c in rows],
    )


def _hit_order(hit: tuple[MessageRow, ChatRow]) -> tuple[float, int]:
    """Search results: best rank first (the store's match gives every hit the same rank), then
    newest message first, then the higher message id first, so equal times never shuffle."""
    return (-hit[0].created_at.timestamp(), -hit[0].id)


@app.command()
def download(
    ctx: typer.Context,
    message: Annotated[str, typer.Argument(help="The message id (shown by `messages` next to its files).")],
    to: Annotated[
        Path | None, typer.Option("--to", help="Folder to save into (default: <data dir>/downloads).")
    ] = None,
    file: Annotated[
        str | None, typer.Option("--file", help="Which attachment: its name or number (1, 2 …); default all.")
    ] = None,
) -> None:
    """Download a message's attachments; each is saved under a safe name that never overwrites."""
    from chatdesk.paths import downloads_dir
    from chatdesk.sanitize import safe_text
    from chatdesk.store import views
    from chatdesk.usecases import accounts as actions

    c = get_ctx(ctx)
    db = c.db()
    found = views.messages_by_ids(db, [parse_id(message, "message")])
    if not found:
        raise UsageError(f"no message with id {message!r} (ids are in: chatdesk messages CHAT --json)")
    msg = found[0]
    if not msg.attachments:
        raise UsageError(f"message {msg.id} has no attachments")
    chosen = list(msg.attachments)
    if file is not None:
        names = [a.name for a in msg.attachments]
        if file.isdecimal() and len(file) < 4 and 1 <= int(file) <= len(names):
            chosen = [msg.attachments[int(file) - 1]]
        elif file in names:
            chosen = [msg.attachments[names.index(file)]]
        else:
            listed = ", ".join(f"{i}: {safe_text(n, single_line=True)}" for i, n in enumerate(names, 1))
            raise UsageError(f"message {msg.id} has no file {file!r}; it has {listed}")
    folder = (to or downloads_dir(c.home)).expanduser()
    secrets = c.secrets()
    for att in chosen:
        path = actions.download_attachment(db, secrets, msg.chat_id, att, folder)
        typer.echo(safe_text(f"saved {att.name} to {path}", single_line=True))
