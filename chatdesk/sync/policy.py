"""The engine's reaction to each kind of failure, as data.

Connectors classify a refusal by its cause (``ConnectorError.cause``, decided by the tables in
:mod:`chatdesk.connectors.errors`); this module says what the engine does about each cause:

* :data:`POLL` — while polling a stream: retry inline (how often, after what pause), how long
  to back off, which state the stream is in, whether ``sync --once`` counts it as a failure
  (exit 1), and whether even a forced poll (``sync --once``, "sync now") honours the wait;
* :data:`OUTBOX` — while sending: what the outbox row becomes.

Adding a cause is adding a row. Sources of the numbers: the marketplaces' own hints win
(``retry_after``, clamped by ``chatdesk.connectors.base.retry_hint``); the fixed back-offs are
chatdesk's (a key or subscription does not come back in seconds; re-checking every 15 min / 6 h
costs one request).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from chatdesk.connectors.base import ConnectorError, MissingAccess, RateLimited, TransientError

MAX_BACKOFF = timedelta(minutes=30)


@dataclass(frozen=True)
class PollReaction:
    """What polling does about one cause.

    ``inline``: retries within the same poll before giving up; ``pause``: how long to wait
    before each inline retry — ``hint`` (the announced ``retry_after``, only if it is at most
    ``EngineCore.MAX_INLINE_WAIT``), ``jitter`` (0.5–2 s, or the hint if shorter), or
    ``exponential`` (0.5, 1, 2 … ≤ 8 s); ``backoff``: after giving up, how long the stream
    rests — ``hint``, ``exponential`` (the poll interval doubled per failure, ±20 %, ≤ 30 min),
    ``interval`` (the normal poll interval) or ``fixed`` (``fixed``); ``state``: ``failing``,
    ``waiting`` (the marketplace asked to wait) or ``unavailable`` (shown once, not an
    error); ``failure``: ``sync --once`` exits 1; ``forced``: even a forced poll waits until
    the back-off ends (so cron and the TUI honour an announced wait across runs); ``words``:
    what chatdesk adds for the seller (None: the error's own words suffice).
    """

    inline: int
    pause: str
    backoff: str
    state: str
    failure: bool
    forced: bool
    fixed: timedelta | None = None
    words: str | None = None


POLL: Mapping[str, PollReaction] = {
    "quota": PollReaction(3, "hint", "hint", "waiting", failure=False, forced=True),
    "parallel": PollReaction(5, "jitter", "exponential", "failing", failure=True, forced=False),
    "down": PollReaction(3, "exponential", "exponential", "failing", failure=True, forced=False),
    "transient": PollReaction(3, "exponential", "exponential", "failing", failure=True, forced=False),
    "bad_credentials": PollReaction(
        0, "none", "fixed", "failing", failure=True, forced=False, fixed=timedelta(minutes=15)
    ),
    "blocked": PollReaction(0, "none", "fixed", "failing", failure=True, forced=False, fixed=timedelta(minutes=30)),
    "missing_access": PollReaction(
        0, "none", "fixed", "unavailable", failure=False, forced=True, fixed=timedelta(hours=6)
    ),
    # The stream delivered what the account may read (Ozon: the chat list without history).
    "missing_access.partial": PollReaction(0, "none", "interval", "unavailable", failure=False, forced=False),
    "rejected": PollReaction(0, "none", "exponential", "failing", failure=True, forced=False),
    "error": PollReaction(0, "none", "exponential", "failing", failure=True, forced=False),
    "store": PollReaction(0, "none", "exponential", "failing", failure=True, forced=False),
    "secret": PollReaction(0, "none", "exponential", "failing", failure=True, forced=False),
    "bug": PollReaction(
        0,
        "none",
        "exponential",
        "failing",
        failure=True,
        forced=False,
        words="unexpected answer; details are in chatdesk.log",
    ),
}


def poll_key(exc: BaseException) -> str:
    """The :data:`POLL` row for an exception: its cause, ``missing_access.partial`` for a
    stream that delivered what it could, ``bug`` for anything that is not a connector error."""
    if isinstance(exc, MissingAccess) and exc.partial:
        return "missing_access.partial"
    if isinstance(exc, ConnectorError):
        return exc.cause if exc.cause in POLL else "error"
    return "bug"


def poll_reaction(exc: BaseException) -> PollReaction:
    return POLL[poll_key(exc)]


def inline_pause(
    reaction: PollReaction, exc: BaseException, attempt: int, max_inline_wait: float, *, cap: int | None = None
) -> float | None:
    """Seconds to wait before inline retry number ``attempt`` (1-based), or None: give up.
    ``cap`` bounds the row's retries (``EngineCore.INLINE_RETRIES``; tests lower it), except
    for a concurrency refusal, which is retried until the row's count."""
    limit = reaction.inline if cap is None or reaction.pause == "jitter" else min(reaction.inline, cap)
    if attempt > limit:
        return None
    hint = exc.retry_after if isinstance(exc, RateLimited) else None
    if reaction.pause == "hint":
        return hint if hint is not None and hint <= max_inline_wait else None
    if reaction.pause == "jitter":
        pause = random.uniform(0.5, 2.0)
        return min(pause, hint) if hint is not None else pause
    if reaction.pause == "exponential":
        return min(8.0, 0.5 * 2 ** (attempt - 1))
    return None


def backoff_for(reaction: PollReaction, exc: BaseException, failures: int, interval: float) -> timedelta:
    """How long the stream rests after giving up (``failures``: failures before this one)."""
    if reaction.backoff == "hint" and isinstance(exc, RateLimited):
        return timedelta(seconds=exc.retry_after)
    if reaction.backoff == "fixed" and reaction.fixed is not None:
        return reaction.fixed
    if reaction.backoff == "interval":
        return timedelta(seconds=interval)
    seconds = min(MAX_BACKOFF.total_seconds(), max(5.0, interval) * (2 ** min(failures, 8)))
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


# ------------------------------------------------------------------------- outbox


@dataclass(frozen=True)
class OutboxReaction:
    """What a send failure makes of the outbox row: ``retry`` (queued again at ``after``:
    ``hint`` = the announced wait, ``exponential`` = 5 s doubled per attempt ≤ 5 min,
    ``fixed``), ``unknown`` (it may have arrived: never re-sent automatically, the echo
    settles it) or ``failed`` (a definite refusal, shown with the marketplace's words)."""

    outcome: str
    after: str = "exponential"
    fixed: timedelta | None = None


OUTBOX: Mapping[str, OutboxReaction] = {
    "quota": OutboxReaction("retry", "hint"),
    "parallel": OutboxReaction("retry", "hint"),
    # A transport failure or a 5xx: the request may have been processed, unless it never left.
    "transient": OutboxReaction("unknown"),
    "transient.unsent": OutboxReaction("retry", "exponential"),
    "down": OutboxReaction("unknown"),
    "down.unsent": OutboxReaction("retry", "exponential"),
    "bad_credentials": OutboxReaction("failed"),
    "blocked": OutboxReaction("retry", "fixed", timedelta(minutes=30)),
    "missing_access": OutboxReaction("failed"),
    "rejected": OutboxReaction("failed"),
    "error": OutboxReaction("failed"),
    "bug": OutboxReaction("unknown"),
}


def outbox_key(exc: BaseException) -> str:
    """The :data:`OUTBOX` row for a send failure."""
    if not isinstance(exc, ConnectorError):
        return "bug"
    cause = exc.cause if exc.cause in OUTBOX else "error"
    if isinstance(exc, TransientError) and not isinstance(exc, RateLimited) and not exc.reached_server:
        return f"{cause}.unsent" if f"{cause}.unsent" in OUTBOX else cause
    return cause


def outbox_reaction(exc: BaseException) -> OutboxReaction:
    return OUTBOX[outbox_key(exc)]


def outbox_delay(reaction: OutboxReaction, exc: BaseException, attempts: int) -> timedelta:
    """When a ``retry`` row is due again, from now."""
    if reaction.after == "hint" and isinstance(exc, RateLimited):
        return timedelta(seconds=exc.retry_after)
    if reaction.after == "fixed" and reaction.fixed is not None:
        return reaction.fixed
    return timedelta(seconds=min(300, 5 * 2 ** min(attempts, 6)))


# ------------------------------------------------------------------------- pacing (issue 11 §5)

SHARE = 0.25  # at most this share of a marketplace's published budget goes to polling
OVERNIGHT = range(0, 7)  # local hours when an idle account is polled three times slower
WAITING_WINDOW = timedelta(minutes=30)  # a buyer who wrote this recently and got no answer waits


@dataclass(frozen=True)
class Pace:
    """How fast one stream may be polled. ``key``: the rate budget (``marketplaces.py``) its
    requests spend; ``fast``: seconds between polls while a TUI is open or a buyer waits;
    ``idle_factor``: the configured poll interval times this when nobody watches."""

    key: str
    fast: float
    idle_factor: float = 1.0


PACE: Mapping[tuple[str, str], Pace] = {
    # WB: 10 requests / 10 s per chat method; an idle chats poll is one events request.
    ("wildberries", "chats"): Pace("wb.events", fast=5.0),
    # WB questions: 3 / s for the category, but a question is not a chat: every 30 s is news enough.
    ("wildberries", "questions"): Pace("wb.questions", fast=30.0, idle_factor=2.0),
    # Ozon: 50 / s per Client-Id (chatdesk's bucket: 40 / s); an idle poll lists all chats.
    ("ozon", "chats"): Pace("ozon", fast=5.0),
    # YM: getChats 5,000 / hour; an idle poll lists all chats, 20 per request.
    ("yandex", "chats"): Pace("getChats", fast=10.0),
}


def stream_interval(
    marketplace: str,
    stream: str,
    *,
    base: float,
    watching: bool,
    waiting: bool,
    hour: int,
    requests: int | Mapping[str, int] = 1,
) -> float:
    """Seconds until a stream's next poll.

    ``base``: the configured poll interval (seconds); ``watching``: a TUI is open;
    ``waiting``: a buyer of this account wrote within :data:`WAITING_WINDOW` and has no answer;
    ``hour``: the local hour; ``requests``: what the last poll of this stream cost (a count
    on the stream's budget, or counts by budget key: each key's share is kept). Fast while
    watched or waited on, ``base`` (×3 overnight) otherwise, and never faster than keeps the
    stream's polling within :data:`SHARE` of the budget its requests spend (budgets from
    ``chatdesk.marketplaces``)."""
    from chatdesk import marketplaces

    pace = PACE.get((marketplace, stream), Pace("", fast=base))
    wanted = pace.fast if (watching or waiting) else base * pace.idle_factor * (3 if hour in OVERNIGHT else 1)
    try:
        budgets = marketplaces.get(marketplace).budgets
    except Exception:  # an unknown marketplace (tests' fakes): no budget to respect
        budgets = {}
    spent = {pace.key: max(1, requests)} if isinstance(requests, int) else {pace.key: 1, **requests}
    floor = max(
        (n / (SHARE * budgets[key].rate) for key, n in spent.items() if key in budgets and n > 0),
        default=0.0,
    )
    return max(wanted, floor)
