"""The conversation header: who, where (marketplace, account), what about (order, product), status."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from chatdesk.connectors import LABELS
from chatdesk.sanitize import safe_text
from chatdesk.store.views import ChatRow
from chatdesk.widgets.chat_list import chat_title


def header_text(chat: ChatRow) -> Text:
    text = Text()
    text.append(chat_title(chat), "bold")
    text.append(f"  {LABELS.get(chat.marketplace, chat.marketplace)}")
    text.append(f" · {safe_text(chat.account, single_line=True)}")
    if chat.kind == "question":
        text.append(" · question")
    if chat.status:
        text.append(f" · {safe_text(chat.status, single_line=True, max_len=30).lower()}", "italic")
    facts: list[str] = []
    if chat.order_id:
        facts.append(f"order {chat.order_id}")
    if chat.product_id:
        facts.append(f"product {chat.product_id}")
    # Display-only facts from the connector (WB goodCard nmID/size/price, YM return id, ...).
    facts.extend(f"{key} {value}" for key, value in sorted(chat.context.items()) if value)
    text.append("\n")
    text.append(safe_text(" · ".join(facts) or "no order or product details", single_line=True), "dim")
    return text


class ChatHeader(Static):
    DEFAULT_CSS = """
    ChatHeader { height: 2; padding: 0 1; background: $boost; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)

    def show(self, chat: ChatRow | None) -> None:
        self.update(header_text(chat) if chat else Text("No chat open: pick one on the left", "dim"))
