"""The sync engine: scheduling, cursors, retries, the poll lease and outbox delivery.

Connectors are async; the engine runs them on one asyncio loop. In the TUI that loop lives in
a background thread with an APScheduler ``AsyncIOScheduler`` (a job per account, with jitter);
``chatdesk sync`` runs the same scheduler in the foreground, and ``sync --once`` awaits one
round directly. Each account's poll is its own task, so one account's rate-limit wait or
outage never delays another. Store calls run in worker threads so a slow disk does not
stall the loop.

Guarantees the rest of chatdesk relies on:
- a page is committed before its cursor moves (``store.ingest.apply_page``);
- only the holder of an account's lease polls it (TUI + daemon on one DB do not double-poll);
- an outgoing message is claimed atomically and never re-sent automatically after an
  ambiguous outcome (``unknown``): the next sync settles it by reconciliation.
"""

from chatdesk.sync.engine import SyncEngine
from chatdesk.sync.runtime import (
    AccountResult,
    ClientFactory,
    SyncEvent,
    default_client,
    log_unexpected,
    new_owner_id,
)

__all__ = [
    "AccountResult",
    "ClientFactory",
    "SyncEngine",
    "SyncEvent",
    "default_client",
    "log_unexpected",
    "new_owner_id",
]
