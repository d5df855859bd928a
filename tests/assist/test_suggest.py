"""Offline suggestions: past answers to similar questions, re-addressed to this chat, same
product first, with the reason and the rule check; templates matched by stems."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from chatdesk.assist import suggest
from chatdesk.cli import app
from chatdesk.config import Config
from chatdesk.errors import UsageError
from chatdesk.model import ChatInfo, MessageInfo, Page
from chatdesk.store import accounts, ingest
from chatdesk.store import suggest as store_suggest
from chatdesk.store.db import Database
from chatdesk.templates import parse_template

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def _m(chat: str, ext: str, author: str, text: str, minutes: int) -> MessageInfo:
    return MessageInfo(chat, ext, author, text, T0 + timedelta(minutes=minutes))  # type: ignore[arg-type]


def build(db: Database) -> dict[str, int]:
    acc = accounts.add_account(db, "wb", "wildberries")
    page = Page(
        chats=(
            ChatInfo(
                "old-size-same", customer="Алёна", order_id="1111-1", product_id="500", context={"title": "Платье"}
            ),
            ChatInfo("old-size-other", customer="Пётр", order_id="2222-2", product_id="700"),
            ChatInfo("old-delivery", customer="Иван", product_id="500"),
            ChatInfo("old-unanswered", customer="Ольга", product_id="500"),
            ChatInfo("now", customer="Мария", order_id="9999-9", product_id="500", context={"title": "Платье"}),
        ),
        messages=(
            _m("old-size-other", "1", "buyer", "Какой размер взять на рост 170?", 0),
            _m("old-size-other", "2", "seller", "Пётр, на рост 170 берите размер M.", 10),
            _m("old-size-same", "3", "buyer", "Подскажите размер на рост 165, ношу 44", 20),
            _m("old-size-same", "4", "seller", "Алёна, добрый день! Платье маломерит, при 44 берите 46.", 30),
            _m("old-delivery", "5", "buyer", "Когда будет доставка?", 40),
            _m("old-delivery", "6", "seller", "Иван, заказ в пути, 2-3 дня.", 50),
            _m("old-unanswered", "7", "buyer", "Размер на рост 180 есть?", 60),
            _m("now", "8", "buyer", "Здравствуйте! Какой размер брать на рост 168?", 100),
        ),
    )
    ingest.apply_page(db, acc.id, "chats", page)
    with db.read() as s:
        from sqlalchemy import text

        return {r[0]: r[1] for r in s.execute(text("SELECT external_id, id FROM chat"))}


def test_past_answers_same_product_first_readdressed_with_reason(db: Database) -> None:
    ids = build(db)
    r = suggest.suggest(db, ids["now"], config=Config())
    past = [s for s in r.items if s.source == "past"]
    assert r.buyer_text == "Здравствуйте! Какой размер брать на рост 168?"
    # both size answers, the same product's first; the delivery answer shares no word: left out;
    # the unanswered question has no answer to offer
    assert [s.text for s in past] == [
        "Мария, добрый день! Платье маломерит, при 44 берите 46.",
        "Мария, на рост 170 берите размер M.",
    ]
    assert past[0].same_product and not past[1].same_product
    assert "Подскажите размер на рост 165" in past[0].reason and "01.11.2026" in past[0].reason
    assert "same product" in past[0].reason and "арт. 700" in past[1].reason
    assert all(s.findings == () for s in past)


def test_missing_customer_is_tidied_and_foreign_numbers_flagged(db: Database) -> None:
    ids = build(db)
    acc = accounts.get_account(db, "wb")
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            chats=(ChatInfo("anon", product_id="500"), ChatInfo("src", customer="Пётр", product_id="501")),
            messages=(
                _m("src", "20", "buyer", "Подойдёт чехол на Galaxy A54?", 200),
                _m("src", "21", "seller", "Пётр, нет, для A54 есть модель 11223345.", 210),
                _m("anon", "22", "buyer", "Чехол на Galaxy A54 подойдёт?", 220),
            ),
        ),
    )
    ids = {**ids, "anon": max(ids.values()) + 1}
    r = suggest.suggest(db, ids["anon"], config=Config())
    (s,) = [s for s in r.items if s.source == "past"]
    assert s.text == "Нет, для A54 есть модель 11223345."
    assert s.notes == ("mentions 11223345: check that it fits this buyer",)


def test_a_suggestion_carrying_a_contact_is_flagged_by_the_rule_check(db: Database) -> None:
    ids = build(db)
    acc = accounts.get_account(db, "wb")
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            messages=(
                _m("old-delivery", "30", "buyer", "Где мой трек номер посылки?", 300),
                _m("old-delivery", "31", "seller", "Напишите нам в телеграм @shop_help", 310),
                _m("now", "32", "buyer", "Пришлите трек номер посылки", 320),
            )
        ),
    )
    r = suggest.suggest(db, ids["now"], config=Config())
    (s,) = [s for s in r.items if s.source == "past"]
    assert any(f.severity == "warn" for f in s.findings)


def test_templates_match_by_stems_and_are_filled(db: Database) -> None:
    ids = build(db)
    tpl = [
        parse_template("return", "# Как оформить возврат\nЗдравствуйте, {customer}! Возврат по заказу {order}: ..."),
        parse_template("thanks", "Спасибо за отзыв!"),
    ]
    acc = accounts.get_account(db, "wb")
    ingest.apply_page(
        db, acc.id, "chats", Page(messages=(_m("now", "40", "buyer", "Хочу вернуть, как оформить возврат?", 400),))
    )
    r = suggest.suggest(db, ids["now"], config=Config(), found_templates=tpl)
    (t,) = [s for s in r.items if s.source == "template"]
    assert t.template == "return" and t.text == "Здравствуйте, Мария! Возврат по заказу 9999-9: ..."
    assert "shares 2 of" in t.reason


def test_chat_changed_meanwhile_is_detected(db: Database) -> None:
    ids = build(db)
    r = suggest.suggest(db, ids["now"], config=Config())
    assert suggest.still_current(db, r)
    acc = accounts.get_account(db, "wb")
    ingest.apply_page(db, acc.id, "chats", Page(messages=(_m("now", "50", "buyer", "Ау?", 500),)))
    assert not suggest.still_current(db, r)


def test_no_buyer_message_says_so(db: Database) -> None:
    acc = accounts.add_account(db, "wb", "wildberries")
    ingest.apply_page(db, acc.id, "chats", Page(chats=(ChatInfo("x"),)))
    r = suggest.suggest(db, 1, config=Config())
    assert r.items == () and r.for_message_id is None and r.notices


def test_cli_suggest_json_and_text(store_url: str) -> None:
    url = store_url
    db = Database(url)
    ids = build(db)
    db.close()
    result = CliRunner().invoke(app, ["--db", url, "suggest", str(ids["now"]), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["suggestions"][0]["text"] == "Мария, добрый день! Платье маломерит, при 44 берите 46."
    assert data["suggestions"][0]["source"] == "past"
    result = CliRunner().invoke(app, ["--db", url, "suggest", str(ids["now"])])
    assert result.exit_code == 0 and "маломерит" in result.output and "Подскажите размер" in result.output
    result = CliRunner().invoke(app, ["--db", url, "suggest", "999"])
    assert isinstance(result.exception, UsageError)


def test_a_delivery_question_is_not_answered_with_a_defect_answer(db: Database) -> None:
    """ux-findings 14: «Товар не пришёл…» matched «Пришёл товар с браком…» on the word пришёл."""
    ids = build(db)
    acc = accounts.get_account(db, "wb")
    tpl = [
        parse_template("return", "# Возврат брака\nЕсли товар пришёл с браком, оформите возврат в приложении."),
        parse_template("where", "# Не пришёл заказ\nЕсли в приложении написано «доставлен», а заказа нет, проверим."),
    ]
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            messages=(
                _m("old-size-other", "60", "buyer", "Пришёл товар с браком — в приложении фото брака приложила", 600),
                _m("old-size-other", "61", "seller", "Оформите возврат, брак заберём за наш счёт.", 610),
                _m("old-delivery", "62", "buyer", "Заказ не пришёл, в приложении статус «доставлен»", 620),
                _m("old-delivery", "63", "seller", "Проверили: заказ лежит в пункте выдачи, заберите до пятницы.", 630),
                _m("now", "64", "buyer", "Товар не пришёл, хотя в приложении написано «доставлен»", 640),
            )
        ),
    )
    r = suggest.suggest(db, ids["now"], config=Config(), found_templates=tpl)
    assert r.topic == "delivery"
    past = [s for s in r.items if s.source == "past"]
    assert [s.text for s in past] == ["Проверили: заказ лежит в пункте выдачи, заберите до пятницы."]
    assert past[0].topic == "delivery" and "same topic: доставка" in past[0].reason
    assert [s.template for s in r.items if s.source == "template"] == ["where"]


def test_same_topic_ranks_above_a_closer_wording_of_another_topic(db: Database) -> None:
    ids = build(db)
    acc = accounts.get_account(db, "wb")
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            messages=(
                # more words in common with the buyer, but about price (not a problem topic)
                _m("old-size-other", "70", "buyer", "Платье синее цена со скидкой какая?", 700),
                _m("old-size-other", "71", "seller", "Цена со скидкой 1990 ₽.", 710),
                _m("old-delivery", "72", "buyer", "Синее платье когда доставка?", 720),
                _m("old-delivery", "73", "seller", "Доставка 2-3 дня.", 730),
                _m("now", "74", "buyer", "Синее платье со скидкой: когда доставка?", 740),
            )
        ),
    )
    r = suggest.suggest(db, ids["now"], config=Config())
    past = [s for s in r.items if s.source == "past"]
    assert r.topic == "delivery"
    assert [s.text for s in past][:2] == ["Доставка 2-3 дня.", "Цена со скидкой 1990 ₽."]
    assert "topic: цена" in past[1].reason


def test_a_stored_topic_tag_wins_over_the_rules(db: Database) -> None:
    from chatdesk.store import topics as store_topics

    ids = build(db)
    with db.read() as s:
        from sqlalchemy import text

        qid = s.execute(text("SELECT id FROM message WHERE external_id = '3'")).scalar()
        now_id = s.execute(text("SELECT id FROM message WHERE external_id = '8'")).scalar()
    store_topics.set_topic(db, int(qid), "price")  # e.g. refined by the model
    store_topics.set_topic(db, int(now_id), "size")
    r = suggest.suggest(db, ids["now"], config=Config())
    past = [s for s in r.items if s.source == "past"]
    assert [s.topic for s in past] == ["size", "price"]


def test_only_the_most_selective_terms_reach_the_index(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed: FTS5 reads the whole posting list of each prefix term in a MATCH, so common
    stems ("заказ", "товар") must be left to the ranking, not the index lookup. The budgets
    (summed document frequency, 60k/150k on a real store) are scaled to this small store."""
    from sqlalchemy import event

    from chatdesk.store import suggest as store_suggest

    if not db.is_sqlite:
        return
    ids = build(db)
    acc = accounts.get_account(db, "wb")
    common = tuple(
        _m("old-unanswered", f"c{i}", "buyer", f"Заказ товар номер {i} оформлен", 800 + i) for i in range(40)
    )
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            messages=(
                *common,
                _m("old-delivery", "90", "buyer", "Заказ с товаром: курьер опоздал на сутки", 900),
                _m("old-delivery", "91", "seller", "Извините, курьерская служба задержала.", 910),
                _m("now", "92", "buyer", "Заказ с товаром, а курьер опоздал", 920),
            )
        ),
    )
    matches: list[str] = []

    def spy(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "MATCH" in statement:
            matches.append(str(parameters))

    monkeypatch.setattr(store_suggest, "AND_BUDGET", 10, raising=False)
    monkeypatch.setattr(store_suggest, "OR_BUDGET", 10, raising=False)
    getattr(store_suggest, "clear_cache", lambda: None)()  # cached document frequencies
    event.listen(db.engine, "before_cursor_execute", spy)
    try:
        r = suggest.suggest(db, ids["now"], config=Config())
    finally:
        event.remove(db.engine, "before_cursor_execute", spy)
    assert matches and not any("заказ" in m or "товар" in m for m in matches), matches
    assert next(s.text for s in r.items if s.source == "past") == "Извините, курьерская служба задержала."


def test_cli_shows_the_buyer_and_topic_before_the_notice(store_url: str) -> None:
    """ux-findings 14: with no match, the explanation printed above the "buyer:" line."""
    url = store_url
    db = Database(url)
    ids = build(db)
    acc = accounts.get_account(db, "wb")
    ingest.apply_page(
        db, acc.id, "chats", Page(messages=(_m("now", "80", "buyer", "Курьер так и не привёз посылку", 800),))
    )
    db.close()
    result = CliRunner().invoke(app, ["--db", url, "suggest", str(ids["now"])])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "buyer (доставка): Курьер так и не привёз посылку"
    assert lines[1].startswith("nothing like this was answered before")


def test_thanks_is_not_answered_with_an_answer_to_a_question(db: Database) -> None:
    """Seen on the demo: «Спасибо, заказала.» got the answer to «Можно заказать 100 штук?»."""
    ids = build(db)
    acc = accounts.get_account(db, "wb")
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            messages=(
                _m("old-delivery", "95", "buyer", "Можно заказать 100 штук? Нужно для корпоратива.", 950),
                _m("old-delivery", "96", "seller", "Да, такое количество есть на складе.", 960),
                _m("old-size-other", "97", "buyer", "Спасибо, заказала, всё пришло!", 970),
                _m("old-size-other", "98", "seller", "Спасибо за отзыв!", 980),
                _m("now", "99", "buyer", "Спасибо, заказала.", 990),
            )
        ),
    )
    r = suggest.suggest(db, ids["now"], config=Config())
    assert r.topic == "thanks"
    assert [s.text for s in r.items if s.source == "past"] == ["Спасибо за отзыв!"]


def test_topic_tier_table() -> None:
    tier = suggest.topic_tier
    assert tier("delivery", "delivery") == 0 and tier(None, "defect") == 0 and tier("other", "defect") == 0
    assert tier("delivery", None) == 1 and tier("delivery", "other") == 1
    assert tier("delivery", "price") == 2 and tier("product", "defect") == 2
    assert tier("delivery", "defect") is None and tier("size", "return") is None
    assert tier("thanks", "price") is None and tier("thanks", "other") is None and tier("thanks", "thanks") == 0


def test_selective_terms_rarest_first_within_budget() -> None:
    from chatdesk.store import suggest as store_suggest
    from chatdesk.store.terms import Term

    a, b, c, d, gone = (Term(x, True) for x in ("курьер", "опозда", "заказ", "товар", "абв"))
    df = {a: 10, b: 5, c: 50_000, d: 70_000, gone: 0}
    pick = store_suggest.selective_terms
    assert pick([a, b, c, d, gone], df, 60_000, 3) == [b, a, c]
    assert pick([a, b, c, d, gone], df, 1_000, 4) == [b, a]  # the two rarest always
    assert pick([c, d], df, 10, 4) == [c, d]
    assert pick([gone], df, 10, 4) == []  # a word no message has narrows nothing


@given(st.text(alphabet="аб_ 1{}-", max_size=30), st.text(alphabet="аб1{", min_size=1, max_size=4))
def test_replace_word_is_the_lookaround_substitution(body: str, old: str) -> None:
    import re

    expected = re.sub(r"(?<!\w)" + re.escape(old) + r"(?!\w)", "{x}", body)
    assert suggest._replace_word(body, old, "{x}") == expected


def test_postgresql_uses_the_planners_statistics_when_analyzed(db: Database) -> None:
    """On PostgreSQL the document counts come from ``pg_stats`` once the index is analyzed; the
    suggestions are the same as without them."""
    from chatdesk.store import suggest as store_suggest

    if db.is_sqlite:
        return
    ids = build(db)
    before = [s.text for s in suggest.suggest(db, ids["now"], config=Config()).items]
    with db.write() as s:
        from sqlalchemy import text

        s.execute(text("ANALYZE message"))
    q = [t for t in store_suggest.terms.similarity_terms("Какой размер брать на рост 168?")]
    estimated = store_suggest.pg_document_frequencies(db, q)
    assert estimated is not None
    df, total = estimated
    assert total >= 1 and all(n >= 1 for n in df.values())
    assert [s.text for s in suggest.suggest(db, ids["now"], config=Config()).items] == before


# ---------------------------------------------------------------- re-addressing (suggestfix 1)


def _past(**fields: object) -> store_suggest.PastAnswer:
    base: dict[str, object] = {
        "question_id": 1,
        "question": "?",
        "asked_at": T0,
        "chat_id": 1,
        "marketplace": "wb",
        "product_id": None,
        "customer": None,
        "order_id": None,
        "context": "{}",
        "answer_id": 2,
        "answer": "",
        "answered_at": T0,
        "score": 0.0,
    }
    return store_suggest.PastAnswer(**{**base, **fields})  # type: ignore[arg-type]


DEMO_ANSWER = "Дмитрий, поставка XL будет 5 декабря, на артикул 173300412 поставим 20 штук."


def test_another_chats_product_number_becomes_this_chats_number_not_a_label_or_a_gap() -> None:
    """Seen on the demo: "на артикул поставим" (chat 24) and "на артикул товар (арт. 160087432)
    поставим" (chat 38), with no "check:" note."""
    past = _past(customer="Дмитрий", product_id="173300412")
    label = {"customer": "Мария", "order": None, "product": "товар (арт. 160087432)"}
    assert suggest.readdress(DEMO_ANSWER, past, label, "160087432") == (
        "Мария, поставка XL будет 5 декабря, на артикул 160087432 поставим 20 штук.",
        [],
    )
    text, notes = suggest.readdress(DEMO_ANSWER, past, {"customer": "Мария", "order": None, "product": None})
    assert text == "Мария, поставка XL будет 5 декабря, на артикул {артикул} поставим 20 штук."
    assert notes == ["fill in {артикул}: this chat has no product number"]


def test_another_chats_order_number_becomes_a_placeholder_to_fill_when_this_chat_has_none() -> None:
    past = _past(customer="Михаил", order_id="87902575")
    answer = "Михаил, по заказу 87902575 мы открыли претензию, ответ будет за 3 дня."
    text, notes = suggest.readdress(answer, past, {"customer": None, "order": None, "product": None})
    assert text == "По заказу {номер заказа} мы открыли претензию, ответ будет за 3 дня."
    assert notes == ["fill in {номер заказа}: this chat has no order number"]
    text, notes = suggest.readdress(answer, past, {"customer": "Ян", "order": "5550001", "product": None})
    assert (text, notes) == ("Ян, по заказу 5550001 мы открыли претензию, ответ будет за 3 дня.", [])


def test_a_chat_without_a_product_number_is_told_through_suggest(store_url: str) -> None:
    db = Database(store_url)
    ids = build(db)
    acc = accounts.get_account(db, "wb")
    ingest.apply_page(
        db,
        acc.id,
        "chats",
        Page(
            chats=(
                ChatInfo("src1", customer="Дмитрий", product_id="173300412"),
                ChatInfo("dst1", customer="Мария"),
            ),
            messages=(
                _m("src1", "30", "buyer", "Когда будет поставка размера XL?", 300),
                _m("src1", "31", "seller", DEMO_ANSWER, 310),
                _m("dst1", "32", "buyer", "Будет ли поставка размера XL?", 320),
            ),
        ),
    )
    with db.read() as s:
        from sqlalchemy import text as sql

        dst = s.execute(sql("SELECT id FROM chat WHERE external_id = 'dst1'")).scalar_one()
    assert ids
    r = suggest.suggest(db, dst, config=Config())
    (s,) = [s for s in r.items if s.source == "past"]
    assert s.text == "Мария, поставка XL будет 5 декабря, на артикул {артикул} поставим 20 штук."
    assert "fill in {артикул}: this chat has no product number" in s.notes
    db.close()
    out = CliRunner().invoke(app, ["--db", store_url, "suggest", str(dst), "--offline"])
    assert out.exit_code == 0, out.output
    assert "check: fill in {артикул}: this chat has no product number" in out.output


_ids = st.text(alphabet="0123456789", min_size=5, max_size=10).filter(lambda s: s[0] != "0")
_names = st.sampled_from(["Дмитрий", "Мария", "Ahmed", "Ольга-Мария", "Ли"])
_phrases = st.lists(
    st.sampled_from(
        [
            "{c}, добрый день!",
            "Спасибо, {c}!",
            "По заказу {o} мы открыли претензию.",
            "на артикул {p} поставим 20 штук.",
            "Заказ №{o} в пути.",
            "Товар {p} снова в продаже, заказ {o} отправим завтра.",
            "Поставка будет 5 декабря.",
        ]
    ),
    min_size=1,
    max_size=5,
)


@given(
    phrases=_phrases,
    customer=_names,
    order=_ids,
    product=_ids,
    mine=st.fixed_dictionaries(
        {
            "customer": st.none() | st.just("Вера"),
            "order": st.none() | st.just("4242-77"),
            "pid": st.none() | st.just("31337"),
        }
    ),
)
def test_readdressed_answer_keeps_none_of_the_source_chats_values_and_leaves_no_gap(
    phrases: list[str], customer: str, order: str, product: str, mine: dict[str, str | None]
) -> None:
    if order in product or product in order:
        return
    answer = " ".join(phrases).format(c=customer, o=order, p=product)
    past = _past(customer=customer, order_id=order, product_id=product)
    values = {"customer": mine["customer"], "order": mine["order"], "product": None}
    text, notes = suggest.readdress(answer, past, values, mine["pid"])
    assert customer not in text and order not in text and product not in text
    order_fill = mine["order"] or "{номер заказа}"
    pid_fill = mine["pid"] or "{артикул}"
    for phrase in phrases:
        if "по заказу" in phrase.lower():
            assert "заказу " + order_fill + " мы" in text
        if "артикул {p}" in phrase:
            assert f"на артикул {pid_fill} поставим" in text
        if "№{o}" in phrase:
            assert f"№{order_fill} в пути" in text
    if "{o}" in "".join(phrases) and not mine["order"]:
        assert "fill in {номер заказа}: this chat has no order number" in notes
    if "{p}" in "".join(phrases) and not mine["pid"]:
        assert "fill in {артикул}: this chat has no product number" in notes
    assert text == text.strip()


# ---------------------------------------------------------------- thanks and trimming (suggestfix 2)


def _thanks_store(db: Database, answers: list[str]) -> int:
    """Chats where buyers thanked and the seller replied with ``answers``; then a chat whose
    buyer only wrote "Спасибо за ответ!". Returns that chat's id."""
    acc = accounts.add_account(db, "wb", "wildberries")
    chats = [ChatInfo(f"old{i}", customer="Дмитрий") for i in range(len(answers))] + [ChatInfo("now")]
    messages = []
    for i, answer in enumerate(answers):
        messages += [
            _m(f"old{i}", f"q{i}", "buyer", "Спасибо за ответ, всё понятно!", 10 * i),
            _m(f"old{i}", f"a{i}", "seller", answer, 10 * i + 5),
        ]
    messages.append(_m("now", "n", "buyer", "Спасибо за ответ!", 500))
    ingest.apply_page(db, acc.id, "chats", Page(chats=tuple(chats), messages=tuple(messages)))
    with db.read() as s:
        from sqlalchemy import text as sql

        return int(s.execute(sql("SELECT id FROM chat WHERE external_id = 'now'")).scalar_one())


def test_a_thanks_gets_a_short_thanks_reply_trimmed_not_a_reply_to_a_question(db: Database) -> None:
    """Seen on the demo: "Спасибо за ответ!" got "Спасибо за ваш вопрос." and two empty lines."""
    chat = _thanks_store(
        db,
        [
            "Здравствуйте, Дмитрий! Спасибо за ваш вопрос.\n\n\n",
            "Дмитрий, спасибо и вам! Хорошего дня.  \n\n",
        ],
    )
    r = suggest.suggest(db, chat, config=Config())
    assert r.topic == "thanks"
    assert [s.text for s in r.items] == ["Спасибо и вам! Хорошего дня."]


def test_a_thanks_with_no_short_reply_to_offer_gets_none_and_says_why(db: Database) -> None:
    chat = _thanks_store(db, ["Здравствуйте, Дмитрий! Спасибо за ваш вопрос.\n\n\n"])
    r = suggest.suggest(db, chat, config=Config())
    assert r.items == ()
    assert r.notices == ("the buyer only says thanks: a reply is optional, and no past reply to thanks is short",)


def test_suggestions_are_trimmed() -> None:
    assert suggest.tidy("  Да, до 6 часов.  \n\n\n\nПишите!\n\n") == "Да, до 6 часов.\n\nПишите!"
    t = parse_template("answer", "Здравствуйте, {customer}! Спасибо за ваш вопрос.\n\n\n")
    from chatdesk.store import terms

    (s,) = suggest.match_templates([t], terms.similarity_terms("Спасибо, а вопрос?"), {"customer": None}, 1)
    assert s.text == "Здравствуйте! Спасибо за ваш вопрос."
