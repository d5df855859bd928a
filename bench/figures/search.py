"""Figure 6: full-text search over 1M messages, p95 of realistic Russian queries.

The queries are what an operator types: common words, rare words, product numbers, several
words, and the prefixes search-as-you-type sends while the word is still being typed (the
last word is always a prefix, see ``store.fts.to_match``). Each runs several times after
one warm-up pass over all of them, so the figure is the warm-cache latency an open TUI sees.
"""

from __future__ import annotations

from bench.figures.common import Result, Stores, median, ms, percentile, timed
from chatdesk.store import fts
from chatdesk.store.db import Database

QUERIES = [
    # common words
    "заказ", "доставка", "возврат", "размер", "спасибо", "здравствуйте",
    # rare words and product numbers
    "шов", "молния заедает", "отжим 600", "ёлочная", "елочная", "артикул 98231177", "трек-номер",
    # several words
    "не пришёл", "гарантия чек", "покупатель открыл спор", "оформить возврат в личном кабинете",
    # prefixes, as typed
    "д", "до", "дост", "во", "возвр", "инструкц", "разм", "пришл",
    # nothing matches
    "телепортация",
]
REPEAT = 5
TARGET_S = 0.100


def run(stores: Stores) -> Result:
    db = Database(f"sqlite:///{stores.big}", create=False)
    try:
        for q in QUERIES:
            fts.search_ids(db, q)
        times: dict[str, list[float]] = {q: [] for q in QUERIES}
        for _ in range(REPEAT):
            for q in QUERIES:
                times[q].append(timed(lambda q=q: fts.search_ids(db, q)))
    finally:
        db.close()
    every = [t for ts in times.values() for t in ts]
    p95 = percentile(every, 95)
    slowest = sorted(((median(ts), q) for q, ts in times.items()), reverse=True)[:3]
    return Result(
        6,
        "full-text search over 1M messages (p95)",
        f"p95 {ms(p95)} (median {ms(median(every))})",
        "—",
        "—",
        "p95 < 100 ms",
        p95 < TARGET_S,
        note="slowest: " + ", ".join(f"{q!r} {ms(t)}" for t, q in slowest),
        data={"p95_s": p95, "median_s": median(every), "per_query_median_s": {q: median(t) for q, t in times.items()}},
    )
