"""A model of two chatdesk processes delivering one outbox, for the interleaving property test
(issue 12 §6) and its soak/bench run.

Each process runs exactly the steps ``sync.delivery`` takes, through the real store functions
on a real SQLite file: settle interrupted rows, claim one row (fenced token), announce the part
(``begin_part``), the request itself (on the fake marketplace, which records what it accepted),
then the fenced verdict. Hypothesis picks the interleaving and what can go wrong between any
two steps: rate-limit answers, refusals, timeouts before or after the marketplace processed
the request, a process that waits (renewing its claim) or stalls (its lease lapses), lease
takeover by the other process, SIGKILL (the process's memory is gone; a restarted one has a new
owner id).

Delivered at most once: the marketplace never accepts a part twice, checked after every step.
At least once: after a healthy phase (every process finishes or is killed, an echo sync, the
user re-queues what the marketplace shows it never got, the survivors deliver), every part was
accepted exactly once and every row is ``sent`` and done.
"""

from __future__ import annotations

import itertools
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from chatdesk.model import MessageInfo, Page
from chatdesk.store import accounts, ingest, outbox, views
from chatdesk.store.db import Database
from chatdesk.store.schema import Outbox

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
OUTCOMES = ("accepted", "rate_limited", "refused", "timeout_after", "timeout_before")
ACTIONS = ("claim", "begin", "send", "verdict", "rate_wait", "stall", "takeover", "kill", "restart", "echo", "lapse")


@dataclass
class Proc:
    name: str
    owner: str
    alive: bool = True
    job: outbox.OutboxJob | None = None
    stage: str = "idle"  # idle | claimed | begun | sent
    outcome: str | None = None


@dataclass
class Figures:
    interleavings: int = 0
    steps: int = 0
    parts_sent: int = 0  # requests the marketplace accepted
    duplicates: int = 0
    losses: int = 0
    takeovers: int = 0
    fenced_refusals: int = 0  # writes by a process that no longer owned the row, refused
    kills: int = 0
    distinct: set[tuple[str, ...]] = field(default_factory=set)


class World:
    def __init__(self, folder: Path, replies: int, parts: int) -> None:
        self.db = Database(f"sqlite:///{folder / 'm.db'}")
        acc = accounts.add_account(self.db, "wb", "wildberries")
        self.account_id = acc.id
        ingest.apply_page(self.db, acc.id, "chats", Page(messages=(MessageInfo("c1", "b1", "buyer", "?", T0),)))
        self.chat_id = views.list_chats(self.db)[0].id
        self.accepted: Counter[int] = Counter()  # message id -> times the marketplace accepted it
        self.accepted_text: dict[int, str] = {}
        self.ids: list[int] = []
        for r in range(replies):
            ids = outbox.enqueue_parts(self.db, self.chat_id, [(f"reply {r} part {p}", []) for p in range(parts)])
            self.ids.extend(ids)
        self.texts = {mid: outbox_text(self.db, mid) for mid in self.ids}
        self.procs = {"A": Proc("A", "A#1"), "B": Proc("B", "B#1")}
        self.dead: set[str] = set()
        self.restarts = itertools.count(2)
        self.echoed: set[int] = set()
        self.echo_seq = itertools.count(1)

    # -- what the engine does, step by step
    def gone(self, owner: str) -> bool:
        return owner in self.dead

    def step(self, action: str, who: str, outcome: str, figures: Figures) -> None:
        p = self.procs[who]
        other = self.procs["B" if who == "A" else "A"]
        if action == "restart" and not p.alive:
            self.procs[who] = Proc(who, f"{who}#{next(self.restarts)}")
            return
        if not p.alive:
            return
        if action == "kill":
            p.alive = False
            self.dead.add(p.owner)
            figures.kills += 1
            return
        if action == "echo":
            self.sync_echoes()
            return
        if action == "lapse":  # p stalls past its lease and the other process takes over at once
            self.step("stall", who, outcome, figures)
            self.step("takeover", other.name, outcome, figures)
            return
        if action == "takeover":
            figures.takeovers += outbox.settle_interrupted(self.db, self.account_id, gone=self.gone)
            return
        if action == "stall" and p.job is not None:  # paused past its lease: it did not renew
            with self.db.write() as s:
                s.execute(
                    update(Outbox)
                    .where(Outbox.id == p.job.outbox_id, Outbox.claimed_by == p.owner)
                    .values(claimed_until=T0 - timedelta(days=1))
                )
            return
        if action == "rate_wait" and p.job is not None:  # waiting, alive: the heartbeat renews
            if not outbox.renew(self.db, p.job):
                figures.fenced_refusals += 1
            return
        if action == "claim" and p.stage == "idle":
            outbox.settle_interrupted(self.db, self.account_id, gone=self.gone)
            jobs = outbox.claim_due(self.db, self.account_id, p.owner, 1)
            if jobs:
                p.job, p.stage = jobs[0], "claimed"
            return
        if action == "begin" and p.stage == "claimed" and p.job is not None:
            if outbox.begin_part(self.db, p.job, 0):
                p.stage = "begun"
            else:
                figures.fenced_refusals += 1
                p.job, p.stage = None, "idle"
            return
        if action == "send" and p.stage == "begun" and p.job is not None:
            if outcome in ("accepted", "timeout_after"):
                self.accept(p.job.message_id, figures)
            p.stage, p.outcome = "sent", outcome
            return
        if action == "verdict" and p.stage == "sent" and p.job is not None:
            self.verdict(p, figures)
            return

    def accept(self, message_id: int, figures: Figures) -> None:
        self.accepted[message_id] += 1
        figures.parts_sent += 1
        if self.accepted[message_id] > 1:
            figures.duplicates += 1

    def verdict(self, p: Proc, figures: Figures) -> None:
        job, outcome = p.job, p.outcome
        assert job is not None
        past = T0 - timedelta(days=1)  # due again at once: the model has no clock to wait on
        if outcome == "accepted":
            ok = outbox.part_accepted(self.db, job, 0) and outbox.mark_sent(self.db, job)
        elif outcome == "rate_limited":
            ok = outbox.retry_later(self.db, job, past, "rate limited")
        elif outcome == "timeout_before":
            ok = outbox.retry_later(self.db, job, past, "not sent yet")
        elif outcome == "refused":
            ok = outbox.mark_failed(self.db, job, "refused")
        else:
            ok = outbox.mark_unknown(self.db, job, "no answer; it may have arrived")
        if not ok:
            figures.fenced_refusals += 1
        p.job, p.stage, p.outcome = None, "idle", None

    def sync_echoes(self) -> None:
        """The marketplace's feed: every accepted message comes back once (by its text)."""
        fresh = [m for m in self.accepted if m not in self.echoed]
        if not fresh:
            return
        msgs = tuple(
            MessageInfo("c1", f"e{next(self.echo_seq)}", "seller", self.texts[m], T0 + timedelta(seconds=i))
            for i, m in enumerate(sorted(fresh))
        )
        ingest.apply_page(self.db, self.account_id, "chats", Page(messages=msgs))
        self.echoed.update(fresh)

    # -- the healthy phase
    def heal(self, figures: Figures) -> None:
        """The marketplace is healthy from now on. Survivors finish the request they have on
        the wire and then exit; the rows of every process that is gone are settled; the echo
        sync settles what arrived; the user re-queues (R) what the marketplace shows it never
        got; a fresh process delivers the rest."""
        for p in self.procs.values():
            if p.alive and p.stage == "begun" and p.job is not None:
                self.accept(p.job.message_id, figures)
                p.stage, p.outcome = "sent", "accepted"
            if p.alive and p.stage == "sent":
                self.verdict(p, figures)
            if p.alive:  # a clean exit: whatever it merely claimed goes back to the queue
                p.alive = False
                self.dead.add(p.owner)
        outbox.settle_interrupted(self.db, self.account_id, gone=self.gone)
        self.sync_echoes()
        for mid in self.ids:
            state, _ = outbox.message_state(self.db, mid)
            if state in ("failed", "unknown"):
                assert self.accepted[mid] == 0, f"message {mid} arrived but is still {state}"
                outbox.requeue(self.db, mid)
        for _ in range(len(self.ids) + 1):
            jobs = outbox.claim_due(self.db, self.account_id, "healer", 1)
            if not jobs:
                break
            assert outbox.begin_part(self.db, jobs[0], 0)
            self.accept(jobs[0].message_id, figures)
            assert outbox.part_accepted(self.db, jobs[0], 0) and outbox.mark_sent(self.db, jobs[0])
        self.sync_echoes()

    def check_final(self, figures: Figures) -> None:
        for mid in self.ids:
            if self.accepted[mid] == 0:
                figures.losses += 1
            assert outbox.message_state(self.db, mid)[0] == "sent", (mid, outbox.message_state(self.db, mid))
        assert outbox.pending_count(self.db) == 0
        assert outbox.invariant_violations(self.db) == []


def outbox_text(db: Database, message_id: int) -> str:
    from chatdesk.store.schema import Message

    with db.read() as s:
        msg = s.get(Message, message_id)
        assert msg is not None
        return msg.text


def run(steps: list[tuple[str, str, str]], replies: int, parts: int, total: Figures) -> None:
    """One interleaving, start to finish, with every property checked; figures add to ``total``."""
    figures = Figures()
    with tempfile.TemporaryDirectory() as folder:
        world = World(Path(folder), replies, parts)
        try:
            for action, who, outcome in steps:
                world.step(action, who, outcome, figures)
                figures.steps += 1
                assert figures.duplicates == 0, f"delivered twice after {action} by {who}"
                assert all(n <= 1 for n in world.accepted.values())
                assert outbox.invariant_violations(world.db) == []
            world.heal(figures)
            world.check_final(figures)
            assert figures.duplicates == 0 and figures.losses == 0
            figures.interleavings += 1
            figures.distinct.add(tuple(f"{a}:{w}:{o}" for a, w, o in steps))
        finally:
            world.db.close()
            for name in ("interleavings", "steps", "parts_sent", "duplicates", "losses"):
                setattr(total, name, getattr(total, name) + getattr(figures, name))
            for name in ("takeovers", "fenced_refusals", "kills"):
                setattr(total, name, getattr(total, name) + getattr(figures, name))
            total.distinct |= figures.distinct
