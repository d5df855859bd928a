"""Product questions (feedbacks-api) as conversations of kind ``question``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from chatdesk.connectors.base import (
    AuthError,
    ChatInfo,
    KnownChat,
    MessageInfo,
    MissingAccess,
    Page,
    Rejected,
    StreamUnavailable,
    json_object,
)
from chatdesk.connectors.wildberries.http import WildberriesBase
from chatdesk.connectors.wildberries.wire import (
    QUESTIONS_CATEGORY_MISSING,
    QUESTIONS_FIRST_WINDOW,
    QUESTIONS_MARGIN_S,
    _question,
    _questions_from,
)


class QuestionsStream(WildberriesBase):
    """``questions``: the unanswered list and the answered list since the cursor."""

    # ------------------------------------------------------------------ questions

    async def _questions_request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            resp = await self._request("wb.questions", method, f"{self.questions_host}{path}", **kwargs)
        except (AuthError, StreamUnavailable) as exc:
            # A refusal of the questions host means this token lacks the category (a token
            # refused outright fails the chats stream too, in its own words); a firewall page
            # is not a category problem.
            if exc.status in (401, 402, 403) and exc.cause in ("bad_credentials", "missing_access"):
                raise MissingAccess(QUESTIONS_CATEGORY_MISSING, status=exc.status) from None
            raise
        if resp.status_code >= 400:
            raise self._refused(resp)
        body = self._json(resp)
        if body.get("error") is True:
            raise Rejected(self._clean(f"Wildberries refused: {body.get('errorText') or 'unknown error'}"))
        return body

    async def _question_list(self, answered: bool, date_from: int | None) -> list[dict[str, Any]]:
        take = self.questions_take
        out: list[dict[str, Any]] = []
        skip = 0
        while True:
            params: dict[str, Any] = {
                "isAnswered": "true" if answered else "false",
                "take": take,
                "skip": skip,
                "order": "dateAsc",
            }
            if date_from is not None:
                params["dateFrom"] = date_from
            body = await self._questions_request("GET", "/api/v1/questions", params=params)
            data = json_object(body.get("data"))
            batch = [q for q in (data.get("questions") or []) if isinstance(q, dict) and q.get("id")]
            out.extend(batch)
            skip += take
            if len(batch) < take or skip + take > 10_000:
                return out

    async def _poll_questions(self, cursor: str | None, known: Mapping[str, KnownChat]) -> AsyncIterator[Page]:
        now = int(self.clock().timestamp())
        date_from = _questions_from(cursor)
        if date_from is None:
            date_from = now - int(QUESTIONS_FIRST_WINDOW.total_seconds())
        open_questions = await self._question_list(False, None)
        answered = await self._question_list(True, date_from)
        seen = {str(q["id"]) for q in open_questions} | {str(q["id"]) for q in answered}
        for ext, known_chat in known.items():
            qid = ext[2:] if ext.startswith("q:") else None
            if qid and qid not in seen and (known_chat.status or "") == "unanswered":
                try:
                    body = await self._questions_request("GET", "/api/v1/question", params={"id": qid})
                except Rejected:
                    continue  # WB no longer has it (422 "Невозможно получить вопрос по id")
                if isinstance(body.get("data"), dict) and body["data"].get("id"):
                    answered.append(body["data"])
        changed: list[tuple[ChatInfo, list[MessageInfo]]] = []
        newest = 0
        for wire in [*open_questions, *answered]:
            converted = _question(wire)
            if converted is None:
                continue
            chat, messages, created = converted
            newest = max(newest, int(created.timestamp()))
            before = known.get(chat.external_id)
            if before is None or (before.status or "") != chat.status:
                changed.append((chat, messages))
        next_from = max(date_from, newest - QUESTIONS_MARGIN_S) if newest else date_from
        new_cursor = json.dumps({"from": next_from})
        if changed or new_cursor != cursor:
            yield Page(
                chats=tuple(c for c, _ in changed),
                messages=tuple(m for _, ms in changed for m in ms),
                cursor=new_cursor,
            )
