"""How a chat is named and how long its buyer has waited, in words shared by the TUI and the CLI.

Pure functions over :class:`chatdesk.store.views.ChatRow`: no I/O, no Textual.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from chatdesk.sanitize import safe_text

if TYPE_CHECKING:
    from chatdesk.store.views import ChatRow


def chat_title(chat: ChatRow) -> str:
    """Who the chat is with, in the best words the marketplace gave us: the customer's name, else
    ``order <id>``, else ``product <id>``, else the marketplace's chat id; one sanitized line."""
    return title_of(chat.customer, chat.order_id, chat.product_id, chat.external_id)


def title_of(customer: str | None, order_id: str | None, product_id: str | None, fallback: str) -> str:
    """:func:`chat_title` from the chat's fields (for callers without a ``ChatRow``, such as hooks'
    ``CHATDESK_TITLE``): Ozon gives no buyer name, so its chats are named by order or product."""
    if customer and customer.strip():
        return safe_text(customer, single_line=True)
    if order_id:
        return f"order {safe_text(order_id, single_line=True)}"
    if product_id:
        return f"product {safe_text(product_id, single_line=True)}"
    return safe_text(fallback, single_line=True)


def is_resolved(chat: ChatRow) -> bool:
    """Resolved, and the buyer has not written since."""
    resolved = chat.resolved_at
    return resolved is not None and (chat.last_buyer_at is None or chat.last_buyer_at <= resolved)


def waited(at: datetime | None, now: datetime) -> str:
    """How long since ``at`` (the buyer's unanswered message), short: ``"45m"`` under an hour,
    ``"3h"`` under 48 hours, else ``"2d"``; ``""`` for None; never negative (clock skew)."""
    if at is None:
        return ""
    minutes = max(0, int((now - at).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 60 * 48:
        return f"{minutes // 60}h"
    return f"{minutes // 1440}d"
