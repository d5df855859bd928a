"""Answers to product questions: a second answer is an explicit, confirmed edit.

A WB question has one published answer. ``PATCH /api/v1/questions`` with a new text replaces
it, and WB allows that once, within 60 days of the answer ([WB-26-07]; the numbers are
``marketplaces.WILDBERRIES.answer_edits``). So a reply to an answered question is not a second
message: the caller must ask for an edit (``chatdesk send --edit``), and history shows the
earlier answer as replaced (:func:`replaced_ids`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from chatdesk import marketplaces
from chatdesk.errors import UsageError
from chatdesk.store import views
from chatdesk.store.db import Database

# Seller messages that count as an answer the buyer may see (or may have seen).
_LIVE = frozenset({"received", "sent", "queued", "sending", "unknown"})


@dataclass(frozen=True)
class AnswerEdit:
    """What sending into a question chat would do: ``replaces`` the id of the published answer
    it replaces (``None``: the first answer); ``note`` a sentence for the user."""

    replaces: int | None
    note: str


def _answers(db: Database, chat: views.ChatRow) -> list[views.MessageRow]:
    return [m for m in views.list_messages(db, chat.id) if m.author == "seller" and m.state in _LIVE]


def check_answer(db: Database, chat: views.ChatRow, *, edit: bool, now: datetime | None = None) -> AnswerEdit:
    """Decide whether a reply to ``chat`` may go out.

    Not a question chat, or no answer yet: allowed, ``replaces`` is ``None``. An answer is
    published: allowed only with ``edit`` (else :class:`UsageError` saying how), only if the
    marketplace allows edits, the answer is within the edit window and the edits are not used
    up (else :class:`UsageError` saying which rule).
    """
    if chat.kind != "question":
        return AnswerEdit(None, "")
    answers = _answers(db, chat)
    if not answers and (chat.status or "").lower() != "answered":
        return AnswerEdit(None, "")
    row = marketplaces.MARKETPLACES.get(chat.marketplace)
    label = row.label if row else chat.marketplace
    rule = row.answer_edits if row else None
    if rule is None:
        raise UsageError(f"this question already has an answer, and {label} does not allow editing it")
    window, edits = rule
    if not edit:
        raise UsageError(
            f"this question already has a published answer; {label} replaces it with the new text "
            f"(allowed {edits} time(s), within {window.days} days of the answer): "
            "run again with --edit to replace it"
        )
    if len(answers) > edits:
        raise UsageError(f"the answer was already edited; {label} allows {edits} edit(s)")
    published = answers[-1] if answers else None
    current = now or datetime.now(UTC)
    if published is not None and current - published.created_at > window:
        day = published.created_at.date().isoformat()
        raise UsageError(f"the answer was published on {day}; {label} allows editing it only within {window.days} days")
    return AnswerEdit(
        published.id if published else None,
        f"replaced the published answer; {label} allows no further edit" if edits == 1 else "replaced the answer",
    )


def replaced_ids(messages: list[views.MessageRow], kind: str) -> set[int]:
    """In a question chat, every seller answer but the newest is replaced by a later one."""
    if kind != "question":
        return set()
    answers = [m.id for m in messages if m.author == "seller" and m.state in _LIVE]
    return set(answers[:-1])
