"""The conversation header in words (issue 13, "Confusing or missing"): no raw API fields,
the useful facts first so they survive 80 columns."""

from __future__ import annotations

from datetime import UTC, datetime

from chatdesk.store.views import ChatRow
from chatdesk.widgets.header import chat_facts, header_text


def row(**kw: object) -> ChatRow:
    base: dict[str, object] = dict(
        id=1,
        account_id=1,
        account="demo-wb",
        marketplace="wildberries",
        kind="chat",
        external_id="x",
        customer="Дмитрий",
        order_id=None,
        product_id=None,
        status=None,
        unread=0,
        waiting=False,
        last_message_at=datetime(2026, 1, 1, tzinfo=UTC),
        last_buyer_at=None,
        preview=None,
    )
    base.update(kw)
    return ChatRow(**base)  # type: ignore[arg-type]


def test_wb_card_is_a_product_line_not_wire_fields() -> None:
    chat = row(product_id="173300412", context={"nmID": "173300412", "price": "2790", "currency": "RUB", "size": "44"})
    assert chat_facts(chat) == ["product 173300412", "size 44", "2 790 ₽"]
    plain = header_text(chat).plain
    assert "currency" not in plain and "nmID" not in plain and plain.count("173300412") == 1


def test_ym_chat_type_and_status_in_words() -> None:
    chat = row(
        marketplace="yandex",
        order_id="87902575",
        status="WAITING_FOR_PARTNER",
        context={"chatType": "CHAT", "contextType": "ORDER"},
    )
    plain = header_text(chat).plain
    assert "waiting for your reply" in plain
    assert "chatType" not in plain and "contextType" not in plain and "CHAT" not in plain
    assert plain.splitlines()[1] == "order 87902575"


def test_return_and_question_facts() -> None:
    chat = row(marketplace="yandex", order_id="5", context={"returnId": "77", "contextType": "RETURN"})
    assert chat_facts(chat) == ["order 5", "return 77", "about a return"]
    q = row(kind="question", status="unanswered", context={"nmId": "9", "productName": "Плед", "brandName": "Уют"})
    assert chat_facts(q) == ["Плед (Уют)", "product 9"]
    assert "not answered yet" in header_text(q).plain
