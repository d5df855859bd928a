"""Sending from the CLI: rule check, outbox, delivery, and a one-line outcome.

The same outbox and rules serve the TUI and follow-ups; this module only adds the
synchronous "send and tell me how it went" flow that ``chatdesk send`` needs.
"""

from __future__ import annotations

import asyncio
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from chatdesk import rules
from chatdesk.config import Config
from chatdesk.connectors import connector_class
from chatdesk.connectors.base import request_parts
from chatdesk.errors import UsageError
from chatdesk.model import Limits
from chatdesk.sanitize import safe_text
from chatdesk.secrets import SecretStore
from chatdesk.store import outbox, views
from chatdesk.store.db import Database
from chatdesk.sync import ClientFactory, SyncEngine


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    line: str


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


def precheck(chat: views.ChatRow, text: str, files: list[dict[str, object]], *, force: bool) -> list[str]:
    """Refuse hard-limit breaches always and content warnings unless forced; return the
    overridden warning codes (recorded with the message)."""
    findings = rules.check(
        text,
        marketplace=chat.marketplace,
        kind=chat.kind,
        files=[rules.FileInfo(str(f["name"]), int(f["size"]), str(f["content_type"])) for f in files],  # type: ignore[call-overload]
        chat_status=chat.status,
    )
    hard = rules.hard(findings)
    if hard:
        raise UsageError("refused: " + "; ".join(rules.describe(hard)))
    warnings = rules.warnings(findings)
    if warnings and not force:
        raise UsageError("not sent: " + "; ".join(rules.describe(warnings)) + " (use --force to send anyway)")
    return sorted({w.code for w in warnings})


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
) -> Outcome:
    chat = views.get_chat(db, chat_id)
    if chat is None:
        raise UsageError(f"no chat with id {chat_id}")
    text = text.strip("\n")
    files = file_specs(attach)
    overrides = precheck(chat, text, files, force=force)
    limits = connector_class(chat.marketplace).limits.get(chat.kind)
    message_ids = [
        outbox.enqueue(db, chat_id, part_text, files=part_files, overrides=overrides)
        for part_text, part_files in split_parts(limits, text, files)
    ]
    engine = SyncEngine(db, secrets=secrets, config=config, client_factory=client_factory)

    async def deliver() -> None:
        try:
            for message_id in message_ids:
                await engine.deliver_account(chat.account_id, message_id=message_id)
        finally:
            await engine.aclose()

    asyncio.run(deliver())
    outcomes = [_outcome(db, mid) for mid in message_ids]
    worst = max(outcomes, key=lambda o: o.exit_code)
    if chat.kind == "question" and not worst.exit_code:
        return Outcome(0, worst.line + "; note: WB lets you edit an answer only once, within 60 days")
    if len(outcomes) == 1 or worst.exit_code:
        return worst
    return Outcome(0, f"sent in {len(outcomes)} parts (messages {', '.join(map(str, message_ids))})")


def split_parts(
    limits: Limits | None, text: str, files: list[dict[str, object]], files_per_request: int | None = None
) -> list[tuple[str, list[dict[str, object]]]]:
    """One outbox message per request the marketplace can take (see
    ``connectors.base.request_parts``): Ozon and YM want text and each file apart."""
    return request_parts(limits, text, files, files_per_request)


def _outcome(db: Database, message_id: int) -> Outcome:
    state, error = outbox.message_state(db, message_id)
    reason = safe_text(error or "", single_line=True)
    if state == "sent":
        return Outcome(0, f"sent (message {message_id})")
    if state == "failed":
        return Outcome(1, f"failed: {reason}")
    if state == "unknown":
        return Outcome(1, f"unconfirmed: {reason} (message {message_id}; never re-sent automatically)")
    return Outcome(1, f"queued (message {message_id}): {reason}; the next sync will send it")
