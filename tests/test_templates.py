"""Reply templates: loading with errors reported per file, rendering, the fuzzy picker and
the starter set (which must pass the rule check)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatdesk import rules
from chatdesk.templates import (
    PLACEHOLDERS,
    Template,
    TemplateError,
    default_templates,
    fuzzy_filter,
    install_default_templates,
    load_templates,
    missing,
    parse_template,
    placeholders,
    render,
)

VALUES = {
    "customer": "Анна",
    "order": "12345678-0052-1",
    "product": "Крем для рук",
    "seller": "Мыловарня",
    "marketplace": "Wildberries",
}


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- loading


def test_load_reads_txt_and_md_with_optional_description(tmp_path):
    write(tmp_path, "thanks.txt", "# Благодарность за заказ\nСпасибо, {customer}!\n")
    write(tmp_path, "Return.md", "Возврат по заказу {order}.\n\n")
    write(tmp_path, "notes.rtf", "ignored")
    write(tmp_path, ".hidden.txt", "ignored")
    write(tmp_path, "~backup.txt", "ignored")
    (tmp_path / "sub.txt").mkdir()
    templates, errors = load_templates(tmp_path)
    assert errors == []
    assert [(t.name, t.description, t.text) for t in templates] == [
        ("Return", "", "Возврат по заказу {order}."),
        ("thanks", "Благодарность за заказ", "Спасибо, {customer}!"),
    ]
    assert templates[1].path == tmp_path / "thanks.txt"


def test_missing_folder_is_empty(tmp_path):
    assert load_templates(tmp_path / "nope") == ([], [])


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("Здравствуйте, {custmer}!", "unknown placeholder {custmer}"),
        ("Заказ {order.id}", "unknown placeholder {order.id}"),
        ("Здравствуйте, {customer!", "'{' without a matching '}'"),
        ("Скидка {10%", "'{' without a matching '}'"),
        ("Смайлик :-}", "'}' without a matching '{'"),
        ("Пусто {}", "empty placeholder"),
        ("Позиционный {0}", "unknown placeholder {0}"),
        ("Формат {order:>10}", "format spec"),
        ("Конверсия {customer!r}", "format spec"),
        ("# только описание\n\n", "no text"),
        ("", "no text"),
    ],
)
def test_broken_template_is_excluded_with_a_plain_message(tmp_path, content, problem):
    write(tmp_path, "bad.txt", content)
    write(tmp_path, "good.txt", "Спасибо, {customer}!")
    templates, errors = load_templates(tmp_path)
    assert [t.name for t in templates] == ["good"]
    [error] = errors
    assert isinstance(error, TemplateError)
    assert str(error).startswith("bad.txt: ")
    assert problem in str(error)
    assert error.path == tmp_path / "bad.txt"


def test_literal_braces(tmp_path):
    write(tmp_path, "json.txt", "Формат {{как есть}} для {customer}")
    [template], errors = load_templates(tmp_path)
    assert errors == []
    assert render(template, VALUES) == "Формат {как есть} для Анна"


def test_not_utf8_and_duplicate_names_are_errors(tmp_path):
    write(tmp_path, "cp1251.txt", "Здравствуйте".encode("cp1251"))
    write(tmp_path, "hello.md", "Привет из md")
    write(tmp_path, "hello.txt", "Привет из txt")
    templates, errors = load_templates(tmp_path)
    assert [t.name for t in templates] == ["hello"]
    messages = sorted(str(e) for e in errors)
    assert messages[0].startswith("cp1251.txt: not UTF-8")
    assert messages[1] == "hello.txt: same name as hello.md; rename one of them"


def test_bom_and_windows_line_endings(tmp_path):
    write(tmp_path, "win.txt", "\ufeff# Описание\r\nСтрока 1\r\nСтрока 2\r\n")
    [template], _ = load_templates(tmp_path)
    assert (template.description, template.text) == ("Описание", "Строка 1\nСтрока 2")


# ----------------------------------------------------------------------------- rendering


def test_render_fills_every_placeholder():
    template = parse_template("t", " ".join("{" + p + "}" for p in PLACEHOLDERS))
    assert render(template, VALUES) == " ".join(VALUES[p] for p in PLACEHOLDERS)
    assert missing(template, VALUES) == []
    assert placeholders(template) == list(PLACEHOLDERS)


def test_missing_values_render_empty_and_are_reported():
    template = parse_template("t", "Здравствуйте, {customer}! Заказ {order} уже в пути. Как вам {product}?")
    values = {"customer": None, "order": "  ", "product": "Крем"}
    assert render(template, values) == "Здравствуйте! Заказ уже в пути. Как вам Крем?"
    assert missing(template, values) == ["customer", "order"]
    assert missing(template, {}) == ["customer", "order", "product"]


def test_missing_name_at_the_start_of_a_line():
    template = parse_template("t", "{customer}, добрый день!\n{customer}, спасибо.")
    assert render(template, {}) == "Добрый день!\nСпасибо."
    assert render(template, {"customer": "Анна"}) == "Анна, добрый день!\nАнна, спасибо."


def test_values_with_braces_are_not_read_as_placeholders():
    template = parse_template("t", "Здравствуйте, {customer}!")
    assert render(template, {"customer": "{order} {{x}}"}) == "Здравствуйте, {order} {{x}}!"


def test_placeholder_used_twice_is_reported_once():
    template = parse_template("t", "{customer}, {customer}")
    assert missing(template, {}) == ["customer"]


# ----------------------------------------------------------------------------- fuzzy picker

PICK = [
    Template("checkin", "", "Через 3 дня: как вам товар"),
    Template("cross_sell", "", "Через неделю: что ещё подойдёт"),
    Template("return", "", "Как оформить возврат"),
    Template("restock", "", "Пора пополнить запас"),
    Template("answer", "", "Ответ на вопрос"),
]


def names(query: str) -> list[str]:
    return [t.name for t in fuzzy_filter(PICK, query)]


def test_fuzzy_empty_query_lists_all_by_name():
    assert names("") == ["answer", "checkin", "cross_sell", "restock", "return"]
    assert names("   ") == names("")


def test_fuzzy_prefix_beats_substring_beats_scattered():
    assert names("re") == ["restock", "return", "cross_sell"]  # two prefixes, then cRoss_sEll
    assert names("turn") == ["return"]
    assert names("sell") == ["cross_sell"]  # substring
    assert names("rs") == ["restock", "cross_sell"]  # same gaps, earlier start first
    assert names("RSTK") == ["restock"]
    assert names("cs") == ["cross_sell"]


def test_fuzzy_falls_back_to_the_description_after_name_matches():
    assert names("возврат") == ["return"]
    assert names("неделю") == ["cross_sell"]
    assert names("c") == ["checkin", "cross_sell", "restock"]  # name matches only
    assert names("zzz") == []


# ----------------------------------------------------------------------------- starter templates


def test_default_templates_load_cleanly_and_pass_the_rule_check(tmp_path):
    defaults = default_templates()
    assert 4 <= len(defaults) <= 6
    written = install_default_templates(tmp_path / "templates")
    assert sorted(p.stem for p in written) == sorted(defaults)
    templates, errors = load_templates(tmp_path / "templates")
    assert errors == []
    assert {t.name for t in templates} == set(defaults)
    for template in templates:
        assert template.description
        for marketplace in ("wildberries", "ozon", "yandex"):
            text = render(template, VALUES | {"marketplace": rules.LABELS[marketplace]})
            assert rules.check(text, marketplace=marketplace) == [], (template.name, marketplace)
        assert rules.check(template.text, marketplace="wildberries") == []


def test_checkin_template_matches_the_issue():
    checkin = parse_template("checkin", default_templates()["checkin"])
    assert render(checkin, VALUES).startswith("Здравствуйте, Анна! Как вам Крем для рук?")


def test_install_never_touches_an_existing_folder(tmp_path):
    folder = tmp_path / "templates"
    folder.mkdir()
    write(folder, "mine.txt", "Моё")
    assert install_default_templates(folder) == []
    assert [p.name for p in folder.iterdir()] == ["mine.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert install_default_templates(empty) == []  # the seller deleted them all on purpose


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["{", "}", "a", " ", ",", "!", "\n", "#", "{customer}", "{order}"]), max_size=30))
def test_any_file_content_either_loads_and_renders_or_is_a_template_error(parts):
    content = "".join(parts)
    try:
        template = parse_template("t", content)
    except TemplateError as error:
        assert str(error).startswith("t: ")
        return
    assert render(template, VALUES) == template.text.format(**VALUES)
    assert set(missing(template, {})) <= set(PLACEHOLDERS)
