"""The service report: response times, SLA, marketplace windows, follow-ups, rule-check
outcomes per group, and which products are "on fire". Exact on the store; headless.

Definitions (the README repeats them in a seller's words):

- A **turn** starts with a buyer message when the chat is not already waiting for the seller
  (the previous buyer/seller message was the seller's, or there was none); it is **answered**
  by the first seller message after it that the marketplace has (state ``sent``/``received``).
  Marketplace/system notes neither start nor answer a turn. Turns that started before the
  period are not counted, even if answered in it.
- **First response time**: the answer delay of a chat's first turn ever (counted when that turn
  starts in the period). **Next response time**: the answer delay of every later turn starting
  in the period. Unanswered turns have no time. Median (mean of the two middle values for an
  even count) and p90 (nearest rank: the ``ceil(0.9 n)``-th smallest), in seconds.
- **Within SLA**: of the period's turns, answered within ``sla_late_minutes`` of the config;
  an unanswered turn counts as missed once it is older than that, and is left out before.
- **Within the marketplace's window** (:func:`window_outcome`): Ozon accepts a seller message
  only within 48 h of the buyer's last one, so an Ozon turn is in the window when answered
  within 48 h (missed once 48 h pass unanswered); a Yandex Market chat ends when it becomes
  FINISHED, so a YM turn is in the window when answered, missed when the chat finished
  unanswered; a WB question is in the window once answered (WB publishes no deadline, so an
  unanswered one is never counted as missed). WB chats have no window and are left out.
- **Conversations**: chats with at least one buyer message in the period; **buyer messages**:
  those in the period. **Unanswered now**: chats whose last message is the buyer's, not resolved
  since, not closed. **Follow-ups**: sent / cancelled / expired in the period. **Rule check**:
  messages refused (blocked) and messages sent despite a warning (overridden) in the period.
- Grouping ``marketplace``/``account``/``product`` uses the chat; ``topic`` the topic of the
  turn's (or message's) first buyer message, and for chat-level counts the chat's latest
  topic in the period; ``day`` the local day (config ``timezone``) of the turn, message or event.
"""

from __future__ import annotations

import csv
import heapq
import io
import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo

from chatdesk.assist import topics as topic_rules
from chatdesk.config import Config
from chatdesk.store import analytics
from chatdesk.store.db import Database

GROUPS = ("marketplace", "account", "product", "topic", "day")
OZON_WINDOW = timedelta(hours=48)  # Ozon seller API: reply within 48 h of the buyer's last message (OZ-26-07)
"""Fallback when the registry has no window for Ozon (it has: :mod:`chatdesk.marketplaces`)."""
UNTAGGED = "untagged"
MESSAGES_BEHIND = 200
"""At most this many messages behind one "on fire" number (newest first)."""


@dataclass
class Times:
    """Delays in seconds; ``median``/``p90`` are None when there are none."""

    values: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def p90(self) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


@dataclass
class GroupStats:
    key: str
    conversations: int = 0
    buyer_messages: int = 0
    first_response: Times = field(default_factory=Times)
    next_response: Times = field(default_factory=Times)
    turns: int = 0
    unanswered_turns: int = 0
    sla_met: int = 0
    sla_counted: int = 0
    window_met: int = 0
    window_counted: int = 0
    unanswered_now: int = 0
    followups_sent: int = 0
    followups_cancelled: int = 0
    followups_expired: int = 0
    rule_blocked: int = 0
    rule_overridden: int = 0
    _chats: set[int] = field(default_factory=set, repr=False)

    @property
    def sla_share(self) -> float | None:
        return self.sla_met / self.sla_counted if self.sla_counted else None

    @property
    def window_share(self) -> float | None:
        return self.window_met / self.window_counted if self.window_counted else None


@dataclass(frozen=True)
class FireRow:
    """A product whose problem topics rose against the previous period of the same length."""

    product_id: str
    label: str
    current: int
    previous: int
    by_topic: dict[str, tuple[int, int]]
    """topic -> (current, previous)."""
    message_ids: tuple[int, ...]
    """The buyer messages behind ``current``, newest first (at most 200)."""


@dataclass
class Report:
    since: datetime
    until: datetime
    by: str
    sla_minutes: int
    groups: list[GroupStats]
    total: GroupStats
    fire: list[FireRow]
    problems: list[tuple[str, int]] = field(default_factory=list)
    """(product id, problem-topic buyer messages in the period), most first."""


@dataclass(slots=True)
class _Turn:
    chat: analytics.ChatFacts
    start: float
    topic: str
    first: bool
    answered_at: float | None = None


def window_outcome(turn: _Turn, now: float) -> bool | None:
    """True: answered within the marketplace's window; False: missed; None: not counted yet
    or no window (see the module docstring for each marketplace's rule). Times in POSIX s."""
    mp, kind = turn.chat.marketplace, turn.chat.kind
    if mp == "ozon":
        from chatdesk import marketplaces

        limit = (marketplaces.get("ozon").reply_window or OZON_WINDOW).total_seconds()
        if turn.answered_at is not None:
            return turn.answered_at - turn.start <= limit
        return False if now - turn.start > limit else None
    if mp == "yandex":
        if turn.answered_at is not None:
            return True
        return False if (turn.chat.status or "").upper() == "FINISHED" else None
    if mp == "wildberries" and kind == "question":
        return True if turn.answered_at is not None else None
    return None


_EPOCH = datetime(1970, 1, 1)


def _posix(at: str) -> float:
    """POSIX seconds of a timeline time (UTC text, :data:`analytics.TIME_FORMAT`), exact to the µs."""
    return (datetime.fromisoformat(at) - _EPOCH).total_seconds()


@dataclass
class _Scan:
    """What one pass over the period's timelines yields."""

    turns: list[_Turn] = field(default_factory=list)
    buyer: dict[tuple[int, str], int] = field(default_factory=dict)
    """(chat id, topic or local day or "") -> buyer messages in the period."""
    latest_topic: dict[int, str] = field(default_factory=dict)
    problems: dict[str, dict[str, int]] = field(default_factory=dict)
    """product id -> problem topic -> buyer messages in the period."""
    problem_times: dict[str, list[str]] = field(default_factory=dict)
    """product id -> times (UTC text) of those messages, for finding the newest ones."""


def _scan(facts: analytics.PeriodFacts, by: str, day_of: _Days) -> _Scan:
    """Turns starting in the period (see the module docstring), buyer messages per chat (and per
    topic or local day when grouped so), and problem topics per product, in one pass.

    A hot loop (a month of a busy store is ~1M tokens): times stay text (they compare as text)
    and only turn starts and answers are parsed."""
    out = _Scan()
    until = facts.until.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    problems = set(topic_rules.PROBLEM_TOPICS)
    days: dict[str, str] = {}
    turns, buyer, latest, problem_times = out.turns, out.buyer, out.latest_topic, out.problem_times
    for cid, line in facts.timelines:
        chat = facts.chats.get(cid)
        if chat is None or not line:
            continue
        # a turn from before the period is still open: the period's buyer messages belong to it
        waiting = chat.prior_author == "buyer"
        seen_buyer = chat.had_buyer_before
        turn: _Turn | None = None
        product = chat.product_id
        counts = out.problems.setdefault(product, {}) if product is not None else None
        times_of = problem_times.setdefault(product, []) if product is not None else None
        per_sub: dict[str, int] = {}  # topic / local day -> buyer messages (by topic or day)
        n_buyer = 0
        sub = ""
        tokens, times = analytics.timeline_tokens(line)
        for tok, at in zip(tokens, times, strict=True):
            if tok[0] == "b":
                if at < until:
                    n_buyer += 1
                    topic = tok[28:] or UNTAGGED
                    if by == "topic":
                        sub = latest[cid] = topic
                        per_sub[sub] = per_sub.get(sub, 0) + 1
                    elif by == "day":
                        sub = days.get(at[:16], "")
                        if not sub:
                            sub = days[at[:16]] = day_of(_posix(at))
                        per_sub[sub] = per_sub.get(sub, 0) + 1
                    if counts is not None and times_of is not None and topic in problems:
                        counts[topic] = counts.get(topic, 0) + 1
                        times_of.append(at)
                    if not waiting:
                        turn = _Turn(chat, _posix(at), topic, first=not seen_buyer)
                        waiting = True
                seen_buyer = True
            else:  # a seller message the marketplace has: it answers the open turn, if any
                if turn is not None:
                    turn.answered_at = _posix(at)
                    turns.append(turn)
                turn, waiting = None, False
        if turn is not None:
            turns.append(turn)
        if per_sub:
            for sub, n in per_sub.items():
                buyer[(cid, sub)] = n
        elif n_buyer:
            buyer[(cid, "")] = n_buyer
        if product is not None and not out.problems[product]:
            del out.problems[product], problem_times[product]
    return out


class _Days:
    """Local calendar day of POSIX times, cached per 15 minutes (time zones move by whole, half
    or quarter hours, so a 15-minute cache key keeps even +05:45 exact)."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.cache: dict[int, str] = {}

    def __call__(self, at: float | None) -> str:
        if at is None:
            return "—"
        key = int(at // 900)
        day = self.cache.get(key)
        if day is None:
            day = self.cache[key] = datetime.fromtimestamp(key * 900, self.tz).date().isoformat()
        return day


def build(db: Database, config: Config, *, since: datetime, until: datetime, by: str, now: datetime) -> Report:
    """The report over ``[since, until)`` grouped ``by`` one of :data:`GROUPS`; ``now`` judges
    unanswered turns against the SLA and windows. Tags untagged buyer messages first (offline
    rules, incremental). Raises ValueError for an unknown grouping, StoreError on store errors."""
    if by not in GROUPS:
        raise ValueError(f"--by must be one of {', '.join(GROUPS)}")
    topic_rules.tag_new(db)  # unsure tags are left for the configured model (hooks.attach refines them)
    facts = analytics.period_facts(db, since, until)
    day_of = _Days(config.tz)
    sla = timedelta(minutes=config.sla_late_minutes).total_seconds()
    t_now = now.timestamp()
    scan = _scan(facts, by, day_of)
    groups: dict[str, GroupStats] = {}

    def group(key: str) -> GroupStats:
        g = groups.get(key)
        if g is None:
            g = groups[key] = GroupStats(key)
        return g

    def chat_key(chat: analytics.ChatFacts, at: float | None) -> str:
        if by == "marketplace":
            return chat.marketplace
        if by == "account":
            return chat.account
        if by == "product":
            return chat.product_id or "—"
        if by == "topic":
            return scan.latest_topic.get(chat.id) or earlier_topic.get(chat.id, UNTAGGED)
        return day_of(at)

    chats = facts.chats
    # A chat with no buyer message in the period (waiting since before it, or only a follow-up or
    # a rule block in it) is grouped by its newest buyer message's topic, as the list tags it,
    # not lumped into "untagged".
    earlier_topic = (
        analytics.newest_buyer_topics(db, [c for c in chats if c not in scan.latest_topic]) if by == "topic" else {}
    )
    for (cid, sub), n in scan.buyer.items():
        g = group(sub if by in ("topic", "day") else chat_key(chats[cid], None))
        g.buyer_messages += n
        g._chats.add(cid)

    for t in scan.turns:
        g = group(t.topic if by == "topic" else chat_key(t.chat, t.start))
        g.turns += 1
        if t.answered_at is None:
            g.unanswered_turns += 1
            if t_now - t.start > sla:
                g.sla_counted += 1
        else:
            delay = t.answered_at - t.start
            (g.first_response if t.first else g.next_response).values.append(delay)
            g.sla_counted += 1
            g.sla_met += delay <= sla
        win = window_outcome(t, t_now)
        if win is not None:
            g.window_counted += 1
            g.window_met += win

    for chat in chats.values():
        waiting = chat.last_author == "buyer" and (
            chat.resolved_at is None or (chat.last_buyer_at is not None and chat.resolved_at < chat.last_buyer_at)
        )
        if waiting and (chat.status or "").upper() not in {"FINISHED", "CLOSED"}:
            since_at = chat.last_buyer_at.timestamp() if chat.last_buyer_at else None
            group(chat_key(chat, since_at)).unanswered_now += 1

    for cid, state, when in facts.followups:
        g = group(chat_key(chats[cid], when.timestamp()))
        if state == "sent":
            g.followups_sent += 1
        elif state == "cancelled":
            g.followups_cancelled += 1
        else:
            g.followups_expired += 1
    for cid, when in facts.overrides:
        group(chat_key(chats[cid], when.timestamp())).rule_overridden += 1
    for cid, when, _severity in facts.blocks:
        group(chat_key(chats[cid], when.timestamp())).rule_blocked += 1

    total = GroupStats("total")
    for g in groups.values():
        g.conversations = len(g._chats)
        total._chats |= g._chats
        total.first_response.values += g.first_response.values
        total.next_response.values += g.next_response.values
        for name in _COUNTERS:
            setattr(total, name, getattr(total, name) + getattr(g, name))
    total.conversations = len(total._chats)
    ordered = sorted(groups.values(), key=lambda g: g.key if by == "day" else (-g.buyer_messages, g.key))
    fire = _fire(db, since, until, scan.problems, scan.problem_times)
    problems = sorted(((pid, sum(c.values())) for pid, c in scan.problems.items()), key=lambda r: (-r[1], r[0]))
    return Report(since, until, by, config.sla_late_minutes, ordered, total, fire, problems)


_COUNTERS = (
    "buyer_messages",
    "turns",
    "unanswered_turns",
    "sla_met",
    "sla_counted",
    "window_met",
    "window_counted",
    "unanswered_now",
    "followups_sent",
    "followups_cancelled",
    "followups_expired",
    "rule_blocked",
    "rule_overridden",
)


def on_fire(db: Database, since: datetime, until: datetime, limit: int = 10) -> list[FireRow]:
    """Products whose problem-topic messages (:data:`chatdesk.assist.topics.PROBLEM_TOPICS`)
    in ``[since, until)`` outnumber those of the previous period of the same length; biggest
    rise first, then most problems. Messages of chats without a product are left out."""
    cur: dict[str, dict[str, int]] = defaultdict(dict)
    for pid, topic, n in analytics.problem_counts(db, since, until, topic_rules.PROBLEM_TOPICS):
        cur[pid][topic] = n
    return _fire(db, since, until, cur, None, limit)


def _fire(
    db: Database,
    since: datetime,
    until: datetime,
    cur: dict[str, dict[str, int]],
    times: dict[str, list[str]] | None,
    limit: int = 10,
) -> list[FireRow]:
    """:func:`on_fire` with the period's counts already known (product -> topic -> messages) and,
    if known, the times of those messages (product -> UTC text times)."""
    length = until - since
    problems = topic_rules.PROBLEM_TOPICS
    prev: dict[str, dict[str, int]] = defaultdict(dict)
    for pid, topic, n in analytics.problem_counts(db, since - length, since, problems):
        prev[pid][topic] = n
    rising = []
    for pid, counts in cur.items():
        now_n, before_n = sum(counts.values()), sum(prev.get(pid, {}).values())
        if now_n > before_n:
            rising.append((-(now_n - before_n), -now_n, pid))
    rising.sort()
    top = [pid for *_rest, pid in rising[:limit]]
    titles = analytics.product_titles(db, top)
    start = since.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    newest = {
        pid: heapq.nlargest(MESSAGES_BEHIND, times[pid])[-1] if times and times.get(pid) else start for pid in top
    }
    behind = analytics.problem_messages(db, newest, until, problems, MESSAGES_BEHIND)
    rows = []
    for pid in top:
        before = prev.get(pid, {})
        by_topic = {
            code: (cur[pid].get(code, 0), before.get(code, 0))
            for code in problems
            if cur[pid].get(code, 0) or before.get(code, 0)
        }
        rows.append(
            FireRow(
                product_id=pid,
                label=titles.get(pid) or f"product {pid}",
                current=sum(cur[pid].values()),
                previous=sum(before.values()),
                by_topic=by_topic,
                message_ids=tuple(behind.get(pid, ())),
            )
        )
    return rows


_TODAY = re.compile(r"^(?:0+\s*(?:d|day|days|д|дн|день|дней)|today|сегодня)$")
"""``--since`` words that mean "today since local midnight" (a zero look-back of whole days)."""


def period_start(text: str, now: datetime, tz: tzinfo) -> datetime:
    """When a ``--since`` period starts: ``now`` minus :func:`parse_since`, or for ``0d``
    (also ``today``, ``сегодня``) the seller's local midnight of today, as aware UTC.
    ValueError with a plain sentence otherwise."""
    if _TODAY.match(" ".join(text.strip().lower().split())):
        local = now.astimezone(tz)
        return datetime.combine(local.date(), time(0), tz).astimezone(UTC)
    return now - parse_since(text)


def parse_since(text: str) -> timedelta:
    """``7d``, ``24h``, ``2w``, ``30d`` ... as a positive duration up to 3 years; ValueError otherwise
    (``0d``, today since midnight, is :func:`period_start`'s)."""
    from chatdesk.timeparse import parse_duration

    raw = text.strip().lower()
    if re.fullmatch(r"0+\s*[^\W\d_]*", raw):  # "0h": a look-back of nothing, not a time in the future
        raise ValueError(f"--since {text!r} covers nothing: use 1h or more, or 0d for today since midnight")
    longest = timedelta(days=366 * 3)
    value = parse_duration(raw, limit=longest)
    if value <= timedelta(0) or value > longest:
        raise ValueError(f"--since must be between 1 minute and 3 years, not {text!r}")
    return value


def _secs(v: float | None) -> float | None:
    return round(v, 1) if v is not None else None


def _share(v: float | None) -> float | None:
    return round(v, 4) if v is not None else None


def group_dict(g: GroupStats) -> dict[str, object]:
    return {
        "key": g.key,
        "conversations": g.conversations,
        "buyer_messages": g.buyer_messages,
        "turns": g.turns,
        "unanswered_turns": g.unanswered_turns,
        "first_response_count": g.first_response.count,
        "first_response_median_s": _secs(g.first_response.median),
        "first_response_p90_s": _secs(g.first_response.p90),
        "next_response_count": g.next_response.count,
        "next_response_median_s": _secs(g.next_response.median),
        "next_response_p90_s": _secs(g.next_response.p90),
        "sla_met": g.sla_met,
        "sla_counted": g.sla_counted,
        "sla_share": _share(g.sla_share),
        "window_met": g.window_met,
        "window_counted": g.window_counted,
        "window_share": _share(g.window_share),
        "unanswered_now": g.unanswered_now,
        "followups_sent": g.followups_sent,
        "followups_cancelled": g.followups_cancelled,
        "followups_expired": g.followups_expired,
        "rule_blocked": g.rule_blocked,
        "rule_overridden": g.rule_overridden,
    }


def to_json(r: Report) -> dict[str, object]:
    return {
        "since": r.since.isoformat(),
        "until": r.until.isoformat(),
        "by": r.by,
        "sla_minutes": r.sla_minutes,
        "groups": [group_dict(g) for g in r.groups],
        "total": group_dict(r.total),
        "on_fire": [
            {
                "product_id": f.product_id,
                "product": f.label,
                "problems": f.current,
                "previous_period": f.previous,
                "by_topic": {k: {"now": c, "before": p} for k, (c, p) in f.by_topic.items()},
                "message_ids": list(f.message_ids),
            }
            for f in r.fire
        ],
    }


def to_csv(r: Report) -> str:
    """One row per group and a final ``total`` row; the same columns as the JSON groups."""
    buf = io.StringIO()
    rows = [group_dict(g) for g in [*r.groups, r.total]]
    writer = csv.DictWriter(buf, fieldnames=list(group_dict(r.total)), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def human_duration(seconds: float | None) -> str:
    """``45s``, ``12m``, ``3h 05m``, ``2d 4h``; ``—`` for None."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def percent(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"
