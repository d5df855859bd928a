"""Noticing other processes' commits: the live-update loop of an open TUI (and of the bench's
simulated operators), without a timer on the UI loop.

One daemon thread per open store waits in :meth:`Database.wait_for_change` (PostgreSQL: asleep
on the LISTEN socket until a commit's ``NOTIFY``; SQLite: ``PRAGMA data_version`` every
``CHANGE_POLL_S``) and calls ``on_change`` once per change it sees. Bursts (a first sync writes
hundreds of pages) are coalesced: after a call the thread waits ``min_gap`` seconds before it
looks again, so the first change of a burst is announced at once and a burst costs at most
``1 / min_gap`` reloads a second. ``on_change`` runs on the watch thread: it must only hand the
news over (Textual's ``post_message``), never touch widgets or block.

The delay from another process's commit to ``on_change`` is at most ``CHANGE_POLL_S`` on SQLite
(and ``min_gap`` during a burst), milliseconds on PostgreSQL; what a person waits for on top of
it is the reload's own queries (``make bench`` figure 11 measures the sum).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from chatdesk.store.db import CHANGE_POLL_S

if TYPE_CHECKING:
    from chatdesk.store.db import Database

log = logging.getLogger(__name__)

WAIT_S = 0.5  # the longest one wait lasts, so stop() is noticed within it
MIN_GAP_S = 0.2  # between two announcements (a burst of commits becomes ≤ 5 reloads a second)
RETRY_S = 2.0  # after the store could not be read (server restarting, file gone)


class ChangeWatch:
    """Calls ``on_change()`` from a daemon thread whenever another connection commits.

    ``start()`` reads the current version and starts the thread; ``stop()`` asks it to end and
    returns at once (the thread ends within ``WAIT_S``). Never raises from the thread: a failing
    ``on_change`` or an unreadable store is logged and retried after ``RETRY_S``."""

    def __init__(
        self,
        db: Database,
        on_change: Callable[[], None],
        *,
        poll: float = CHANGE_POLL_S,
        min_gap: float = MIN_GAP_S,
        name: str = "chatdesk-change-watch",
    ) -> None:
        self.db = db
        self.on_change = on_change
        self.poll = poll
        self.min_gap = min_gap
        self.changes = 0  # announcements made (tests and the bench read it)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def _run(self) -> None:
        seen = self.db.data_version()
        while not self._stop.is_set():
            version = self.db.wait_for_change(seen, WAIT_S, poll=self.poll)
            if self._stop.is_set():
                return
            if version is None:  # unreadable now: try again later, then compare with what we saw
                self._stop.wait(RETRY_S)
                continue
            if seen is None:  # the first readable version is the baseline, not a change
                seen = version
                continue
            if version == seen:
                continue
            seen = version
            self.changes += 1
            started = time.monotonic()
            try:
                self.on_change()
            except Exception:  # the watch outlives a broken listener
                log.exception("change watch: on_change failed")
            self._stop.wait(max(0.0, self.min_gap - (time.monotonic() - started)))
