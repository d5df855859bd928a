"""Wildberries: buyer chats (buyer-chat-api) and product questions (feedbacks-api).

Wire format: WB OpenAPI ``09-communications`` (2026-07-22 snapshot). Summary of what this
module relies on and why:

* **Chats** have no per-chat history endpoint; ``GET /api/v1/seller/events`` is one global,
  chronological feed. The spec's rule is followed literally: the first request goes
  without ``next``, then ``next`` from each answer is sent back until ``totalEvents == 0``.
  The stream cursor is the last ``result.next`` (a millisecond timestamp, kept as text); a
  ``null`` ``next`` keeps the previous cursor. ``eventID`` is the message id; events without
  ``message`` are skipped but still move the cursor.
* ``replySign`` (needed to send) only comes from the chat list or from an ``isNewChat``
  event, so ``GET /api/v1/seller/chats`` is requested on the first sync, and later only
  when the feed mentions a chat that is neither in ``known`` nor introduced by its own
  ``isNewChat`` event in this poll (at most once per poll).
* **Questions** become conversations of kind ``question`` with external id ``q:<id>`` (the
  ``q:`` prefix keeps them apart from chat ids such as ``1:<uuid>``); the buyer's question
  is message ``<id>:q`` and the seller's answer ``<id>:a``. The cursor is JSON
  ``{"from": <unix seconds>}``: the newest ``createdDate`` seen, minus a safety margin.

Requests per **idle** poll (nothing new anywhere):

* ``chats``: exactly **1** (one events request answering ``totalEvents: 0``).
* ``questions``: **2** — the unanswered list (all open questions, one page of
  ``questions_take``) and the answered list since the cursor (``dateFrom``). A question the
  store knows as unanswered that left the unanswered list without showing up in the answered
  window costs one ``GET /api/v1/question`` (it was answered on the WB portal).

Rate budgets (client side, per account): each chat method 10 requests / 10 s with burst 10
(``download`` the same); every questions method shares 3 requests / s with burst 6.

Modules: ``wire`` (formats, limits, refusal table), ``http`` (requests), ``chats``,
``questions``, ``connector`` (the class, sending and downloads).
"""

from chatdesk.connectors.wildberries.connector import WildberriesConnector
from chatdesk.connectors.wildberries.wire import (
    BUDGETS,
    CHAT_HOST,
    CHAT_LIMITS,
    QUESTION_LIMITS,
    QUESTIONS_HOST,
    WB_ERRORS,
    jwt_warning,
    wildberries_error,
)

__all__ = [
    "BUDGETS",
    "CHAT_HOST",
    "CHAT_LIMITS",
    "QUESTIONS_HOST",
    "QUESTION_LIMITS",
    "WB_ERRORS",
    "WildberriesConnector",
    "jwt_warning",
    "wildberries_error",
]
