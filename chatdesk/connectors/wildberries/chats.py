"""Buyer chats: the global events feed, the chat list (reply signs) and its cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from chatdesk.connectors.base import (
    BadItem,
    ChatInfo,
    KnownChat,
    MessageInfo,
    Page,
    TransientError,
    json_array,
)
from chatdesk.connectors.wildberries.http import WildberriesBase
from chatdesk.connectors.wildberries.wire import (
    FIRST_CURSOR_MARGIN_S,
    MAX_PAGES_PER_POLL,
    MAX_STALLS,
    SIGN_REFRESH,
    _attachments,
    _bad_event,
    _bad_next,
    _card_context,
    _count,
    _dict,
    _event_time,
    _listed_chat,
    _maybe_time,
    _newest_ms,
    _next_ms,
    _nm_id,
    _plausible_next,
    _raise_errors,
    _sender,
    _text,
)


class ChatsStream(WildberriesBase):
    """``chats``: ``GET /api/v1/seller/events`` and ``GET /api/v1/seller/chats``."""

    # ------------------------------------------------------------------ chats

    async def _chat_list(self) -> list[dict[str, Any]]:
        resp = await self._request("wb.chats", "GET", f"{self.chat_host}/api/v1/seller/chats")
        body = self._ok_json(resp)
        _raise_errors(body)
        result = body.get("result") or []
        if not isinstance(result, list):
            raise TransientError("Wildberries sent an unexpected chat list")
        return [c for c in result if isinstance(c, dict) and c.get("chatID")]

    async def _poll_chats(self, cursor: str | None, known: Mapping[str, KnownChat]) -> AsyncIterator[Page]:
        listed: dict[str, dict[str, Any]] = {}
        list_fetched = False
        stale = self._sign_refresh_due()
        if cursor is None or stale or self._fresh_signs:
            if cursor is None or stale:
                listed = await self._listed()
                list_fetched = True
            # Signs re-read after a refusal (see ``send``) or on the schedule reach the store
            # here; chats whose events WB no longer serves still belong in the inbox.
            signs = [ChatInfo(external_id=k, reply_token=v) for k, v in self._fresh_signs.items() if k not in listed]
            self._fresh_signs.clear()
            described = [c for c in (_listed_chat(w) for w in listed.values()) if c is not None]
            if described or signs:
                yield Page(chats=(*described, *signs))
        # Chats introduced by their own isNewChat event in this poll; the store's are asked of
        # ``known`` one by one (it is a lazy mapping: an idle poll must not read every chat).
        introduced: set[str] = set()
        seen_events: set[str] = set()
        latest: dict[str, tuple[datetime, str]] = {}  # newest activity emitted per chat in this poll
        now_ms = int(self.clock().timestamp() * 1000)
        current = _next_ms(cursor)
        if current is not None and not _plausible_next(current, None, now_ms):
            # A cursor stored from an implausible ``next`` (an older chatdesk followed one):
            # start over from the chat list rather than wait for that time forever.
            yield Page(bad_items=(_bad_next(current, "stored events cursor ignored"),))
            if not list_fetched:
                listed = await self._listed()
                list_fetched = True
                described = [c for c in (_listed_chat(w) for w in listed.values()) if c is not None]
                if described:
                    yield Page(chats=tuple(described))
            current = None
        stalls = 0
        for _ in range(MAX_PAGES_PER_POLL):
            params = {"next": current} if current else None
            url = f"{self.chat_host}/api/v1/seller/events"
            resp = await self._request("wb.events", "GET", url, params=params)
            body = self._ok_json(resp)
            _raise_errors(body)
            result = body.get("result")
            if not isinstance(result, dict):
                raise TransientError("Wildberries sent events without a result")
            raw_events = json_array(result.get("events"))
            events = [e for e in raw_events if isinstance(e, dict) and _text(e.get("chatID"))]
            broken = [_bad_event(e, "no chat id") for e in raw_events if e not in events]
            new_next = _next_ms(result.get("next"))
            newest = _newest_ms(events)
            if new_next is not None and not _plausible_next(new_next, newest, now_ms):
                broken.append(_bad_next(new_next, "implausible events cursor ignored"))
                # Resume just after the newest event this page brought (the spec's own
                # meaning of ``next``), or stay where we are.
                new_next = newest + 1 if newest is not None else None
            if _count(result.get("totalEvents")) == 0 or not raw_events:
                if cursor is None and current is None:
                    # An empty first answer still gives a place to resume from, so the next
                    # idle poll is one events request, not the chat list again.
                    start = new_next or int((self.clock().timestamp() - FIRST_CURSOR_MARGIN_S) * 1000)
                    yield Page(cursor=str(start), bad_items=tuple(broken))
                elif broken:
                    yield Page(bad_items=tuple(broken))
                return
            for event in events:
                if event.get("isNewChat") and event.get("replySign"):
                    introduced.add(str(event["chatID"]))
            if not list_fetched and any(
                str(e["chatID"]) not in introduced and str(e["chatID"]) not in known for e in events
            ):
                listed = await self._listed()
                list_fetched = True
            fresh = [e for e in events if str(e.get("eventID") or "") not in seen_events]
            seen_events.update(str(e.get("eventID") or "") for e in events)
            # The feed may stall or go backwards (A, B, A, B…): the cursor never moves back,
            # and a poll ends once ``next`` stops advancing or pages bring nothing new.
            advancing = new_next is not None and (current is None or new_next > current)
            stalls = 0 if fresh else stalls + 1
            page = self._events_page(fresh, listed, latest, str(new_next) if advancing else None)
            yield replace(page, bad_items=page.bad_items + tuple(broken))
            if not advancing or stalls >= MAX_STALLS:
                return
            current = new_next

    async def _listed(self) -> dict[str, dict[str, Any]]:
        chats = await self._chat_list()
        self._list_read_at = self.clock()
        return {str(c["chatID"]): c for c in chats}

    def _sign_refresh_due(self) -> bool:
        """Signs are re-read every :data:`SIGN_REFRESH` while a connector lives (daemon, TUI):
        WB changed the ``replySign`` format on 2026-06-04 and may again."""
        return self.clock() - self._list_read_at >= SIGN_REFRESH

    def _events_page(
        self,
        events: list[dict[str, Any]],
        listed: Mapping[str, dict[str, Any]],
        latest: dict[str, tuple[datetime, str]],
        cursor: str | None,
    ) -> Page:
        messages: list[MessageInfo] = []
        bad: list[BadItem] = []
        facts: dict[str, dict[str, Any]] = {}
        for event in events:
            chat_id = str(event["chatID"])
            fact = facts.setdefault(chat_id, {})
            if event.get("replySign"):
                fact["reply_token"] = str(event["replySign"])
            if event.get("clientName") and _sender(event) == "buyer":
                fact["customer"] = str(event["clientName"])
            created = _event_time(event)
            if created is not None:
                fact["version"] = str(int(created.timestamp() * 1000))
            message = event.get("message")
            if not isinstance(message, dict):
                continue  # a non-message event: counted (the cursor moves past it), nothing to store
            if not _text(event.get("eventID")) or created is None:
                reason = "no event id" if not _text(event.get("eventID")) else "no usable addTimestamp or addTime"
                bad.append(_bad_event(event, reason))
                continue
            attachments_wire = _dict(message.get("attachments"))
            if isinstance(attachments_wire.get("goodCard"), dict):
                fact["good_card"] = attachments_wire["goodCard"]
            info = MessageInfo(
                chat_external_id=chat_id,
                external_id=str(event["eventID"]),
                author=_sender(event),
                text=str(message.get("text") or ""),
                created_at=created,
                attachments=_attachments(attachments_wire),
            )
            messages.append(info)
            preview = info.text or ", ".join(a.name for a in info.attachments)
            if chat_id not in latest or latest[chat_id][0] <= created:
                latest[chat_id] = (created, preview)
        chats: list[ChatInfo] = []
        for chat_id, fact in facts.items():
            wire = listed.get(chat_id, {})
            good_card = _dict(wire.get("goodCard")) or fact.get("good_card")
            last = wire.get("lastMessage")
            at = _maybe_time(last.get("addTimestamp")) if isinstance(last, dict) else None
            if isinstance(last, dict) and at is not None and (chat_id not in latest or latest[chat_id][0] < at):
                latest[chat_id] = (at, str(last.get("text") or ""))
            newest = latest.get(chat_id)
            chats.append(
                ChatInfo(
                    external_id=chat_id,
                    kind="chat",
                    customer=_text(wire.get("clientName")) or fact.get("customer"),
                    product_id=_nm_id(good_card),
                    reply_token=_text(wire.get("replySign")) or fact.get("reply_token"),
                    context=_card_context(good_card),
                    version=fact.get("version"),
                    last_message_at=newest[0] if newest else None,
                    preview=newest[1] if newest else None,
                )
            )
        return Page(chats=tuple(chats), messages=tuple(messages), cursor=cursor, bad_items=tuple(bad))
