"""Reply templates: plain text files in a folder, one per template, easy to keep in git.

A template is ``<name>.txt`` or ``<name>.md``; the name is the file stem. An optional first line
``# description`` describes it for the picker. Placeholders are ``{customer}``, ``{order}``,
``{product}``, ``{seller}`` and ``{marketplace}``; ``{{`` and ``}}`` are literal braces.

Every problem (unknown placeholder, stray brace, format spec, unreadable file) is found when
the folder is loaded and reported with the file name, and the template is left out: a typo
must never reach a buyer as ``{custmer}``.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PLACEHOLDERS = ("customer", "order", "product", "seller", "marketplace")
SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    description: str = ""
    path: Path | None = None


class TemplateError(Exception):
    """A template that cannot be used; the message names the file and the problem."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path.name}: {problem}")
        self.path = path
        self.problem = problem


def _pieces(text: str) -> list[tuple[str, str | None]]:
    """(literal, placeholder or None) pairs; raises ValueError with a plain problem."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        problem = "a '{' without a matching '}'" if "'{'" in str(exc) or "end of string" in str(exc) else None
        problem = problem or ("a '}' without a matching '{'" if "'}'" in str(exc) else str(exc))
        raise ValueError(f"{problem} (write {{{{ or }}}} for a literal brace)") from None
    pieces: list[tuple[str, str | None]] = []
    for literal, field, spec, conversion in parsed:
        if field is not None:
            if field == "":
                raise ValueError(f"empty placeholder {{}}; use one of {_choices()}")
            if spec or conversion:
                raise ValueError(f"placeholder {{{field}}} has a format spec; write just {{{field.split('!')[0]}}}")
            if field not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {{{field}}}; use one of {_choices()}")
        pieces.append((literal, field))
    return pieces


def _choices() -> str:
    return ", ".join("{" + p + "}" for p in PLACEHOLDERS)


def parse_template(name: str, content: str, path: Path | None = None) -> Template:
    """Build a template from file content; raises TemplateError for anything unusable."""
    where = path or Path(name)
    lines = content.replace("\r\n", "\n").split("\n")
    description = ""
    if lines and lines[0].startswith("#"):
        description = lines.pop(0).lstrip("#").strip()
    text = "\n".join(lines).strip("\n").rstrip()
    if not text.strip():
        raise TemplateError(where, "the template has no text")
    try:
        _pieces(text)
    except ValueError as exc:
        raise TemplateError(where, str(exc)) from None
    return Template(name=name, text=text, description=description, path=path)


def load_templates(folder: Path) -> tuple[list[Template], list[TemplateError]]:
    """All usable templates in ``folder`` sorted by name, and the problems with the rest.

    A missing folder is simply empty. Hidden and editor backup files are ignored. Two files
    with the same name (``a.txt`` and ``a.md``) are an error for the second one.
    """
    templates: list[Template] = []
    errors: list[TemplateError] = []
    if not folder.is_dir():
        return templates, errors
    seen: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "#", "~")) or path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        name = path.stem
        if name.lower() in seen:
            errors.append(TemplateError(path, f"same name as {seen[name.lower()].name}; rename one of them"))
            continue
        try:
            content = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            errors.append(TemplateError(path, "not UTF-8 text; save it as UTF-8"))
            continue
        except OSError as exc:
            errors.append(TemplateError(path, f"cannot be read: {exc.strerror or exc}"))
            continue
        try:
            templates.append(parse_template(name, content, path))
            seen[name.lower()] = path
        except TemplateError as exc:
            errors.append(exc)
    return templates, errors


def placeholders(template: Template) -> list[str]:
    """Placeholders the template uses, in order of first use."""
    used: list[str] = []
    for _, field in _pieces(template.text):
        if field is not None and field not in used:
            used.append(field)
    return used


def _value(values: Mapping[str, str | None], name: str) -> str:
    value = values.get(name)
    return value.strip() if isinstance(value, str) else ""


def missing(template: Template, values: Mapping[str, str | None]) -> list[str]:
    """Placeholders the template uses that ``values`` leaves empty (shown to the seller)."""
    return [name for name in placeholders(template) if not _value(values, name)]


def render(template: Template, values: Mapping[str, str | None]) -> str:
    """The message text with placeholders filled; a missing value becomes an empty string.

    Around an empty value the punctuation is tidied so "Здравствуйте, {customer}!" becomes
    "Здравствуйте!" rather than "Здравствуйте, !". Values are inserted as they are: braces in
    a buyer's name are not read as placeholders. Call :func:`missing` to tell the seller.
    """
    out = ""
    pieces = _pieces(template.text)
    previous_empty = False
    for i, (literal, field) in enumerate(pieces):
        if literal and previous_empty:
            if literal[0] == " " and out.endswith(" "):
                literal = literal[1:]  # "Заказ {order} в пути" without the order: one space
            elif literal[0] == "," and (not out or out.endswith("\n")):
                literal = literal[1:].lstrip(" ")  # "{customer}, добрый день" -> "Добрый день"
                literal = literal[:1].upper() + literal[1:]
        out += literal
        if field is None:
            continue
        value = _value(values, field)
        previous_empty = not value
        if previous_empty:
            following = pieces[i + 1][0] if i + 1 < len(pieces) else ""
            if not following or following[0] in "!?.,;:)":
                out = out.rstrip(" ,")  # "Здравствуйте, {customer}!" -> "Здравствуйте!"
        out += value
    return out


def fuzzy_filter(templates: Iterable[Template], query: str) -> list[Template]:
    """Templates whose name (or else name + description) contains ``query``'s letters in order.

    Ranked: name matches before description matches; within each, a prefix before a substring
    before a scattered match, fewer gaps first, then by name. An empty query keeps them all.
    """
    needle = "".join(query.lower().split())
    items = list(templates)
    if not needle:
        return sorted(items, key=lambda t: t.name.lower())
    ranked: list[tuple[tuple[int, int, int, int, str], Template]] = []
    for template in items:
        name = template.name.lower()
        for tier, haystack in enumerate((name, f"{name} {template.description.lower()}")):
            score = _subsequence_score(needle, haystack)
            if score is not None:
                ranked.append(((tier, *score, name), template))
                break
    ranked.sort(key=lambda pair: pair[0])
    return [template for _, template in ranked]


def _subsequence_score(needle: str, haystack: str) -> tuple[int, int, int] | None:
    """(kind, gaps, start) for the leftmost match, kind 0 prefix, 1 substring, 2 scattered."""
    if haystack.startswith(needle):
        return 0, 0, 0
    at = haystack.find(needle)
    if at >= 0:
        return 1, 0, at
    positions: list[int] = []
    pos = 0
    for ch in needle:
        pos = haystack.find(ch, pos)
        if pos < 0:
            return None
        positions.append(pos)
        pos += 1
    gaps = sum(b - a - 1 for a, b in itertools.pairwise(positions))
    return 2, gaps, positions[0]


# ----------------------------------------------------------------------------- starter set

_DEFAULTS: dict[str, str] = {
    "answer": (
        "# Ответ на вопрос: приветствие и благодарность\n"
        "Здравствуйте, {customer}! Спасибо за ваш вопрос.\n"
        "\n\n"
        "Если появятся ещё вопросы, пишите в этот чат, мы всегда рады помочь."
    ),
    "checkin": (
        "# Через 3 дня: как вам товар\n"
        "Здравствуйте, {customer}! Как вам {product}? Всё ли подошло и понравилось?\n"
        "Если что-то не так, напишите здесь в чате, мы постараемся помочь. "
        "А если всё хорошо, будем благодарны за отзыв на странице товара."
    ),
    "restock": (
        "# Напоминание: пора пополнить запас\n"
        "Здравствуйте, {customer}! Вы покупали у нас {product}, и, возможно, запас уже заканчивается. "
        "Товар снова в наличии: его можно найти в разделе покупок на {marketplace}. "
        "Спасибо, что выбираете {seller}!"
    ),
    "cross_sell": (
        "# Через неделю: что ещё подойдёт к покупке\n"
        "Здравствуйте, {customer}! Надеемся, {product} вам нравится. "
        "К нему хорошо подходят другие товары нашего магазина {seller} на {marketplace}: "
        "загляните на страницу магазина, там есть новинки."
    ),
    "return": (
        "# Как оформить возврат\n"
        "Здравствуйте, {customer}! Очень жаль, что товар не подошёл.\n"
        "Оформить возврат по заказу {order} можно в приложении или личном кабинете {marketplace}: "
        "откройте раздел с покупками, выберите товар и нажмите «Вернуть товар». "
        "Деньги вернутся тем же способом, которым вы платили, после проверки товара."
    ),
}


def default_templates() -> dict[str, str]:
    """Starter templates as file contents by name. None carries a link or contact: each passes
    the rule check on every marketplace (tested)."""
    return dict(_DEFAULTS)


def install_default_templates(folder: Path) -> list[Path]:
    """Write the starter templates, but only into a folder that does not exist yet, so a
    seller's own edits and deletions are never undone. Returns the files written."""
    if folder.exists():
        return []
    folder.mkdir(parents=True)
    written = []
    for name, content in _DEFAULTS.items():
        path = folder / f"{name}.txt"
        path.write_text(content + "\n", encoding="utf-8")
        written.append(path)
    return written
