"""The Wildberries connector: both streams, sending (chat messages and question answers) and
downloads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, BinaryIO

from chatdesk.connectors.base import (
    Attachment,
    AuthError,
    ChatRef,
    Download,
    KnownChat,
    OutgoingFile,
    Page,
    Rejected,
    SendReceipt,
    StreamUnavailable,
)
from chatdesk.connectors.wildberries.chats import ChatsStream
from chatdesk.connectors.wildberries.questions import QuestionsStream
from chatdesk.connectors.wildberries.wire import (
    EDIT_ONCE_NOTE,
    QUESTION_LIMITS,
    REPLY_SIGN_MAX,
    _check_chat_message,
    _failed_files,
    _text,
)


class WildberriesConnector(ChatsStream, QuestionsStream):
    """One WB seller token: chats and, with the questions category, product questions."""

    def poll(self, stream: str, cursor: str | None, known: Mapping[str, KnownChat]) -> AsyncIterator[Page]:
        if stream == "chats":
            return self._poll_chats(cursor, known)
        if stream == "questions":
            return self._poll_questions(cursor, known)
        raise ValueError(f"Wildberries has no stream {stream!r}")

    async def test(self) -> str:
        chats = await self._chat_list()
        return f"{len(chats)} chats"

    # ------------------------------------------------------------------ send / download

    async def send(self, chat: ChatRef, text: str, files: tuple[OutgoingFile, ...] = ()) -> SendReceipt | None:
        if chat.kind == "question":
            await self._answer_question(chat, text, files)
            return None
        _check_chat_message(text, files)
        sign = chat.reply_token
        if not sign:
            raise Rejected("no reply signature yet; sync first")
        try:
            return await self._send_signed(sign, text, files)
        except Rejected as exc:
            # WB changes the replySign format from time to time (2026-06-04): a sign cached
            # before is refused with 400 "Invalid signature". Fresh signs come only from the
            # chat list: re-read it and retry once with the chat's current sign.
            if exc.status != 400 or "signature" not in exc.message.lower():
                raise
            fresh = await self._fresh_sign(chat.external_id)
            if not fresh or fresh == sign:
                raise
            return await self._send_signed(fresh, text, files)

    async def _fresh_sign(self, chat_id: str) -> str | None:
        """The chat's current ``replySign`` from the chat list (kept for the next poll to
        store), or None if WB does not list the chat."""
        listed = await self._listed()
        for cid, wire in listed.items():
            sign = _text(wire.get("replySign"))
            if sign:
                self._fresh_signs[cid] = sign
        return self._fresh_signs.get(chat_id)

    async def _send_signed(self, sign: str, text: str, files: tuple[OutgoingFile, ...]) -> SendReceipt | None:
        """One ``POST /api/v1/seller/message`` with this sign."""
        if len(sign) > REPLY_SIGN_MAX:
            raise Rejected("the chat's reply signature is longer than WB allows; sync again")
        chat_sign = sign
        # Always multipart (WB accepts nothing else): text fields go as nameless file parts.
        parts: list[tuple[str, Any]] = [("replySign", (None, chat_sign))]
        if text:
            parts.append(("message", (None, text)))
        parts.extend(("file", (f.name, f.content, f.content_type)) for f in files)
        url = f"{self.chat_host}/api/v1/seller/message"
        resp = await self._request("wb.message", "POST", url, files=parts)
        body = self._ok_json(resp)
        errors = [self._clean(str(e)) for e in body.get("errors") or () if str(e).strip()]
        if not errors:
            return None
        if not body.get("result") or not files:
            raise Rejected(self._clean("Wildberries refused: " + "; ".join(errors)))
        # Per the spec ``errors`` beside a ``result`` are file-upload errors: the message was
        # created (and will be echoed); only the files named here are missing.
        return SendReceipt(failed_files=_failed_files(errors, files))

    async def _answer_question(self, chat: ChatRef, text: str, files: tuple[OutgoingFile, ...]) -> None:
        if files:
            raise Rejected("answers to WB questions cannot carry files")
        stripped = text.strip()
        if not stripped:
            raise Rejected("the answer is empty")
        if len(text) > QUESTION_LIMITS.max_text:
            limit = QUESTION_LIMITS.max_text
            raise Rejected(f"the answer is {len(text)} characters; chatdesk allows {limit}")
        qid = chat.external_id[2:] if chat.external_id.startswith("q:") else chat.external_id
        payload = {"id": qid, "answer": {"text": text}, "state": "wbRu"}
        try:
            await self._questions_request("PATCH", "/api/v1/questions", json=payload)
        except StreamUnavailable as exc:
            raise AuthError(exc.message, status=exc.status) from None
        except Rejected as exc:
            if exc.status == 422:
                raise Rejected(f"{exc.message} ({EDIT_ONCE_NOTE})", status=422) from None
            raise

    async def download(
        self, chat: ChatRef, attachment: Attachment, sink: BinaryIO | None = None, cap: int | None = None
    ) -> Download:
        if not attachment.download_id:
            raise Rejected("this attachment has no WB download id")
        url = f"{self.chat_host}/api/v1/seller/download/{attachment.download_id}"
        resp, size, content = await self._download_into("wb.download", url, self.secret_headers(), sink, cap)
        self._mapped("wb.download", resp)
        if resp.status_code == 202:
            body = self._json(resp)
            return Download(retry_after=float(body.get("retrySeconds") or 30))
        if resp.status_code == 451:
            raise Rejected("the file was rejected by WB moderation", status=451)
        if resp.status_code >= 400:
            raise self._refused(resp)
        content_type = resp.headers.get("content-type", "").split(";")[0].strip() or attachment.content_type
        return Download(content=content, content_type=content_type, size=size)
