"""Consecutive messages share one header only when one person wrote them (team review: a
colleague's replies must never sit under another operator's name)."""

from datetime import UTC, datetime, timedelta

from chatdesk.store.views import MessageRow
from chatdesk.widgets.conversation import ConversationView


def row(mid: int, author: str, operator: str | None, minutes: int) -> MessageRow:
    at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return MessageRow(mid, 1, str(mid), author, f"text {mid}", at, (), "sent", None, operator)


def test_seller_messages_of_two_operators_get_their_own_headers() -> None:
    view = ConversationView.__new__(ConversationView)  # _continues reads only the two rows
    assert view._continues(row(1, "seller", "ivan", 0), row(2, "seller", "ivan", 1))
    assert not view._continues(row(1, "seller", "ivan", 0), row(2, "seller", "anna", 1))
    assert not view._continues(row(1, "seller", None, 0), row(2, "seller", "anna", 1))
    assert view._continues(row(1, "buyer", None, 0), row(2, "buyer", None, 1))
