"""Follow-up policy: scheduling with the rule check, the send-time re-check, the resolve flow.

The store (``store.followups``) guarantees "claimed once, queued atomically"; this module
decides *whether* a due follow-up should still go out, and when:

- the buyer wrote after it was scheduled -> ``cancelled`` (``cancel_followup_if_buyer_writes``);
- team mode: the buyer or another operator wrote after it was scheduled (and it was not
  cancelled by the rule above) -> ``held`` with "Иван replied at 14:02 — review"; a person
  sends it anyway (:func:`send_anyway`) or cancels it;
- the chat is finished/closed, or the marketplace's reply window has passed -> ``expired``
  with the reason (Ozon: 48 h after the buyer's last message; YM: FINISHED chats);
- a hard limit is broken (text edited too long) -> ``failed`` with the reason;
- outside the seller's sending window (default 09:00–21:00 local) -> moved to the next
  allowed minute;
- otherwise it is queued into the outbox like a manual reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from chatdesk import marketplaces, rules, templates
from chatdesk.config import Config
from chatdesk.connectors import LABELS
from chatdesk.errors import UsageError
from chatdesk.paths import templates_dir
from chatdesk.sanitize import safe_text
from chatdesk.store import followups as store_followups
from chatdesk.store import team as team_store
from chatdesk.store import views
from chatdesk.store.db import Database
from chatdesk.store.followups import Arrival, DueCheck, Verdict
from chatdesk.timeparse import next_allowed
from chatdesk.usecases import team

WAITING_WARNING = "the buyer is waiting for an answer; a follow-up does not answer them"
"""Said once when a follow-up is scheduled into a chat whose buyer is waiting: a scheduled nudge
neither answers the question nor takes the chat out of the waiting queue (fuanswer item 1)."""


def waiting_warning(chat: views.ChatRow) -> str | None:
    """:data:`WAITING_WARNING` if the buyer of ``chat`` is waiting for an answer (the list's ◷),
    else None."""
    return WAITING_WARNING if chat.waiting else None


def template_values(chat: views.ChatRow, config: Config) -> dict[str, str | None]:
    # WB and Ozon give an article number, not a name: say "товар (арт. N)" rather than a bare number.
    product = chat.context.get("title") or (f"товар (арт. {chat.product_id})" if chat.product_id else None)
    return {
        "customer": chat.customer,
        "order": chat.order_id,
        "product": product,
        "seller": config.seller_name or None,
        "marketplace": LABELS.get(chat.marketplace, chat.marketplace),
    }


def load_templates(config_home: str | None = None) -> list[templates.Template]:
    """The user's templates (the starter set is installed on first use)."""
    folder = templates_dir(config_home)
    templates.install_default_templates(folder)
    found, _errors = templates.load_templates(folder)
    return found


def render_template(name: str, chat: views.ChatRow, config: Config, home: str | None = None) -> str:
    found = {t.name: t for t in load_templates(home)}
    folder = templates_dir(home)
    if name not in found:
        _ok, errors = templates.load_templates(folder)
        broken = [str(e) for e in errors if e.path.stem == name]
        if broken:
            raise UsageError(f"template {name!r} is broken: {broken[0]}")
        raise UsageError(f"no template named {name!r} in {folder} (see: chatdesk templates list)")
    return templates.render(found[name], template_values(chat, config))


def check_text(chat: views.ChatRow, text: str, *, force: bool, at: datetime | None = None) -> list[str]:
    """Hard limits always refuse (among them the marketplace's reply window at ``at``, the
    follow-up's due time: one that would certainly expire is refused now); content warnings
    refuse unless forced. Returns the overridden warning codes, recorded with the follow-up."""
    findings = rules.check_chat(text, chat, at=at)
    hard = rules.hard(findings)
    if hard:
        raise UsageError("refused: " + "; ".join(rules.describe(hard, text)))
    warns = rules.warnings(findings)
    if warns and not force:
        raise UsageError("not scheduled: " + "; ".join(rules.describe(warns, text)) + " (use --force to keep it)")
    return sorted({w.code for w in warns})


def schedule(
    db: Database,
    config: Config,
    chat_id: int,
    due_at: datetime,
    text: str,
    *,
    template: str | None = None,
    rule: str | None = None,
    force: bool = False,
    anyway: bool = False,
) -> int:
    """Schedule a follow-up. Team mode: refused with :class:`team.ReviewNeeded` when the buyer
    or another operator wrote since this operator last looked, unless ``anyway``."""
    chat = views.get_chat(db, chat_id)
    if chat is None:
        raise UsageError(f"no chat with id {chat_id}")
    overrides = check_text(chat, text, force=force, at=due_at)
    team.check_before_send(db, chat_id, anyway=anyway)
    return store_followups.add(
        db,
        chat_id,
        due_at,
        text,
        template=template,
        rule=rule,
        overrides=overrides,
        cancel_if_buyer_writes=config.cancel_followup_if_buyer_writes,
        operator=db.operator,
    )


def held_reason(changes: tuple[Arrival, ...], names: dict[str, str], tz: tzinfo) -> str:
    """One line for a held follow-up: "Иван replied at 14:02 / the buyer wrote again at 14:05
    — review" (times in the seller's time zone; names sanitized for the terminal)."""
    parts: list[str] = []
    repliers: dict[str, datetime] = {}
    buyer_at: datetime | None = None
    for c in changes:
        if c.author == "seller":
            who = names.get(c.operator or "", c.operator or "someone on the marketplace portal")
            repliers[who] = c.created_at
        else:
            buyer_at = c.created_at
    for who, at in repliers.items():
        parts.append(f"{safe_text(who, single_line=True, max_len=64)} replied at {at.astimezone(tz):%H:%M}")
    if buyer_at is not None:
        parts.append(f"the buyer wrote again at {buyer_at.astimezone(tz):%H:%M}")
    return " / ".join(parts) + " — review"


def decide(check: DueCheck, now: datetime, config: Config, names: dict[str, str] | None = None) -> Verdict:
    """The send-time re-check of one due follow-up (run in the claim's transaction).
    ``names``: operator name -> display name, for a held follow-up's reason."""
    if check.cancel_if_buyer_writes:
        # Order of arrival in the store decides, never the marketplace's clock against ours;
        # only follow-ups scheduled before that was recorded fall back to comparing times.
        wrote = check.buyer_wrote_after
        if wrote is None:
            wrote = bool(check.last_buyer_at and check.last_buyer_at > check.created_at)
        if wrote:
            return "cancelled", "the buyer wrote after it was scheduled"
    if check.changes:  # team mode: someone wrote since it was scheduled; a person decides
        return "held", held_reason(check.changes, names or {}, config.tz)
    status = (check.status or "").upper()
    if status in views.CLOSED_STATUSES and check.kind == "chat":
        return "expired", f"the chat is {status.lower()}: the marketplace no longer accepts messages in it"
    hard = rules.hard(rules.check_chat(check.text, check, now=now))
    if any(f.code == "window_closed" for f in hard):
        return "expired", next(f.reason for f in hard if f.code == "window_closed")
    if hard:
        return "failed", "; ".join(rules.describe(hard))
    if check.ignore_window:  # a person asked for it to go now
        return "send", None
    start, end = config.window
    allowed = next_allowed(now, start=start, end=end, tz=config.tz)
    if allowed > now + timedelta(seconds=59):
        return "later", allowed
    return "send", None


def deliver_due(db: Database, config: Config) -> list[int]:
    """Queue every due follow-up that should still go out; return the accounts touched."""
    names = team_store.display_names(db)
    return store_followups.deliver_due(db, lambda check, now: decide(check, now, config, names))


def send_anyway(db: Database, followup_id: int) -> None:
    """A person reviewed a held follow-up (``followup send --anyway``, the follow-ups screen) and
    sends it anyway: due now, in their name in team mode; only messages arriving after this
    decision hold it again. Raises UsageError unless it is pending or held."""
    store_followups.send_anyway(db, followup_id, db.operator)


RESOLVE_RULES = (
    # (config key, rule name, template name, applies to consumables only)
    ("check_in_days", "check-in", "checkin", False),
    ("restock_days", "restock", "restock", True),
    ("cross_sell_days", "cross-sell", "cross_sell", False),
)


@dataclass(frozen=True)
class PlannedFollowUp:
    """One resolve rule for one chat: when it would go out, or why it will not (``skip``)."""

    rule: str
    template: str
    due: datetime | None
    skip: str | None = None


def reply_window(marketplace: str) -> timedelta | None:
    """The marketplace's reply window (``marketplaces.<id>.reply_window``), if it has one."""
    row = marketplaces.MARKETPLACES.get(marketplace)
    return row.reply_window if row is not None else None


def reply_window_closes(chat: views.ChatRow) -> datetime | None:
    """When the marketplace stops accepting seller messages in ``chat`` (``None``: no window).

    Source: ``marketplaces.<id>.reply_window`` (Ozon: 48 h after the buyer's last message,
    [OZ-26-07]); a chat whose buyer never wrote is closed already (the window is measured from
    a buyer message)."""
    return rules.reply_window_closes(chat.marketplace, chat.kind, chat.last_buyer_at)


def resolve_plan(
    chat: views.ChatRow, config: Config, now: datetime, existing: frozenset[str] | set[str] = frozenset()
) -> list[PlannedFollowUp]:
    """What resolving ``chat`` at ``now`` would schedule, rule by rule, with the reason a rule is
    skipped: not configured, already pending, questions have no follow-ups, not a consumable,
    or certain to expire after the marketplace's reply window closes."""
    start, end = config.window
    closes = reply_window_closes(chat)
    window = reply_window(chat.marketplace)
    hours = int(window.total_seconds() // 3600) if window is not None else 0
    label = LABELS.get(chat.marketplace, chat.marketplace)
    plan: list[PlannedFollowUp] = []
    for key, rule, template, consumable_only in RESOLVE_RULES:
        days = config.resolve_rules.get(key)
        if not days:
            continue
        if chat.kind != "chat":
            plan.append(PlannedFollowUp(rule, template, None, "questions get no follow-ups"))
            continue
        if rule in existing:
            plan.append(PlannedFollowUp(rule, template, None, "already scheduled"))
            continue
        if consumable_only and (chat.product_id or "") not in config.consumables:
            why = "no consumables configured" if not config.consumables else "this product is not a consumable"
            plan.append(PlannedFollowUp(rule, template, None, why))
            continue
        due = next_allowed(now + timedelta(days=int(days)), start=start, end=end, tz=config.tz)
        if closes is not None and due > closes:
            why = f"{label} accepts messages only within {hours} h of the buyer's last message: it would expire"
            plan.append(PlannedFollowUp(rule, template, due, why))
            continue
        plan.append(PlannedFollowUp(rule, template, due))
    return plan


def resolve(db: Database, config: Config, chat_id: int, now: datetime, home: str | None = None) -> list[int]:
    """Mark a chat resolved and schedule the configured follow-ups (each visible and
    cancellable before it is due). Returns the new follow-up ids."""
    chat = views.get_chat(db, chat_id)
    if chat is None:
        raise UsageError(f"no chat with id {chat_id}")
    store_followups.mark_resolved(db, chat_id)
    pending = store_followups.list_followups(db, chat_id=chat_id, states=("pending",))
    existing = {f.rule for f in pending if f.rule is not None}
    created: list[int] = []
    for planned in resolve_plan(chat, config, now, existing):
        if planned.skip is not None or planned.due is None:
            continue  # skipped rules are said at scheduling time (resolve_plan gives the reason)
        try:
            text = render_template(planned.template, chat, config, home)
            created.append(
                schedule(db, config, chat_id, planned.due, text, template=planned.template, rule=planned.rule)
            )
        except UsageError:
            continue  # a broken or missing template skips that rule; `templates list` shows why
    return created
