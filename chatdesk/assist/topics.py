"""What a buyer writes about: a small Russian taxonomy for marketplace trade, offline.

Each buyer message gets one topic from :data:`TOPICS` by rules over Snowball stems (see
:mod:`chatdesk.store.terms`) and a few phrases: every topic has cue stems with weights, the
highest total wins, ties go to the topic listed first in :data:`TOPICS` (problems before
questions before thanks). A message with no cue is ``other``. Measured on the hand-labelled
corpus in ``tests/assist/topics_corpus.py`` (precision and recall per topic in the README).

When the rules are unsure (:attr:`Topic.unsure`: no cue, a winning score under
:data:`SURE_SCORE`, or a second topic with a decisive cue), a configured model may refine the tag
later (``source = "model"``, see :func:`refine`); the rules are always the fallback. Headless.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from chatdesk.assist import llm
from chatdesk.store import terms
from chatdesk.store import topics as store_topics

if TYPE_CHECKING:
    import httpx

    from chatdesk.store.db import Database

VERSION = 2
"""Bumped when the rules change, so stored tags from older rules can be recomputed (2: a buyer
"still waiting for the order" and "paid long ago, when will it come" are delivery)."""

# Order matters for ties: the more specific / more urgent topic first.
TOPICS: dict[str, str] = {
    "complaint": "жалоба на продавца",
    "defect": "брак / повреждение",
    "wrong_item": "пришёл не тот товар",
    "return": "возврат / обмен",
    "size": "размер / посадка",
    "delivery": "доставка / получение",
    "availability": "наличие / поставка",
    "price": "оплата / цена / скидка",
    "product": "вопрос о товаре",
    "thanks": "благодарность",
    "other": "другое",
}
PROBLEM_TOPICS = ("defect", "size", "delivery", "return", "wrong_item", "complaint")
"""Topics that mean something went wrong: what "product on fire" counts."""

SHORT: dict[str, str] = {
    "complaint": "жалоба",
    "defect": "брак",
    "wrong_item": "не тот",
    "return": "возврат",
    "size": "размер",
    "delivery": "доставка",
    "availability": "наличие",
    "price": "цена",
    "product": "товар",
    "thanks": "спасибо",
    "other": "",
}

# Cue stems (word prefixes, folded, ё->е): weight 2 = decisive, 1 = supporting.
_CUES: dict[str, dict[str, int]] = {
    "complaint": {
        "обман": 3,
        "мошенн": 3,
        "хамств": 3,
        "хам": 2,
        "ужасн": 1,
        "отвратит": 2,
        "безобраз": 2,
        "жалоб": 2,
        "отвечает": 1,
        "игнор": 2,
        "позор": 2,
        "кошмар": 1,
        "развод": 2,
        "верх наглост": 3,
        "наглост": 2,
    },
    "defect": {
        "брак": 3,
        "бракова": 3,
        "сломан": 3,
        "слома": 2,
        "разбит": 3,
        "разбил": 2,
        "порва": 3,
        "дыр": 2,
        "разошел": 3,
        "повреж": 2,
        "дефект": 3,
        "царапин": 3,
        "поцарапа": 3,
        "пятн": 2,
        "помят": 2,
        "треснул": 3,
        "трещин": 3,
        "заеда": 3,
        "протека": 3,
        "протек": 2,
        "не работа": 3,
        "не включа": 3,
        "отклеил": 3,
        "оторвал": 3,
        "запах": 2,
        "воня": 3,
        "скол": 2,  # whole word only (_WHOLE_WORDS): "сколько" is not a chip
        "сколы": 2,
        "скола": 2,
        "сколом": 2,
        "сколот": 2,
        "испорч": 3,
        "разорва": 3,
        "сломал": 3,
        "брачн": 3,
        "не заряжа": 3,
        "вздул": 3,
        "торчат нитк": 2,
        "облез": 3,
        "линя": 2,
        "катышк": 2,
    },
    "wrong_item": {
        "не тот": 3,
        "не то": 2,
        "перепута": 3,
        "другой товар": 3,
        "пришел другой": 3,
        "прислали другой": 3,
        "вместо": 2,
        "не та": 2,
        "не того": 2,
        "не соответствует заказ": 3,
        "не хватает": 2,
        "некомплект": 3,
        "пришло не": 2,
    },
    "return": {
        "возврат": 3,
        "вернут": 2,
        "верну": 2,
        "вернул": 2,
        "обмен": 3,
        "поменя": 2,
        "замен": 2,
        "отказ": 2,
        "деньг": 1,
        "заявк": 1,
        "возмест": 2,
        "компенсац": 2,
    },
    "size": {
        "размер": 3,
        "маломер": 3,
        "большемер": 3,
        "рост": 2,
        "сетк": 2,
        "ношу": 2,
        "велик": 2,
        "мал": 1,
        "узк": 2,
        "широк": 1,
        "длин": 1,
        "обхват": 3,
        "талия": 2,
        "талии": 2,
        "бедр": 2,
        "груд": 1,
        "сел": 1,
        "жмет": 3,
        "давит": 2,
        "висит": 2,
        "подойдет на": 2,
        "посадк": 2,
        "полнот": 3,
        "стельк": 2,
        "вес": 1,
        "xs": 2,
        "xl": 2,
        "xxl": 2,
        "s": 0,
        "m": 0,
    },
    "delivery": {
        "доставк": 3,
        "доставл": 2,
        "достав": 2,
        "курьер": 3,
        "пункт выдач": 3,
        "пвз": 3,
        "постамат": 3,
        "трек": 3,
        "отправ": 1,
        "отгруз": 3,
        "отправит": 2,
        "отправк": 2,
        "отправлен": 2,
        "в пути": 3,
        "пришел": 1,
        "придет": 2,
        "приедет": 2,
        "получ": 1,
        "посылк": 2,
        "срок": 2,
        "задерж": 2,
        "не пришел": 3,
        "не пришла": 3,
        "не доставил": 3,
        "адрес": 2,
        "склад": 1,
        "собира": 2,
        "статус": 2,
        "забрать": 2,
        "заберу": 2,
        "когда ждать": 2,
        "хранен": 2,
        "жду заказ": 3,
        "ждем заказ": 3,
        "жду свой заказ": 3,
        "жду посылк": 3,
        "ждем посылк": 3,
        "жду товар": 3,
        "ждем товар": 3,
    },
    "availability": {
        "наличи": 3,
        "поставк": 3,
        "появит": 3,
        "появ": 2,
        "закончил": 2,
        "распрод": 2,
        "пополн": 2,
        "другом цвет": 2,
        "другой цвет": 2,
        "других цвет": 2,
        "будет ли": 1,
        "остал": 1,
        "завоз": 3,
        "ожида": 1,
        "предзаказ": 3,
        "когда будет": 2,
        "расцветк": 2,
    },
    "price": {
        "цен": 3,
        "стоимост": 3,
        "скидк": 3,
        "оплат": 3,
        "оплатил": 2,
        "промокод": 3,
        "купон": 3,
        "дорог": 2,
        "дешев": 2,
        "опт": 2,
        "рассрочк": 3,
        "списал": 3,
        "чек": 2,
        "баллы": 2,
        "кешбэк": 3,
        "акци": 2,
        "деньги": 1,
        "переплат": 3,
        "сколько стоит": 3,
    },
    "product": {
        "подойдет ли": 2,
        "подходит ли": 2,
        "совмест": 3,
        "материал": 3,
        "состав": 3,
        "инструкц": 3,
        "стирать": 3,
        "стирк": 3,
        "уход": 2,
        "комплект": 2,
        "характерист": 3,
        "гаранти": 3,
        "модел": 1,
        "цвет": 1,
        "вес": 1,
        "объем": 2,
        "емкост": 2,
        "держит": 2,
        "подскажит": 1,
        "сделан": 2,
        "производ": 2,
        "натурал": 2,
        "водонепрониц": 3,
        "батаре": 2,
        "заряд": 2,
        "упаковк": 1,
        "подарочн": 2,
        "можно ли": 1,
        "как пользова": 3,
        "срок годн": 3,
        "аллерг": 2,
        "ткан": 2,
        "хлопок": 2,
        "оттен": 2,
    },
    "thanks": {
        "спасиб": 2,
        "благодар": 3,
        "отличн": 2,
        "качеств": 1,
        "доволен": 2,
        "довольн": 2,
        "понравил": 2,
        "супер": 2,
        "класс": 2,
        "рекоменд": 1,
        "все пришло": 2,
        "все хорошо": 2,
        "все отлично": 2,
        "все супер": 2,
        "молодц": 2,
    },
}
_NEGATED_THANKS = re.compile(r"\bспасибо\s+за\s+(?:ответ|быстр|помощ)")
_PAID_BEFORE = re.compile(r"(?<!\w)оплатил[аи]?(?!\w)")
""""(I) paid": a past fact the buyer gives as context, not a question about payment."""
_PAYMENT_WORDS = {"оплат", "оплатил"}

_WORD = re.compile(r"\w+")
_WHOLE_WORDS = {"скол"}
"""Cues that match a whole word only, like the 1-2 letter ones (their prefix starts other words)."""


SURE_SCORE = 3
"""A winning cue weight below this (one supporting cue pair, or one weight-2 cue) is a guess."""


@dataclass(frozen=True)
class Topic:
    """``code`` is a key of :data:`TOPICS`; ``score`` the winning cue weight (0 for other);
    ``cues`` the cue stems that matched, for "why this tag"; ``rivals`` other topics that also
    scored at least 2 (the message may be about several things)."""

    code: str
    score: int
    cues: tuple[str, ...] = ()
    rivals: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return TOPICS[self.code]

    @property
    def unsure(self) -> bool:
        """Whether a configured model should look at it: no topic, a low score, or rivals."""
        return self.code == "other" or self.score < SURE_SCORE or bool(self.rivals)


def _index() -> tuple[dict[str, list[tuple[str, str, int]]], re.Pattern[str], dict[str, list[tuple[str, int]]]]:
    """Cue lookup tables: single-word cues by their text (matched against every prefix of
    every word, or the whole word for 1-2 letter cues), and one regex over all phrases."""
    words: dict[str, list[tuple[str, str, int]]] = {}
    phrases: dict[str, list[tuple[str, int]]] = {}
    for code, cues in _CUES.items():
        for cue, weight in cues.items():
            if not weight:
                continue
            if " " in cue:
                phrases.setdefault(cue, []).append((code, weight))
            else:
                words.setdefault(cue, []).append((code, cue, weight))
    alternation = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    return words, re.compile(r"(?<!\w)(?:" + alternation + ")"), phrases


_WORD_CUES, _PHRASE_RE, _PHRASE_CUES = _index()
_MAX_CUE = max(len(c) for c in _WORD_CUES)


def classify(text: str) -> Topic:
    """The topic of one buyer message. Pure and deterministic; never raises.

    Phrases (cues with a space) match on the folded text; single cues match word beginnings
    (cues of 1-2 letters, like sizes ``xl``, match whole words only)."""
    folded = " ".join(terms.words(text or ""))
    if not folded:
        return Topic("other", 0)
    scores: dict[str, tuple[int, list[str]]] = {}
    hits: set[tuple[str, str]] = set()

    def hit(code: str, cue: str, weight: int) -> None:
        if (code, cue) in hits:
            return  # each cue counts once per message
        hits.add((code, cue))
        total, found = scores.get(code, (0, []))
        scores[code] = (total + weight, [*found, cue])

    for w in folded.split():
        for n in range(1, min(len(w), _MAX_CUE) + 1):
            for code, cue, weight in _WORD_CUES.get(w[:n], ()):
                if n == len(w) or (n > 2 and cue not in _WHOLE_WORDS):
                    hit(code, cue, weight)
    for m in _PHRASE_RE.finditer(folded):
        for code, weight in _PHRASE_CUES[m.group(0)]:
            hit(code, m.group(0), weight)
    # "Спасибо" in a message that is really about something else is politeness, not thanks.
    if "thanks" in scores and len(scores) > 1:
        others = max(v[0] for k, v in scores.items() if k != "thanks")
        if others >= 2:
            del scores["thanks"]
    # "Когда придёт товар? Заказ оплатила давно": having paid is why they wait; the question is
    # delivery. Payment stays the topic when anything else about money is said ("списали дважды").
    delivery = scores.get("delivery", (0, []))[0]
    if (
        delivery >= 2
        and "price" in scores
        and set(scores["price"][1]) <= _PAYMENT_WORDS
        and _PAID_BEFORE.search(folded)
    ):
        del scores["price"]
    if "thanks" in scores and _NEGATED_THANKS.search(folded) and len(scores) == 1:
        pass  # "спасибо за ответ" is thanks
    if not scores:
        return Topic("other", 0)
    order = list(TOPICS)
    code = max(scores, key=lambda c: (scores[c][0], -order.index(c)))
    if scores[code][0] < 2:
        return Topic("other", 0, tuple(scores[code][1]))
    rivals = tuple(c for c in order if c != code and c in scores and scores[c][0] >= 2)
    return Topic(code, scores[code][0], tuple(scores[code][1]), rivals)


# ---------------------------------------------------------------------- refinement by a model


def _fold(value: str) -> str:
    return value.strip().strip(".\"'` ").casefold().replace("ё", "е")


_BY_NAME: dict[str, str] = {
    **{_fold(label): code for code, label in TOPICS.items()},
    **{_fold(short): code for code, short in SHORT.items() if short},
    **{code: code for code in TOPICS},
}


def topic_code(value: object) -> str | None:
    """A topic code for what a model answered (the code, the Russian label or the short tag,
    any case); None for anything else (unknown topics are not invented)."""
    if not isinstance(value, str) or len(value) > 100:
        return None
    return _BY_NAME.get(_fold(value))


def parse_model_topics(answer: str, asked: Iterable[int]) -> dict[int, str]:
    """Message id -> topic code from a model's answer, validated against :data:`TOPICS` and the
    ids that were asked. Accepts ``{"topics": {"<id>": "<code>"}}``, a bare ``{"<id>": "<code>"}``
    or a list of ``{"id": …, "topic": …}``, optionally wrapped in prose or a code fence. Garbage,
    unknown topics and ids never asked are dropped; never raises."""
    wanted = {int(i) for i in asked}
    data: object = None
    text = answer or ""
    spans = [(text.find(start), text.rfind(end)) for start, end in (("{", "}"), ("[", "]"))]
    for a, b in sorted(spans):  # the outermost bracket first
        if a != -1 and b > a:
            try:
                data = json.loads(text[a : b + 1])
                break
            except ValueError:
                continue
    if isinstance(data, dict) and isinstance(data.get("topics"), dict | list):
        data = data["topics"]
    pairs: list[tuple[object, object]] = []
    if isinstance(data, dict):
        pairs = list(data.items())
    elif isinstance(data, list):
        pairs = [(d.get("id"), d.get("topic")) for d in data if isinstance(d, dict)]
    out: dict[int, str] = {}
    for raw_id, raw_topic in pairs:
        try:
            mid = int(str(raw_id).strip())
        except ValueError:
            continue
        code = topic_code(raw_topic)
        if mid in wanted and code is not None:
            out[mid] = code
    return out


@dataclass
class Refined:
    """What one :func:`refine` run did: messages shown to the model, tags it set (including
    ones that agree with the rules), and why it stopped early (a plain sentence) if it did."""

    asked: int = 0
    changed: int = 0
    error: str | None = None


REFINE_BATCH = 20
"""Buyer messages per model request."""
BACKGROUND_DAYS = 30
"""Background rounds refine messages of the last this many days (older: ``--refine``)."""


def refine(
    db: Database,
    settings: llm.AssistSettings,
    *,
    key: str | None = None,
    transport: httpx.BaseTransport | None = None,
    batch: int = REFINE_BATCH,
    budget: float = 60.0,
    limit: int | None = None,
    since: datetime | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Refined:
    """Show buyer messages whose rules tag is unsure (newest first) to the configured model in
    batches of ``batch`` and keep each valid answer as a ``model`` tag; a message the model
    could not tag keeps its rules tag and is not asked again. Stops when nothing is pending,
    after ``limit`` messages, when ``budget`` seconds have passed (no new batch starts; one
    request is bounded by ``settings.timeout``), or at the first failed request (those messages
    stay pending for the next run; the reason is in ``error``). ``since``: only messages written
    since then (the background rounds look at :data:`BACKGROUND_DAYS`). Blocking: run it off any
    UI loop. Does nothing without a configured model."""
    out = Refined()
    if not settings.enabled:
        out.error = "no model is configured: add [assist] to config.toml (see the README)"
        return out
    started = clock()
    while limit is None or out.asked < limit:
        if clock() - started >= budget:
            break
        n = batch if limit is None else min(batch, limit - out.asked)
        pending = store_topics.pending_refinement(db, n, since=since)
        if not pending:
            break
        ctx = llm.topics_context(TOPICS, [(mid, text) for mid, text, _rule in pending])
        try:
            answer, _who = llm.topics_call(settings, ctx, key=key, transport=transport).run()
        except llm.ModelError as exc:
            out.error = str(exc)
            break
        ids = [mid for mid, _text, _rule in pending]
        out.changed += store_topics.apply_refinement(db, ids, parse_model_topics(answer, ids))
        out.asked += len(ids)
    return out


def rules_tag(text: str) -> tuple[str, bool]:
    """``(topic code, unsure)`` by the offline rules: what the store keeps for a new message."""
    t = classify(text)
    return t.code, t.unsure


def tag_new(db: Database, *, limit: int | None = None) -> int:
    """Tag buyer messages that have no rules tag of this :data:`VERSION` yet (see
    :func:`chatdesk.store.topics.tag_pending`), marking unsure ones for the model. Returns how
    many were tagged."""
    return store_topics.tag_pending(db, rules_tag, version=VERSION, limit=limit)


def recheck(db: Database) -> int:
    """Mark every stored rules tag the rules are unsure of for the model again (see
    :func:`chatdesk.store.topics.mark_unsure`): for tags stored before refinement existed.
    Reads the whole store once; returns how many were marked."""
    return store_topics.mark_unsure(db, lambda text: classify(text).unsure)
