"""What a search query means, defined once for every engine (SQLite FTS5 and PostgreSQL).

A seller types base forms ("размер XL", "фото бирка"); buyers write inflected ones ("в размере
xl", "фото бирки"). The query is therefore reduced to word stems with the Snowball Russian
stemmer (PyStemmer, the same algorithm as PostgreSQL's ``russian`` text search configuration)
and each stem is matched as the beginning of a word in the message.

The semantics, exactly:

1. Words are maximal runs of Unicode letters and digits (``\\w+``). Case is folded (``str.lower``)
   and ``ё`` is read as ``е``. Nothing else the user typed has any meaning (no operators,
   quotes, ``*``, ``NEAR``, column filters): every query is safe.
2. Each word is stemmed with Snowball Russian. Latin words and numbers come out unchanged.
3. A word whose stem has at least :data:`MIN_STEM` characters becomes a **prefix term**: it
   matches any word in the message that begins with the stem ("размер" matches "размере",
   "размеры"; "бирка" -> "бирк" matches "бирки", "бирку").
4. A shorter word (``в``, ``xl``, ``42``) must match a whole word exactly, except the **last**
   word of the query, which is always a prefix term of the word as typed (search as you type:
   "разм" finds "размер").
5. In a search (:func:`search_terms`) every term must occur in the message (AND), in any order.
   In a similarity lookup (:func:`similarity_terms`) stop words are left out and any term may
   occur (OR); the index's ranking (BM25) orders the matches.

:func:`to_fts5` renders the terms for SQLite FTS5 over a ``unicode61`` index;
:func:`to_tsquery` renders them for PostgreSQL ``to_tsquery('simple', …)`` against a
``to_tsvector('russian', …)`` index, whose lexemes are the Snowball stems (each one a prefix of
its word), so both engines return the same messages.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import Stemmer

MIN_STEM = 3
"""Stems shorter than this are too unspecific to match as a prefix (``"в"*`` is half the index)."""

MAX_TERMS = 12
"""A query longer than this keeps its first words only (a pasted paragraph is not a search)."""

_WORD = re.compile(r"\w+", re.UNICODE)

# Function words that carry no meaning for "what is this buyer asking about". Used only by
# similarity lookups; a search for "не пришёл" still requires "не".
_STOP_TEXT = """
    а без бы был была были было в вам вас вот все всё вы да для до добрый день его ее её если есть
    еще ещё же за здравствуйте и из или им их к как ко когда кто ли мне мы на над не нет ни но ну
    о об от по под подскажите пожалуйста почему при про с со спасибо так там то тот у уже хорошо
    что чтобы это эта этот я вечер утро доброе добрый привет мой моя мое моё мои можно
    какой какая какое какие каком какого какую сколько где куда зачем будет будут меня вам ваш ваша
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


@dataclass(frozen=True)
class Term:
    """One query term: ``text`` is folded (and stemmed when ``prefix`` comes from a stem)."""

    text: str
    prefix: bool


@functools.lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("russian")


def fold(text: str) -> str:
    """Case-fold and read ё as е (the index folds the same way)."""
    return text.lower().replace("ё", "е")


def words(text: str) -> list[str]:
    """The folded words of ``text`` (rule 1)."""
    return _WORD.findall(fold(text))


def stem(word: str) -> str:
    """Snowball Russian stem of one folded word (rule 2)."""
    return str(_stemmer().stemWord(word))


def _term(word: str, last: bool) -> Term:
    s = stem(word)
    if len(s) >= MIN_STEM:
        return Term(s, prefix=True)
    return Term(word, prefix=last)


def search_terms(query: str) -> list[Term]:
    """Terms that must all occur (rules 1-5, AND). Empty when the query has no words."""
    ws = words(query)[:MAX_TERMS]
    return [_term(w, i == len(ws) - 1) for i, w in enumerate(ws)]


def similarity_terms(text: str, limit: int = MAX_TERMS) -> list[Term]:
    """Distinct non-stop-word terms of a message, for an OR lookup ranked by BM25.

    Short words are kept only if they are not stop words (sizes like ``xl``, ``42``); no term is
    a prefix of the message's last word just because it is last (nothing is being typed).
    """
    out: list[Term] = []
    seen: set[str] = set()
    for w in words(text):
        if w in STOP_WORDS:
            continue
        t = _term(w, last=False)
        if t.text not in seen:
            seen.add(t.text)
            out.append(t)
        if len(out) >= limit:
            break
    return out


def stems(text: str) -> list[str]:
    """Stems of every word of ``text`` (for classifiers and overlap scores), stop words kept."""
    return [stem(w) for w in words(text)]


def to_fts5(terms: list[Term], op: str = "AND") -> str | None:
    """An FTS5 MATCH expression: ``"размер"* AND "xl"``. Terms are quoted, so none of the
    user's characters can act as FTS5 syntax. ``None`` when there are no terms."""
    if not terms:
        return None
    if op not in ("AND", "OR"):
        raise ValueError(f"op must be AND or OR, not {op!r}")
    return f" {op} ".join(f'"{t.text}"' + ("*" if t.prefix else "") for t in terms)


def to_tsquery(terms: list[Term], op: str = "AND") -> str | None:
    """The same terms for PostgreSQL ``to_tsquery('simple', :q)``: ``размер:* & xl``.

    Words are ``\\w+`` runs, so no tsquery operator can appear inside a term.
    """
    if not terms:
        return None
    joiner = {"AND": " & ", "OR": " | "}[op]
    return joiner.join(t.text + (":*" if t.prefix else "") for t in terms)
