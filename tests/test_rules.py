"""The pre-send rule check: hard limits, every content rule, and the corpus of real-looking
messages (hostile ones flagged with the right code and span, ordinary ones clean)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatdesk import rules
from chatdesk.rules import FileInfo, check, describe, hard, warnings
from tests.rules_corpus import CLEAN, FLAGGED

MB = 1024 * 1024


def codes(text: str, marketplace: str = "wildberries", **kw) -> set[str]:
    return {f.code for f in check(text, marketplace=marketplace, **kw)}


# ----------------------------------------------------------------------------- corpus


def test_corpus_is_big_enough():
    assert len(FLAGGED) >= 60
    assert len(CLEAN) >= 60
    assert {code for _, code, _ in FLAGGED} == {"link", "email", "phone", "messenger", "card", "payment", "promo"}


@pytest.mark.parametrize(("text", "code", "fragment"), FLAGGED, ids=[t[:40] for t, _, _ in FLAGGED])
def test_hostile_message_is_flagged_at_the_offending_text(text, code, fragment):
    findings = [f for f in check(text, marketplace="wildberries") if f.code == code]
    assert findings, f"{code} not found in {text!r}"
    at = text.index(fragment)
    assert any(f.start <= at < f.end for f in findings), [(f.start, f.end) for f in findings]
    assert all(f.severity == "warn" for f in findings)


@pytest.mark.parametrize("text", CLEAN, ids=[t[:40] for t in CLEAN])
def test_ordinary_reply_is_clean(text):
    findings = check(text, marketplace="wildberries")
    assert findings == [], [(f.code, text[f.start : f.end]) for f in findings]


@pytest.mark.parametrize("text", CLEAN)
def test_ordinary_replies_are_clean_on_every_marketplace(text):
    for marketplace in ("ozon", "yandex"):
        found = [f for f in check(text, marketplace=marketplace) if f.code != "link"]
        assert found == []


# ----------------------------------------------------------------------------- hard limits


@pytest.mark.parametrize(("marketplace", "limit"), [("wildberries", 1000), ("ozon", 1000), ("yandex", 4096)])
def test_length_limit_per_marketplace(marketplace, limit):
    assert check("я" * limit, marketplace=marketplace) == []
    [finding] = check("я" * (limit + 5), marketplace=marketplace)
    assert (finding.code, finding.severity) == ("too_long", "hard")
    assert (finding.start, finding.end) == (limit, limit + 5)  # the part that does not fit
    assert str(limit) in finding.reason and str(limit + 5) in finding.reason


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_message_is_hard(text):
    assert [(f.code, f.severity) for f in check(text, marketplace="ozon")] == [("empty", "hard")]


def test_empty_text_with_a_file_is_fine():
    photo = FileInfo("defect.jpg", 200_000, "image/jpeg")
    assert check("", marketplace="wildberries", files=[photo]) == []


def test_wb_accepts_only_jpeg_png_pdf():
    ok = [
        FileInfo("a.jpg", 10, "image/jpeg"),
        FileInfo("b.png", 10, "IMAGE/PNG"),
        FileInfo("c.pdf", 10, "application/pdf; charset=binary"),
        FileInfo("d.png", 10, "application/octet-stream"),  # generic type: judged by extension
    ]
    assert check("Фото", marketplace="wildberries", files=ok) == []
    bad = check("Фото", marketplace="wildberries", files=[FileInfo("clip.gif", 10, "image/gif")])
    assert [(f.code, f.severity) for f in bad] == [("file_type", "hard")]
    assert "clip.gif" in bad[0].reason and "image/gif" in bad[0].reason
    unknown = check("x", marketplace="wildberries", files=[FileInfo("notes.docx", 10, "")])
    assert [f.code for f in unknown] == ["file_type"]


def test_wb_file_size_and_total_size():
    assert check("x", marketplace="wildberries", files=[FileInfo("a.jpg", 5 * MB, "image/jpeg")]) == []
    [big] = check("x", marketplace="wildberries", files=[FileInfo("a.jpg", 5 * MB + 1, "image/jpeg")])
    assert (big.code, big.severity) == ("file_size", "hard") and "a.jpg" in big.reason
    seven = [FileInfo(f"{i}.jpg", 4 * MB + MB // 2, "image/jpeg") for i in range(7)]
    assert [f.code for f in check("x", marketplace="wildberries", files=seven)] == ["total_size"]
    six = seven[:6]
    assert check("x", marketplace="wildberries", files=six) == []


def test_empty_file_is_hard():
    assert [f.code for f in check("x", marketplace="ozon", files=[FileInfo("a.jpg", 0, "image/jpeg")])] == ["file_size"]


def test_yandex_5mb_any_type():
    assert check("x", marketplace="yandex", files=[FileInfo("a.gif", 5 * MB, "image/gif")]) == []
    assert [f.code for f in check("x", marketplace="yandex", files=[FileInfo("a.gif", 6 * MB, "")])] == ["file_size"]


def test_ozon_files_are_checked_against_what_delivery_accepts():
    """Issue 10: Ozon files were unlimited in the rule check but limited to five types and
    10 MB at delivery, so a 12 MB GIF was queued and only then failed."""
    [gif] = check("", marketplace="ozon", files=[FileInfo("a.gif", 12 * MB, "image/gif")])
    assert (gif.code, gif.severity) == ("file_size", "hard")
    assert "10.0 MB" in gif.reason
    found = check("", marketplace="ozon", files=[FileInfo("a.mp4", 80 * MB, "video/mp4")])
    assert [f.code for f in found] == ["file_type", "file_size"]
    assert "JPEG, PNG, GIF, WebP and PDF" in found[0].reason
    assert check("", marketplace="ozon", files=[FileInfo("a.gif", 10 * MB, "image/gif")]) == []
    # one file per request, so two files become two messages, not a refusal
    assert check("", marketplace="ozon", files=[FileInfo("a.gif", 1, "")] * 2) == []


def test_question_answers_cannot_carry_files():
    found = check("Ответ", marketplace="wildberries", kind="question", files=[FileInfo("a.jpg", 1, "image/jpeg")])
    assert [(f.code, f.severity) for f in found] == [("file_count", "hard")]
    assert check("Ответ", marketplace="wildberries", kind="question") == []


@pytest.mark.parametrize("status", ["FINISHED", "finished", " Finished "])
def test_finished_yandex_chat_is_hard(status):
    [finding] = check("Здравствуйте", marketplace="yandex", chat_status=status)
    assert (finding.code, finding.severity, finding.start) == ("chat_finished", "hard", None)


def test_open_chat_statuses_and_other_marketplaces_are_not_finished():
    assert check("Здравствуйте", marketplace="yandex", chat_status="WAITING_FOR_PARTNER") == []
    assert check("Здравствуйте", marketplace="yandex", chat_status=None) == []
    assert check("Здравствуйте", marketplace="ozon", chat_status="FINISHED") == []


def test_unknown_marketplace_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown marketplace"):
        check("x", marketplace="aliexpress")


def test_limits_table_matches_the_connector_contract():
    limits = rules.limits_for("wildberries")
    assert (limits.max_text, limits.max_file_size, limits.max_total_size) == (1000, 5 * MB, 30 * MB)
    assert rules.limits_for("yandex", "question") is rules.limits_for("yandex", "chat")  # falls back


# ----------------------------------------------------------------------------- content rules, one by one


def test_link_rule():
    assert "link" in codes("Смотрите https://example.com")
    assert "link" in codes("Смотрите example.com/catalog")
    assert "link" not in codes("Версия 2.5, цена 1.290")


def test_own_marketplace_links_are_fine_but_competitors_are_not():
    wb = "Карточка: https://www.wildberries.ru/catalog/146372915/detail.aspx"
    assert codes(wb, "wildberries") == set()
    assert "link" in codes(wb, "ozon")
    assert codes("Смотрите ozon.ru/product/1", "ozon") == set()
    assert "link" in codes("Смотрите ozon.ru/product/1", "wildberries")
    assert codes("market.yandex.ru/product/1", "yandex") == set()
    assert "link" in codes("yandex.ru/search", "yandex")


def test_link_span_excludes_trailing_punctuation():
    text = "Заходите на shop.ru."
    [f] = check(text, marketplace="wildberries")
    assert text[f.start : f.end] == "shop.ru"


def test_email_rule_and_link_inside_email_is_not_reported_twice():
    text = "Пишите ivan@mail.ru"
    [f] = check(text, marketplace="wildberries")
    assert (f.code, text[f.start : f.end]) == ("email", "ivan@mail.ru")


def test_everyday_words_that_look_like_email_obfuscation_are_clean():
    assert codes("Моя собака любит этот корм") == set()
    assert codes("We are at home at 10:00") == set()


def test_phone_rule():
    assert "phone" in codes("Звоните +7 999 123-45-67")
    assert "phone" in codes("тел 8 9 9 9 1 2 3 4 5 6 7")
    assert "phone" not in codes("Заказ 89991234567 доставлен")  # an order number, not a phone
    assert "phone" not in codes("Сто двадцать три рубля")


def test_spelled_out_phone_needs_ten_digits():
    assert "phone" in codes("девять девять девять один два три четыре пять шесть семь")
    assert "phone" not in codes("девять девять девять один два три четыре пять шесть")


def test_messenger_rule():
    for text in ("пишите в телеграм", "WhatsApp", "мой ник @shop_best", "t.me/shop", "в вайбер"):
        assert "messenger" in codes(text), text
    assert "messenger" not in codes("Мы с поставщиком в контакте")
    assert "messenger" not in codes("Смотрите @ в описании")


def test_homoglyph_disguise_is_seen_but_russian_text_is_not_folded_into_latin():
    assert "messenger" in codes("пишите в tеlеgrаm")  # Cyrillic е, а
    assert "link" in codes("сайт shор.ru")  # Cyrillic о, р
    assert codes("Ваш заказ.Со склада отправим завтра") == set()


def test_card_rule_requires_luhn():
    assert "card" in codes("4111 1111 1111 1111")
    assert "card" not in codes("4111 1111 1111 1112")
    assert "card" not in codes("IMEI 356938035643809")  # Luhn-valid, but an identifier
    assert "card" not in codes("Штрихкод 4601234567890")


def test_payment_rule():
    assert "payment" in codes("переведите на карту")
    assert "payment" in codes("ИНН 770123456789")
    assert "payment" not in codes("ИНН продавца указан в карточке")
    assert "payment" not in codes("Деньги вернутся переводом на карту в течение 10 дней")


def test_sbp_alone_is_fine_but_with_a_phone_it_is_payment():
    assert codes("Оплатить можно по СБП при оформлении заказа") == set()
    found = check("Оплата по СБП +7 999 123-45-67", marketplace="wildberries")
    assert {"payment", "phone"} <= {f.code for f in found}


def test_promo_rule():
    assert "promo" in codes("Промокод SALE20 на сайте")
    assert "promo" not in codes("Промокод от продавца SALE20 действует на сайте Wildberries")
    assert "promo" not in codes("Скидка 20% до воскресенья")


# ----------------------------------------------------------------------------- helpers and robustness


def test_hard_first_then_warnings_in_text_order_and_helpers():
    text = "ivan@mail.ru " + "x" * 1000 + " +7 999 123-45-67"
    found = check(text, marketplace="wildberries")
    assert found[0].code == "too_long"
    assert [f.code for f in hard(found)] == ["too_long"]
    assert [f.code for f in warnings(found)] == ["email", "phone"]
    lines = describe(found, text)
    assert lines[0].startswith("blocked (too_long)")
    assert lines[1] == 'warning (email) "ivan@mail.ru": ' + found[1].reason
    assert describe(found)[1] == "warning (email): " + found[1].reason


def test_every_rule_code_has_a_reason():
    assert all(rule.reason for rule in rules.CONTENT_RULES)


PATHOLOGICAL = [
    "1-" * 3000,
    "a-" * 3000 + "!",
    "ab-" * 2000 + ".",
    "a" * 6000,
    "a@" * 3000,
    "www." * 1500,
    "x [at] " * 1000,
    "восемь " * 1000,
    "@aaa " * 1200,
    "наш сайт скидка " * 300,
]


@pytest.mark.parametrize("text", PATHOLOGICAL, ids=[t[:8] for t in PATHOLOGICAL])
def test_no_catastrophic_backtracking(text):
    started = time.perf_counter()
    check(text, marketplace="yandex")
    assert time.perf_counter() - started < 2


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["wildberries", "ozon", "yandex"]))
def test_check_never_raises_and_spans_are_inside_the_text(text, marketplace):
    for f in check(text, marketplace=marketplace):
        assert f.severity in ("hard", "warn")
        if f.start is not None:
            assert f.end is not None and 0 <= f.start < f.end <= max(len(text), 1)


CONTACTISH = st.text(alphabet="0123456789 +-().@[]атсобкаtmeru.:/восемьдевять", max_size=120)


@settings(max_examples=300, deadline=None)
@given(CONTACTISH)
def test_check_never_raises_on_contact_like_noise(text):
    check(text, marketplace="wildberries", files=[FileInfo("a.jpg", 1, "image/jpeg")])
