"""Offline reply suggestions: "how did I answer this before", plus the best-matching templates.

For a chat's latest buyer message, past buyer questions like it (Snowball stems, BM25 over the
full-text index, see :mod:`chatdesk.store.suggest`) that the seller answered are offered with
their answer re-addressed to this chat (the other buyer's name, order and product replaced by
this chat's), same product first, identical answers merged. Every suggestion says why it was
offered and carries its rule-check findings: a suggestion is a draft for a human, never a send.

Nothing here leaves the machine. Headless: no Textual import.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from chatdesk import rules, templates
from chatdesk.assist import topics
from chatdesk.config import Config
from chatdesk.errors import UsageError
from chatdesk.store import suggest as store_suggest
from chatdesk.store import terms, views
from chatdesk.store.db import Database

Source = Literal["past", "template", "model"]

RELEVANT = 0.6
"""A past question sharing at least this fraction of the best candidate's share of the buyer's
meaningful words is relevant; relevant ones about the same product come first."""

MIN_SHARED = 2
"""A past question or template must share at least this many of the buyer's meaningful words
(or all of them when the message has fewer): one common word ("фото") is chance, not likeness."""

_LONG_NUMBER = re.compile(r"\d[\d-]{5,}\d")

THANKS_REPLY_MAX_CHARS = 160
"""A buyer who only thanks gets a reply at most this long (one paragraph) or none: a long
answer, or a template frame with an empty middle, is not a reply to thanks."""

_THANKS_FOR_A_QUESTION = re.compile(r"(?:за|на)\s+(?:ваш[а-я]*\s+)?вопрос|ответим|уточним", re.IGNORECASE)
"""Wording that answers a question ("Спасибо за ваш вопрос", "уточним и ответим"), not thanks."""

_BLANK_RUN = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """``text`` as a draft: trailing spaces cut from each line, runs of empty lines made one,
    leading and trailing blank lines and spaces removed ("Спасибо.\\n\\n\\n" -> "Спасибо.")."""
    lines = "\n".join(line.rstrip() for line in text.splitlines())
    return _BLANK_RUN.sub("\n\n", lines).strip()


def fits_thanks(text: str) -> bool:
    """True when ``text`` reads as a reply to a buyer's thanks: one short paragraph
    (:data:`THANKS_REPLY_MAX_CHARS`) that does not answer or promise to answer a question."""
    return len(text) <= THANKS_REPLY_MAX_CHARS and "\n\n" not in text and not _THANKS_FOR_A_QUESTION.search(text)


@dataclass(frozen=True)
class Suggestion:
    """One draft. ``reason`` says in words why it is offered; ``findings`` is the rule check of
    ``text`` for this chat's marketplace (hard ones would block sending); ``notes`` are things
    the seller should check before sending (e.g. a number that belonged to the other buyer)."""

    source: Source
    text: str
    reason: str
    question: str | None = None
    asked_at: datetime | None = None
    product: str | None = None
    same_product: bool = False
    uses: int = 1
    from_chat_id: int | None = None
    template: str | None = None
    findings: tuple[rules.Finding, ...] = ()
    notes: tuple[str, ...] = ()
    topic: str | None = None


@dataclass(frozen=True)
class Suggestions:
    """The answer for one chat. ``for_message_id`` is the buyer message the suggestions answer:
    if the chat's latest buyer message is another one by the time they are shown, the chat
    changed meanwhile and they must be dropped. ``elapsed_ms`` is wall time spent. ``topic`` is
    the buyer message's topic code (:data:`chatdesk.assist.topics.TOPICS`), None without one."""

    chat_id: int
    for_message_id: int | None
    buyer_text: str | None
    items: tuple[Suggestion, ...] = ()
    elapsed_ms: float = 0.0
    notices: tuple[str, ...] = field(default_factory=tuple)
    topic: str | None = None


def product_label(product_id: str | None, context: dict[str, str] | str | None) -> str | None:
    """A product's name for people: its title when the marketplace gave one, else "арт. N"."""
    ctx: dict[str, object] = {}
    if isinstance(context, str):
        try:
            loaded = json.loads(context)
            ctx = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            ctx = {}
    elif context:
        ctx = dict(context)
    title = ctx.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    return f"арт. {product_id}" if product_id else None


FILL_IN = {"order": "{номер заказа}", "product_id": "{артикул}", "product": "{товар}"}
"""What a re-addressed answer shows where the other buyer's order, product number or product
name stood and this chat has none: visible, so the seller fills it in (a "check:" note says
so) instead of reading a sentence with a hole ("по заказу мы открыли")."""

_MISSING = {
    "order": "this chat has no order number",
    "product_id": "this chat has no product number",
    "product": "this chat has no product",
}


def readdress(
    answer: str,
    past: store_suggest.PastAnswer,
    values: dict[str, str | None],
    product_id: str | None = None,
) -> tuple[str, list[str]]:
    """The past answer re-addressed to this chat: the other buyer's name, order number, product
    number and product name (where they stand as whole words) become this chat's ``values``
    (keys as in :data:`chatdesk.templates.PLACEHOLDERS`) and ``product_id`` (a product number
    stays a number: "на артикул 173300412" -> "на артикул 160087432"). A missing name is left
    out with the punctuation tidied as templates tidy it ("Дмитрий, поставка" -> "Поставка"); a
    missing order or product becomes a visible :data:`FILL_IN` placeholder with a note, never a
    gap. Returns (text, notes for the seller: placeholders to fill, long numbers that may
    belong to the other buyer)."""
    past_product = product_label(past.product_id, past.context)
    fills: dict[str, str | None] = {
        "order": values.get("order"),
        "product_id": product_id,
        "product": values.get("product"),
    }
    swaps: list[tuple[str, str]] = []
    if past.customer and len(past.customer.strip()) >= 2:
        swaps.append((past.customer.strip(), "customer"))
    if past.order_id and len(past.order_id) >= 3:
        swaps.append((past.order_id, "order"))
    if past_product and not past_product.startswith("арт. "):
        swaps.append((past_product, "product"))
    if past.product_id and len(past.product_id) >= 3:
        swaps.append((past.product_id, "product_id"))
    # Longest first, through markers that cannot occur in text, so that one value inside
    # another (an order number containing the product number) is replaced once, whole.
    swaps.sort(key=lambda sw: -len(sw[0]))
    body = answer.replace("\x00", "")
    for n, (old, _key) in enumerate(swaps):
        body = _replace_word(body, old, f"\x00{n}\x00")
    notes: list[str] = []
    out: list[str] = []
    for n, piece in enumerate(body.split("\x00")):
        if n % 2 == 0:
            out.append(piece.replace("{", "{{").replace("}", "}}"))
            continue
        key = swaps[int(piece)][1]
        if key == "customer":
            out.append("{customer}")
            continue
        value = fills[key]
        if not value:
            value = FILL_IN[key]
            note = f"fill in {value}: {_MISSING[key]}"
            if note not in notes:
                notes.append(note)
        out.append(value.replace("{", "{{").replace("}", "}}"))
    text = tidy(templates.render(templates.Template(name="past", text="".join(out)), values))
    known = {v for v in (*values.values(), product_id) if v}
    for m in _LONG_NUMBER.finditer(text):
        if not any(m.group(0) in k for k in known):
            notes.append(f"mentions {m.group(0)}: check that it fits this buyer")
    return text, notes


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _replace_word(body: str, old: str, new: str) -> str:
    """``body`` with every occurrence of ``old`` that is not part of a longer word (``\\w`` on
    neither side) replaced by ``new``; like ``re.sub`` with look-arounds, without compiling a
    pattern per past answer (a lookup re-addresses dozens of them)."""
    out: list[str] = []
    i = 0
    while (j := body.find(old, i)) >= 0:
        end = j + len(old)
        if (j > 0 and _is_word_char(body[j - 1])) or (end < len(body) and _is_word_char(body[end])):
            out.append(body[i : j + 1])
            i = j + 1
            continue
        out.append(body[i:j])
        out.append(new)
        i = end
    out.append(body[i:])
    return "".join(out)


def topic_tier(buyer_topic: str | None, topic: str | None) -> int | None:
    """How a past question's (or template's) ``topic`` fits the buyer message's: 0 the same
    topic (or the buyer's has none), 1 the past one has none, 2 another topic, None another
    *problem* topic (:data:`chatdesk.assist.topics.PROBLEM_TOPICS`): a defect answer to a
    delivery question misleads, so it is not offered at all; nor is anything but a reply to
    thanks when the buyer only thanks ("Спасибо, заказала" is not "Можно заказать 100 штук?")."""
    if buyer_topic in (None, "other") or topic == buyer_topic:
        return 0
    if buyer_topic == "thanks":
        return None
    if topic in (None, "other"):
        return 1
    if buyer_topic in topics.PROBLEM_TOPICS and topic in topics.PROBLEM_TOPICS:
        return None
    return 2


def topic_words(code: str | None) -> str:
    """A topic in the seller's words for the "why" line: "доставка"; "" for none/other."""
    return topics.SHORT.get(code or "", "") if code else ""


def _shared(query: list[terms.Term], text: str) -> int:
    ws = terms.words(text)
    return sum(1 for t in query if any(w.startswith(t.text) if t.prefix else w == t.text for w in ws))


def _coverage(query: list[terms.Term], text: str) -> float:
    """Share of the query's terms found in ``text``; 0 when fewer than :data:`MIN_SHARED` are."""
    if not query:
        return 0.0
    hit = _shared(query, text)
    return hit / len(query) if hit >= min(MIN_SHARED, len(query)) else 0.0


def _norm(text: str) -> str:
    return " ".join(terms.words(text))


def rank_past(
    past: Sequence[store_suggest.PastAnswer],
    query: list[terms.Term],
    chat: views.ChatRow,
    values: dict[str, str | None],
    limit: int,
    topic: str | None = None,
) -> list[Suggestion]:
    """Order past answers: by how the past question's topic fits the buyer's ``topic`` (see
    :func:`topic_tier`: same topic first, another problem topic dropped), then relevant
    (:data:`RELEVANT` of the best share of words) first, the same product first among them, then
    more words shared, then BM25; identical answers merge (counted in ``uses``, the newest
    question kept as the reason). A past question's topic is its stored tag, else the rules'."""
    covs = [_coverage(query, p.question) for p in past]
    bar = RELEVANT * max(covs, default=0.0)
    scored = []
    for p, cov in zip(past, covs, strict=True):
        if cov == 0:
            continue
        their = p.topic or topics.classify(p.question).code
        tier = topic_tier(topic, their)
        if tier is None:
            continue
        same = bool(chat.product_id) and p.product_id == chat.product_id
        scored.append(((tier, cov < bar, not same, -cov, p.score, -p.asked_at.timestamp()), same, their, p))
    scored.sort(key=lambda item: item[0])
    merged: dict[str, list[tuple[bool, str, store_suggest.PastAnswer, str, list[str]]]] = {}
    for _key, same, their, p in scored:
        text, notes = readdress(p.answer, p, values, chat.product_id)
        merged.setdefault(_norm(text), []).append((same, their, p, text, notes))
    out: list[Suggestion] = []
    for group in merged.values():
        same, their, p, text, notes = group[0]
        product = product_label(p.product_id, p.context)
        when = p.asked_at.strftime("%d.%m.%Y")
        reason = f"you answered «{_clip(p.question)}» on {when}"
        details = []
        if product:
            details.append("same product" if same else product)
        if topic_words(their):
            details.append(("same topic: " if their == topic else "topic: ") + topic_words(their))
        if details:
            reason += f" ({'; '.join(details)})"
        if len(group) > 1:
            reason += f"; this answer was used {len(group)} times"
        out.append(
            Suggestion(
                source="past",
                text=text,
                reason=reason,
                question=p.question,
                asked_at=p.asked_at,
                product=product,
                same_product=same,
                uses=len(group),
                from_chat_id=p.chat_id,
                notes=tuple(notes),
                topic=their,
            )
        )
        if len(out) >= limit:
            break
    return out


def _clip(text: str, n: int = 70) -> str:
    one = " ".join(text.split())
    return one if len(one) <= n else one[: n - 1] + "…"


def match_templates(
    found: Sequence[templates.Template],
    query: list[terms.Term],
    values: dict[str, str | None],
    limit: int,
    topic: str | None = None,
) -> list[Suggestion]:
    """Templates sharing words with the buyer's message (name, description and text; stems),
    those whose own topic fits the buyer's ``topic`` best first (see :func:`topic_tier`; a
    template about another problem is left out), most shared first, filled with this chat's
    values. Templates sharing none are left out."""
    ranked = []
    for t in found:
        about = f"{t.name} {t.description} {t.text}"
        cov = _coverage(query, about)
        if cov > 0:
            tier = topic_tier(topic, topics.classify(f"{t.description} {t.text}").code)
            if tier is not None:
                ranked.append((tier, -cov, t.name, t))
    ranked.sort(key=lambda item: item[:3])
    out = []
    for _tier, neg, _name, t in ranked[:limit]:
        shared = round(-neg * len(query))
        reason = f"template «{t.name}»" + (f" ({t.description})" if t.description else "")
        reason += f": shares {shared} of {len(query)} words with the buyer's message"
        missing = templates.missing(t, values)
        notes = tuple(f"this chat has no {{{m}}}: the text leaves it out" for m in missing)
        out.append(
            Suggestion(
                source="template", text=tidy(templates.render(t, values)), reason=reason, template=t.name, notes=notes
            )
        )
    return out


def check(chat: views.ChatRow, s: Suggestion, now: datetime | None = None) -> Suggestion:
    """``s`` with the rule check of its text for ``chat`` (the same check as anything typed),
    the reply window judged at ``now`` (default: the wall clock; the TUI passes its clock)."""
    findings = rules.check_chat(s.text, chat, now=now)
    return Suggestion(**{**s.__dict__, "findings": tuple(findings)})


def template_values(chat: views.ChatRow, config: Config) -> dict[str, str | None]:
    """This chat's placeholder values, as templates and follow-ups fill them."""
    from chatdesk.usecases.followups import template_values as values

    return values(chat, config)


def suggest(
    db: Database,
    chat_id: int,
    *,
    config: Config,
    found_templates: Sequence[templates.Template] = (),
    limit: int = 3,
    template_limit: int = 2,
    now: datetime | None = None,
) -> Suggestions:
    """Suggestions for the chat's latest buyer message: up to ``limit`` past answers and
    ``template_limit`` templates, each rule-checked (reply window judged at ``now``, default the
    wall clock). Raises UsageError for an unknown chat,
    StoreError on store errors. Offline; about 100 ms (p95 under 200 ms) on a 1M-message store
    (see bench figure "suggestions")."""
    started = time.perf_counter()
    chat = views.get_chat(db, chat_id)
    if chat is None:
        raise UsageError(f"no chat {chat_id}")
    latest = store_suggest.latest_buyer_message(db, chat_id)
    if latest is None:
        return Suggestions(chat_id, None, None, notices=("the buyer has not written anything to answer yet",))
    query = terms.similarity_terms(latest.text)
    topic = latest.topic or topics.classify(latest.text).code
    values = template_values(chat, config)
    past = store_suggest.past_answers(db, query, chat_id)
    items = rank_past(past, query, chat, values, limit, topic) + match_templates(
        found_templates, query, values, template_limit, topic
    )
    notices: tuple[str, ...] = ()
    if topic == "thanks":
        kept = [s for s in items if fits_thanks(s.text)]
        if items and not kept:
            notices = ("the buyer only says thanks: a reply is optional, and no past reply to thanks is short",)
        items = kept
    if not items and not notices:
        notices = ("nothing like this was answered before, and no template shares its words",)
    return Suggestions(
        chat_id=chat_id,
        for_message_id=latest.id,
        buyer_text=latest.text,
        items=tuple(check(chat, s, now) for s in items),
        elapsed_ms=(time.perf_counter() - started) * 1000,
        notices=notices,
        topic=topic,
    )


def still_current(db: Database, result: Suggestions) -> bool:
    """True when the chat's latest buyer message is still the one the suggestions answer
    (call it off the UI loop before putting a suggestion into the composer)."""
    latest = store_suggest.latest_buyer_message(db, result.chat_id)
    return (latest.id if latest else None) == result.for_message_id


def to_json(result: Suggestions) -> dict[str, object]:
    """The ``--json`` shape: plain types, times ISO 8601 UTC."""
    return {
        "chat_id": result.chat_id,
        "for_message_id": result.for_message_id,
        "buyer_text": result.buyer_text,
        "topic": result.topic,
        "elapsed_ms": round(result.elapsed_ms, 1),
        "notices": list(result.notices),
        "suggestions": [
            {
                "source": s.source,
                "text": s.text,
                "reason": s.reason,
                "question": s.question,
                "asked_at": s.asked_at.isoformat() if s.asked_at else None,
                "product": s.product,
                "same_product": s.same_product,
                "uses": s.uses,
                "from_chat_id": s.from_chat_id,
                "template": s.template,
                "topic": s.topic,
                "notes": list(s.notes),
                "findings": [
                    {"code": f.code, "severity": f.severity, "reason": f.reason, "start": f.start, "end": f.end}
                    for f in s.findings
                ],
            }
            for s in result.items
        ],
    }


def model_context(db: Database, chat: views.ChatRow, result: Suggestions, found: Sequence[templates.Template]) -> dict:  # type: ignore[type-arg]
    """The JSON context for a model (see :func:`chatdesk.assist.llm.context`): the chat's last
    10 messages, its product, the offline suggestions' past answers and the templates."""
    from chatdesk.assist import llm

    recent = views.list_messages(db, chat.id, limit=10)
    return llm.context(
        marketplace=chat.marketplace,
        kind=chat.kind,
        chat={
            "customer": chat.customer,
            "order": chat.order_id,
            "product": product_label(chat.product_id, chat.context),
            "status": chat.status,
        },
        messages=[{"author": m.author, "text": m.text, "at": m.created_at.isoformat()} for m in recent if m.text],
        past_answers=[
            {"question": s.question, "answer": s.text, "product": s.product} for s in result.items if s.source == "past"
        ],
        templates=[{"name": t.name, "text": t.text} for t in list(found)[:10]],
    )


def model_suggestion(
    db: Database,
    chat_id: int,
    result: Suggestions,
    call_factory,  # type: ignore[no-untyped-def]
    found: Sequence[templates.Template] = (),
    now: datetime | None = None,
) -> Suggestion:
    """A draft from the configured model for the same buyer message as ``result``, rule-checked.
    ``call_factory(ctx)`` returns a :class:`chatdesk.assist.llm.ModelCall` (so the caller keeps
    it to cancel). Raises ModelError with a plain sentence (also for a draft that does not
    read as a reply to thanks when the buyer only thanks, see :func:`fits_thanks`),
    UsageError for an unknown chat."""
    chat = views.get_chat(db, chat_id)
    if chat is None:
        raise UsageError(f"no chat {chat_id}")
    call = call_factory(model_context(db, chat, result, found))
    text, who = call.run()
    if result.topic == "thanks" and not fits_thanks(tidy(text)):
        from chatdesk.assist.llm import ModelError

        raise ModelError("its draft answers a question, but the buyer only says thanks")
    return check(
        chat,
        Suggestion(source="model", text=tidy(text), reason=f"drafted by {who} from this chat and your past answers"),
        now,
    )


def with_model(result: Suggestions, s: Suggestion, limit: int | None = None) -> Suggestions:
    """``result`` with the model's draft first; with ``limit``, at most that many items in all
    (the draft counts as one, the last offline item gives way)."""
    items = (s, *result.items)
    if limit is not None:
        items = items[: max(1, limit)]
    return Suggestions(**{**result.__dict__, "items": items, "notices": result.notices})
