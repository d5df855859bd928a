"""Small marks the chat list shows for issue 14: the topic of the buyer's latest message and
the time left in the marketplace's reply window. Pure functions (no widget state)."""

from __future__ import annotations

from datetime import datetime, timedelta

from chatdesk import rules
from chatdesk.assist.topics import SHORT
from chatdesk.store.views import ChatRow

MODEL_MARK = "*"
"""After a topic the configured model chose (the rules were unsure): ``размер*``."""


def topic_tag(row: ChatRow) -> str:
    """``размер``, ``брак`` … for the row's topic, ``размер*`` when the configured model chose
    it; empty for none/other."""
    tag = SHORT.get(row.topic or "", "") if row.topic else ""
    return f"{tag}{MODEL_MARK}" if tag and row.topic_source == "model" else tag


def window_left(row: ChatRow, now: datetime) -> timedelta | None:
    """Time left to answer a waiting buyer within the marketplace's reply window (Ozon: 48 h
    after the buyer's last message, :mod:`chatdesk.marketplaces`); ``timedelta(0)`` once it has
    closed; None when the marketplace has no window or nobody is waiting."""
    if not row.waiting or row.closed or row.last_buyer_at is None:
        return None
    closes = rules.reply_window_closes(row.marketplace, row.kind, row.last_buyer_at)  # the rule check's own
    if closes is None:
        return None
    return max(timedelta(0), closes - now)


def short_left(left: timedelta) -> str:
    """``5h``, ``40m``, ``1d``; ``0`` when closed (fits the list's narrow column)."""
    minutes = int(left.total_seconds() // 60)
    if minutes <= 0:
        return "0"
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h"
    return f"{minutes // 1440}d"


def words_left(left: timedelta) -> str:
    """ "window closes in 5 h" / "window closed" for a sentence."""
    if left <= timedelta(0):
        return "reply window closed"
    minutes = int(left.total_seconds() // 60)
    return f"window closes in {minutes} min" if minutes < 60 else f"window closes in {minutes // 60} h"
