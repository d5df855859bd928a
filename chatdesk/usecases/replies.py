"""Replies, shared by the CLI and the TUI: check a reply against the rules, split it into one
outbox message per marketplace request, queue it, and (for the CLI) deliver it and wait for the
outcome.

- :func:`queue_reply` is the one way to queue a reply (the TUI's composer and ``send``).
- :func:`send_now` is ``chatdesk send``: it reads the account's secret *before* queueing (a
  missing keyring refuses with nothing queued), queues the parts already claimed by its own
  engine (no other process can take them in between), delivers them and reports an
  :class:`Outcome` whose exit code says whether a retry is safe (see ``EXIT_*``).
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from chatdesk import rules
from chatdesk.config import Config
from chatdesk.connectors import connector_class
from chatdesk.connectors.base import request_parts
from chatdesk.errors import SecretsError, UsageError
from chatdesk.model import Limits
from chatdesk.sanitize import safe_text
from chatdesk.secrets import SecretStore
from chatdesk.store import accounts as store_accounts
from chatdesk.store import outbox, views
from chatdesk.store.db import Database
from chatdesk.sync import ClientFactory, SyncEngine
from chatdesk.usecases import team

EXIT_SENT = 0  # the marketplace accepted every part
EXIT_FAILED = 1  # refused (or not queued): nothing of it went out; fix and retry if you like
EXIT_USAGE = 2  # bad input: nothing was queued
# Queued, in flight in another chatdesk process, or unconfirmed: chatdesk owns the reply now and
# will deliver (or has delivered) it. Running `send` again would send it twice: do not retry.
EXIT_DO_NOT_RETRY = 3
# Partly sent: some parts of the reply went out and others were refused. Running the same
# `send` again would deliver what went out twice: send only the refused parts (the line names
# them and what went out), or press R on them in the inbox. 4 is team mode's "review first".
EXIT_PARTIAL = 5
WAIT_FOR_OTHER = 30.0  # seconds `send` waits for another process's outcome before exiting 3


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    line: str


@dataclass(frozen=True)
class QueuedReply:
    """A queued reply: one outbox message per marketplace request, in sending order."""

    chat_id: int
    account_id: int
    message_ids: tuple[int, ...]
    overrides: tuple[str, ...]


def file_specs(paths: list[Path]) -> list[dict[str, object]]:
    specs: list[dict[str, object]] = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"cannot attach {path}: not a readable file")
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        specs.append(
            {"path": str(path.resolve()), "name": path.name, "size": path.stat().st_size, "content_type": ctype}
        )
    return specs


def precheck(
    chat: views.ChatRow,
    text: str,
    files: list[dict[str, object]],
    *,
    force: bool,
    db: Database | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Refuse hard-limit breaches always and content warnings unless forced; return the
    overridden warning codes (recorded with the message). With ``db``, a refusal is recorded
    for the report (``rule_block``)."""
    findings = rules.check_chat(
        text,
        chat,
        now=now,  # the reply window is judged at this moment (default: the wall clock)
        files=[rules.FileInfo(str(f["name"]), int(f["size"]), str(f["content_type"])) for f in files],  # type: ignore[call-overload]
    )
    hard = rules.hard(findings)
    if hard:
        _record_block(db, chat, "hard", hard)
        raise UsageError("refused: " + "; ".join(rules.describe(hard)))
    warnings = rules.warnings(findings)
    if warnings and not force:
        _record_block(db, chat, "warn", warnings)
        raise UsageError("not sent: " + "; ".join(rules.describe(warnings)) + " (use --force to send anyway)")
    return sorted({w.code for w in warnings})


def _record_block(db: Database | None, chat: views.ChatRow, severity: str, found: list[rules.Finding]) -> None:
    """Remember a refusal for ``chatdesk report`` (issue 14); never in the way of the refusal."""
    if db is None:
        return
    from chatdesk.errors import ChatdeskError
    from chatdesk.store import analytics
    from chatdesk.store.db import utcnow

    with contextlib.suppress(ChatdeskError):
        analytics.record_block(db, chat.id, severity, [f.code for f in found], utcnow())


def split_parts(
    limits: Limits | None, text: str, files: list[dict[str, object]]
) -> list[tuple[str, list[dict[str, object]]]]:
    """One outbox message per request the marketplace can take (see
    ``connectors.base.request_parts``): Ozon and YM want text and each file apart."""
    return request_parts(limits, text, files)


def reply_parts(
    chat: views.ChatRow, text: str, files: list[dict[str, object]]
) -> list[tuple[str, list[dict[str, object]]]]:
    """The requests ``chat``'s marketplace needs for this reply (its connector's limits)."""
    cls = connector_class(chat.marketplace)
    return split_parts(cls.limits.get(chat.kind), text, files)


def queue_reply(
    db: Database,
    chat_id: int,
    text: str,
    files: list[dict[str, object]] | None = None,
    *,
    force: bool = False,
    owner: str | None = None,
    anyway: bool = False,
    now: datetime | None = None,
    basis: int | None = None,
) -> QueuedReply:
    """Check, split and queue a reply; the draft is cleared in the same transaction.

    ``files``: specs from :func:`file_specs` (``path``, ``name``, ``size`` in bytes,
    ``content_type``). ``force``: keep content warnings (their codes are recorded as
    overrides; the TUI passes it after its send-anyway dialog). ``owner``: the rows are born
    claimed by that engine (``send``), so no other process can take them first.
    Raises :class:`UsageError` for an unknown chat, a hard-limit breach (always) or a content
    warning without ``force``; nothing is queued then. Limits come from the chat's connector.
    Team mode (``db.operator``): raises :class:`team.ReviewNeeded` when the chat changed since
    the operator last saw it, unless ``anyway``; the check runs in the queueing transaction
    with the chat row locked, so two operators sending at once never both get through.
    ``basis``: the reply was built from a suggestion for message ``basis``: a newer buyer
    message or another person's reply stops it too (:func:`team.check_before_send`).
    """
    chat = views.get_chat(db, chat_id)
    if chat is None:
        raise UsageError(f"no chat with id {chat_id}")
    files = list(files or [])
    overrides = precheck(chat, text, files, force=force, db=db, now=now)
    team.check_before_send(db, chat_id, anyway=anyway, basis=basis)
    parts = reply_parts(chat, text, files)
    guard = team.send_guard(db, chat_id, anyway=anyway, basis=basis)
    ids = outbox.enqueue_parts(db, chat_id, parts, overrides=overrides or None, owner=owner, guard=guard)
    return QueuedReply(chat_id, chat.account_id, tuple(ids), tuple(overrides))


class _ReadOnce:
    """The secret read before queueing, handed to the engine so a slow keyring is asked once."""

    def __init__(self, inner: SecretStore, account: str, secret: str) -> None:
        self.inner, self.account, self.secret = inner, account, secret

    def get(self, account: str) -> str:
        return self.secret if account == self.account else self.inner.get(account)

    def set(self, account: str, secret: str) -> None:
        self.inner.set(account, secret)

    def delete(self, account: str) -> None:
        self.inner.delete(account)


def send_now(
    db: Database,
    secrets: SecretStore,
    config: Config,
    chat_id: int,
    text: str,
    attach: list[Path],
    *,
    force: bool = False,
    client_factory: ClientFactory | None = None,
    wait_for_other: float = WAIT_FOR_OTHER,
    anyway: bool = False,
) -> Outcome:
    """``chatdesk send``: returns the outcome line and its exit code (``EXIT_*``).

    Raises :class:`UsageError` (exit 2) for bad input and :class:`SecretsError` (exit 1) when
    the account's secret cannot be read and no sync service holds the account; in both cases
    nothing is queued. Without a key but with a live sync service (team mode: keys on one
    host), the reply is queued for that service and the outcome is ``EXIT_DO_NOT_RETRY``."""
    chat = views.get_chat(db, chat_id)
    if chat is None:
        raise UsageError(f"no chat with id {chat_id}")
    text = text.strip("\n")
    files = file_specs(attach)
    precheck(chat, text, files, force=force, db=db)  # refuse bad input before touching the keyring
    team.check_before_send(db, chat_id, anyway=anyway)  # another operator answered meanwhile?
    account = store_accounts.get_account_by_id(db, chat.account_id)
    try:
        secret = secrets.get(account.name)
    except SecretsError as exc:
        # Keys stay on one host: when a sync service elsewhere holds this account (it has the
        # key), an operator's machine without one queues the reply for it to deliver.
        poller = store_accounts.lease_owner(db, chat.account_id)
        if poller is None:
            raise SecretsError(f"not sent, nothing queued: {exc}") from None
        queued = queue_reply(db, chat_id, text, files, force=force, anyway=anyway)  # checked again, atomically
        ids = ", ".join(map(str, queued.message_ids))
        return Outcome(
            EXIT_DO_NOT_RETRY,
            f"queued (message {ids}): no key on this machine; the sync service ({poller}) delivers it — do not retry",
        )
    engine = SyncEngine(
        db, secrets=_ReadOnce(secrets, account.name, secret), config=config, client_factory=client_factory
    )
    # The send-time check again, atomically with the queueing: another operator may have sent
    # while the key was being read.
    queued = queue_reply(db, chat_id, text, files, force=force, owner=engine.owner, anyway=anyway)

    async def deliver() -> None:
        try:
            await engine.deliver_account(chat.account_id, mine=True)
        finally:
            await engine.aclose()

    asyncio.run(deliver())
    outcomes = [_outcome(db, mid, wait_for_other) for mid in queued.message_ids]
    partial = _partial(db, chat_id, queued.message_ids, outcomes, reply_parts(chat, text, files))
    if partial is not None:
        return partial
    worst = max(outcomes, key=lambda o: (o.exit_code != 0, o.exit_code == EXIT_DO_NOT_RETRY, o.exit_code))
    if chat.kind == "question" and not worst.exit_code:
        return Outcome(0, worst.line + "; note: WB lets you edit an answer only once, within 60 days")
    if len(outcomes) == 1 or worst.exit_code:
        return worst
    ids = ", ".join(map(str, queued.message_ids))
    return Outcome(0, f"sent in {len(outcomes)} parts (messages {ids})")


def _part_label(text: str, files: list[dict[str, object]]) -> str:
    """How a part is named to the user: its files' names, or the start of its text."""
    if files:
        return ", ".join(safe_text(str(f.get("name") or "file"), single_line=True, max_len=80) for f in files)
    short = safe_text(text, single_line=True, max_len=40)
    return f'the text "{short}"'


def _partial(
    db: Database,
    chat_id: int,
    message_ids: tuple[int, ...],
    outcomes: list[Outcome],
    parts: list[tuple[str, list[dict[str, object]]]],
) -> Outcome | None:
    """:data:`EXIT_PARTIAL` when some parts went out (exit 0, or accepted with a refused file
    inside) and others were refused: the line says exactly what went out and what did not, so a
    retry re-sends only the refused parts. None otherwise (all sent, all refused, or pending)."""
    if len(message_ids) < 2 or len(parts) != len(message_ids):
        return None  # one request: its own outcome says it (WB's "partly sent" included)
    went: list[str] = []
    refused: list[str] = []
    resend: list[str] = []
    for mid, outcome, (text, files) in zip(message_ids, outcomes, parts, strict=True):
        label = _part_label(text, files)
        state, error = outbox.message_state(db, mid)
        reason = safe_text(error or "", single_line=True, max_len=200)
        if state == "sent":
            went.append(f"{label} (message {mid}{'; but ' + reason if reason else ''})")
        elif state == "failed":
            refused.append(f"{label} (message {mid}): {reason}")
            resend.extend(str(f.get("name")) for f in files)
            if not files:
                resend.append("TEXT")
        elif outcome.exit_code == EXIT_DO_NOT_RETRY:
            return None  # chatdesk still owns a part: "do not retry" says it best
    if not went or not refused:
        return None
    line = "partly sent: went out: " + "; ".join(went) + "; refused: " + "; ".join(refused)
    hint = " ".join(f"--attach {n!r}" for n in resend if n != "TEXT")
    again = f'chatdesk send {chat_id} "" {hint}' if hint and "TEXT" not in resend else "R in the inbox"
    line += f" — do not re-run the same send (what went out would arrive twice); send only what was refused ({again})"
    return Outcome(EXIT_PARTIAL, line)


def _outcome(db: Database, message_id: int, wait_for_other: float) -> Outcome:
    """The message's outcome; a row another process is sending is waited for (bounded)."""
    deadline = time.monotonic() + wait_for_other
    state, error = outbox.message_state(db, message_id)
    while state == "sending" and time.monotonic() < deadline:
        time.sleep(0.5)
        state, error = outbox.message_state(db, message_id)
    reason = safe_text(error or "", single_line=True)
    if state == "sent" and reason:  # accepted, but a file inside it was refused
        return Outcome(
            EXIT_PARTIAL,
            f"partly sent (message {message_id}): {reason}; do not re-run send (the text arrived): "
            "press R on the failed file in chatdesk to send it alone",
        )
    if state == "sent":
        return Outcome(EXIT_SENT, f"sent (message {message_id})")
    if state == "failed":
        return Outcome(EXIT_FAILED, f"failed: {reason}")
    if state == "unknown":
        return Outcome(
            EXIT_DO_NOT_RETRY,
            f"unconfirmed: {reason} (message {message_id}; never re-sent automatically; do not retry)",
        )
    if state == "sending":
        return Outcome(
            EXIT_DO_NOT_RETRY,
            f"being sent by another chatdesk process (message {message_id}); do not retry: "
            "`chatdesk messages` will show the outcome",
        )
    why = f": {reason}" if reason else ""
    return Outcome(EXIT_DO_NOT_RETRY, f"queued (message {message_id}){why}; chatdesk will send it — do not retry")
