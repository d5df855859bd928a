"""The conversation header: who, where (marketplace, account), what about (order, product), status."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from chatdesk.connectors import LABELS
from chatdesk.sanitize import safe_text
from chatdesk.store.views import ChatRow
from chatdesk.usecases.titles import chat_title, is_resolved

STATUS_WORDS = {
    "NEW": "new",
    "OPENED": "open",
    "WAITING_FOR_CUSTOMER": "waiting for the buyer",
    "WAITING_FOR_PARTNER": "waiting for your reply",
    "WAITING_FOR_ARBITER": "with the marketplace's arbiter",
    "WAITING_FOR_MARKET": "waiting for Yandex Market",
    "FINISHED": "finished: no more messages",
    "CLOSED": "closed",
    "ANSWERED": "answered",
    "UNANSWERED": "not answered yet",
}
CURRENCIES = {"RUB": "₽", "RUR": "₽", "KZT": "₸", "BYN": "Br", "UZS": "сум", "USD": "$", "EUR": "€"}
CONTEXT_WORDS = {"RETURN": "about a return", "ORDER": "about an order", "ITEM": "about a product"}


def status_words(status: str | None) -> str:
    """A marketplace's chat status in a seller's words (unknown ones lower-cased, sanitized)."""
    if not status:
        return ""
    raw = safe_text(status, single_line=True, max_len=40)
    return STATUS_WORDS.get(raw.upper(), raw.lower().replace("_", " "))


def _price(value: str, currency: str | None) -> str:
    try:
        amount = float(value)
    except ValueError:
        return safe_text(value, single_line=True, max_len=20)
    whole = f"{amount:,.0f}" if amount == int(amount) else f"{amount:,.2f}"
    sign = CURRENCIES.get((currency or "RUB").upper(), safe_text(currency or "", single_line=True, max_len=5))
    return f"{whole.replace(',', ' ')} {sign}".strip()


def chat_facts(chat: ChatRow) -> list[str]:
    """What the chat is about, most useful first: order, product, size, price, return …

    Wire names (``chatType``, ``contextType``, ``currency``) are turned into words or folded
    into the fact they qualify; a product id shown once."""
    ctx = {k: safe_text(v, single_line=True, max_len=60) for k, v in chat.context.items() if v}
    facts: list[str] = []
    order = chat.order_id or ctx.get("order_number")
    if order:
        facts.append(f"order {safe_text(order, single_line=True, max_len=40)}")
    name = ctx.get("productName")
    product = chat.product_id or ctx.get("nmID") or ctx.get("nmId") or ctx.get("sku")
    if name:
        facts.append(name + (f" ({ctx['brandName']})" if ctx.get("brandName") else ""))
    if product:
        facts.append(f"product {safe_text(product, single_line=True, max_len=30)}")
    if ctx.get("supplierArticle"):
        facts.append(f"art. {ctx['supplierArticle']}")
    if ctx.get("size") and ctx["size"] not in ("0", ""):
        facts.append(f"size {ctx['size']}")
    if ctx.get("price"):
        facts.append(_price(ctx["price"], ctx.get("currency")))
    if ctx.get("returnId"):
        facts.append(f"return {ctx['returnId']}")
    about = CONTEXT_WORDS.get((ctx.get("contextType") or "").upper())
    if about and not (about == "about an order" and order):
        facts.append(about)
    return facts


def header_text(chat: ChatRow) -> Text:
    """Two lines: who, where and the chat's state; then what it is about."""
    text = Text()
    text.append(chat_title(chat), "bold")
    text.append(f"  {LABELS.get(chat.marketplace, chat.marketplace)}")
    text.append(f" · {safe_text(chat.account, single_line=True)}")
    if chat.kind == "question":
        text.append(" · question")
    words = status_words(chat.status)
    if words:
        text.append(f" · {words}", "italic")
    if is_resolved(chat):
        text.append(" · resolved", "italic")
    if chat.assigned_to:  # team mode
        who = chat.assigned_name or chat.assigned_to  # the display name ("Анна"), not the login
        text.append(f" · assigned to {safe_text(who, single_line=True, max_len=40)}", "italic")
    for who, state in chat.present:
        text.append(f" · {safe_text(who, single_line=True, max_len=40)} {state}", "bold")
    text.append("\n")
    text.append(" · ".join(chat_facts(chat)) or "no order or product details", "dim")
    return text


class ChatHeader(Static):
    DEFAULT_CSS = """
    ChatHeader { height: 2; padding: 0 1; background: $boost; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)

    def show(self, chat: ChatRow | None) -> None:
        self.update(header_text(chat) if chat else Text("No chat open: pick one on the left", "dim"))
