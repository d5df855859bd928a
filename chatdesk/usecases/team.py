"""Team mode use cases shared by the CLI and the TUI: who the operator is, and the send-time
check that stops two people from answering the same buyer.

The check (Help Scout's rule, and the answer to Chatwoot's most repeated complaint): a reply is
refused when the chat got a buyer message or another person's reply after this operator last
saw it — "Иван replied 2 min ago / the buyer wrote again — review" — until the operator has
looked again or sends anyway explicitly. It guards replies, follow-ups scheduled by hand and
suggestions alike (all of them queue through :func:`check_before_send`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from chatdesk.errors import UsageError
from chatdesk.sanitize import safe_text
from chatdesk.store import team
from chatdesk.store.db import Database, utcnow

EXIT_REVIEW = 4  # `send`: the chat changed since you looked; nothing was queued


class ReviewNeeded(UsageError):
    """The chat changed since the operator last saw it; nothing was queued."""

    exit_code = EXIT_REVIEW

    def __init__(self, line: str, changes: list[team.Change], names: dict[str, str] | None = None) -> None:
        super().__init__(line)
        self.changes = changes
        self.names = names or {}  # operator name -> display name, for showing the changes


def operator_from(config_value: str | None) -> str | None:
    """The operator this process acts for: ``CHATDESK_OPERATOR`` wins over config ``operator``;
    None (solo use) when neither is set. Raises UsageError for a malformed name."""
    name = (os.environ.get("CHATDESK_OPERATOR") or config_value or "").strip()
    return team.check_name(name) if name else None


def ago(then: datetime, now: datetime | None = None) -> str:
    """'just now', '2 min ago', '3 h ago', '2 d ago'."""
    seconds = max(0.0, ((now or utcnow()) - then).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def describe(changes: list[team.Change], names: dict[str, str], now: datetime | None = None) -> str:
    """One line: 'Иван replied 2 min ago / the buyer wrote again — review'."""
    parts: list[str] = []
    repliers: dict[str, datetime] = {}
    for c in changes:
        if c.author == "seller":
            who = names.get(c.operator or "", c.operator or "someone on the marketplace portal")
            repliers[who] = c.created_at
    for who, at in repliers.items():
        parts.append(f"{safe_text(who, single_line=True)} replied {ago(at, now)}")
    if any(c.author == "buyer" for c in changes):
        parts.append("the buyer wrote again")
    return " / ".join(parts) + " — review"


def check_before_send(db: Database, chat_id: int, *, anyway: bool = False, basis: int | None = None) -> None:
    """Raise :class:`ReviewNeeded` when ``db.operator`` has not seen the chat's newest buyer
    message or another person's reply. Solo use (no operator) and ``anyway`` skip the check.

    ``basis``: the reply was built from a suggestion made for message ``basis`` (its id); a
    buyer message or another person's reply after it stops the send too, in solo use as well
    (the suggestion answers a question that is no longer the latest).

    This is the early check (before a keyring read or a dialog); the binding one runs again in
    the queueing transaction (:func:`send_guard`)."""
    if anyway or (db.operator is None and basis is None):
        return
    with db.read() as s:
        _raise_on_changes(s, chat_id, db.operator, basis)


def _raise_on_changes(s: Session, chat_id: int, operator: str | None, basis: int | None) -> None:
    changes = team.changes_since_seen_in(s, chat_id, operator, basis)
    if changes:
        names = team.display_names_in(s)
        raise ReviewNeeded(describe(changes, names), changes, names)


def send_guard(
    db: Database, chat_id: int, *, anyway: bool = False, basis: int | None = None
) -> Callable[[Session], None] | None:
    """The send-time check as a step of the queueing transaction (``outbox.enqueue_parts``'s
    ``guard``): it locks the chat row, then raises :class:`ReviewNeeded` if anything arrived
    since the operator last looked (or since ``basis``). Run in the transaction that inserts
    the reply, two operators sending at once are serialized: the second one sees the first
    one's reply and is stopped. None when there is nothing to check (solo use, ``anyway``)."""
    if anyway or (db.operator is None and basis is None):
        return None
    operator = db.operator

    def guard(s: Session) -> None:
        team.lock_chat(s, chat_id)
        _raise_on_changes(s, chat_id, operator, basis)

    return guard


def seen(db: Database, chat_id: int, message_id: int | None = None) -> None:
    """Record that the operator saw the chat (no-op in solo use)."""
    if db.operator is not None:
        team.mark_seen(db, chat_id, db.operator, message_id)
