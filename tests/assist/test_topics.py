"""Topics of buyer messages: rules over stems, measured on a hand-labelled corpus."""

from __future__ import annotations

import pytest

from chatdesk.assist import topics
from tests.assist.topics_corpus import DEV, HELD_OUT


def metrics(data: list[tuple[str, str]]) -> dict[str, tuple[float, float, int]]:
    """topic -> (precision, recall, support) of :func:`topics.classify` on ``data``."""
    out = {}
    for code in topics.TOPICS:
        predicted = [label for text, label in data if topics.classify(text).code == code]
        actual = [text for text, label in data if label == code]
        tp = sum(1 for label in predicted if label == code)
        precision = tp / len(predicted) if predicted else 1.0
        recall = tp / len(actual) if actual else 1.0
        out[code] = (precision, recall, len(actual))
    return out


def test_every_topic_is_in_both_sets() -> None:
    for data in (DEV, HELD_OUT):
        assert {label for _, label in data} == set(topics.TOPICS)


def test_dev_corpus_is_classified_exactly() -> None:
    assert [(t, topics.classify(t).code) for t, _ in DEV] == DEV


def test_held_out_precision_and_recall() -> None:
    m = metrics(HELD_OUT)
    accuracy = sum(1 for t, label in HELD_OUT if topics.classify(t).code == label) / len(HELD_OUT)
    macro_p = sum(p for p, _, _ in m.values()) / len(m)
    macro_r = sum(r for _, r, _ in m.values()) / len(m)
    # The README quotes these figures; they must not silently get worse.
    assert accuracy >= 52 / 54, accuracy
    assert macro_p >= 0.93 and macro_r >= 0.93, (macro_p, macro_r)
    for code in topics.PROBLEM_TOPICS:
        p, r, _ = m[code]
        assert p >= 0.8 and r >= 0.75, (code, p, r)


@pytest.mark.parametrize("text", ["", "   ", "!!!", "\x1b[31m", "ё" * 5000, "🙂🙂", "\ud83d"])
def test_anything_classifies_without_raising(text: str) -> None:
    assert topics.classify(text).code in topics.TOPICS


def test_politeness_does_not_make_a_problem_a_thanks() -> None:
    assert topics.classify("Спасибо, но пришёл брак, шов разошёлся").code == "defect"
    assert topics.classify("Спасибо за ответ!").code == "thanks"


def test_waiting_for_the_order_is_delivery_not_payment() -> None:
    """fuanswer item 5: a user's report. Having paid is context; the question is delivery."""
    assert topics.classify("Всё ещё жду заказ").code == "delivery"
    assert topics.classify("Когда придёт товар? Заказ оплатила давно").code == "delivery"
    assert topics.classify("Как оплатить заказ частями?").code == "price"
    assert topics.classify("Оплатила заказ, а деньги списали дважды").code == "price"
    # "сколько" is not a chip ("скол"): no defect rival in a delivery question
    assert topics.classify("Жду заказ с прошлого месяца, сколько можно").rivals == ()
    assert topics.classify("На кружке скол").code == "defect"
