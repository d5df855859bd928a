"""The Wildberries connector's request plumbing: the secret header, refusals classified by
:data:`~chatdesk.connectors.wildberries.wire.WB_ERRORS`, JSON bodies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from chatdesk.connectors.base import (
    AccountConfig,
    Connector,
    Limits,
    RateLimited,
    Rejected,
    TransientError,
    loads_exact,
    redact,
)
from chatdesk.connectors.wildberries.wire import (
    BUDGETS,
    CHAT_HOST,
    QUESTIONS_HOST,
    ROW,
    wildberries_error,
)
from chatdesk.ratelimit import RateLimiter


class WildberriesBase(Connector):
    """State and requests shared by the chats and questions streams."""

    marketplace: ClassVar[str] = "wildberries"
    label: ClassVar[str] = ROW.label
    official_hosts: ClassVar[tuple[str, ...]] = (CHAT_HOST, QUESTIONS_HOST)
    streams: ClassVar[tuple[str, ...]] = ("chats", "questions")
    limits: ClassVar[Mapping[str, Limits]] = ROW.limits

    questions_take: int = 100  # questions per list request (take); tests lower it to page
    # What each stream needs of the store's chats (see SyncEngine._poll_stream): chats only asks
    # about the chats its events mention; questions walks the known questions.
    known_scope: ClassVar[Mapping[str, str]] = {"chats": "lazy", "questions": "question"}

    @staticmethod
    def clock() -> datetime:
        """Now, for the questions window; tests replace it to match a fixed sandbox clock."""
        return datetime.now(UTC)

    def __init__(self, account: AccountConfig, client: httpx.AsyncClient, limiter: RateLimiter | None = None):
        super().__init__(account, client, limiter)
        for key, budget in BUDGETS.items():
            self.limiter.budgets.setdefault(key, budget)
        base = (account.base_url or "").rstrip("/")
        self._list_read_at = self.clock()  # the chat list (and its signs) as of connector start
        self._fresh_signs: dict[str, str] = {}  # chat -> sign re-read after a refusal, for the store
        self.chat_host = base or CHAT_HOST
        self.questions_host = base or QUESTIONS_HOST

    # ------------------------------------------------------------------ http

    def secret_headers(self) -> dict[str, str]:
        token = self.account.secret
        if str(self.account.settings.get("auth_scheme", "")).lower() == "bearer":
            token = f"Bearer {token}"
        return {"Authorization": token}

    def _clean(self, text: str) -> str:
        return redact(text, self.account.secret)

    async def _request(self, key: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request with the budget, transport errors typed, and refusals classified by
        :func:`wildberries_error`. A plain refusal (``rejected``: 400/404/422 in WB's JSON) is
        returned to the caller, which knows the endpoint's error shape."""
        resp = await self.http(key, method, url, headers=self.secret_headers(), **kwargs)
        return self._mapped(key, resp)

    def _mapped(self, key: str, resp: httpx.Response) -> httpx.Response:
        """A refusal classified by :func:`wildberries_error` and raised; a plain refusal
        (``rejected``) and every success are returned to the caller."""
        if resp.status_code < 400:
            return resp
        error = wildberries_error(resp, self.account.secret)
        if isinstance(error, RateLimited):
            self.limiter.block(key, error.retry_after)
        if error.cause != "rejected":
            raise error
        return resp

    def _json(self, resp: httpx.Response) -> dict[str, Any]:
        try:
            body = loads_exact(resp.content)
        except ValueError:
            raise TransientError(
                f"Wildberries sent malformed JSON ({resp.status_code})", status=resp.status_code
            ) from None
        if not isinstance(body, dict):
            raise TransientError("Wildberries sent an unexpected JSON body", status=resp.status_code)
        return body

    def _refused(self, resp: httpx.Response) -> Rejected:
        error = wildberries_error(resp, self.account.secret, cause="rejected")
        assert isinstance(error, Rejected)
        return error

    def _ok_json(self, resp: httpx.Response) -> dict[str, Any]:
        """The body of a 2xx answer; any other 4xx here is a definite refusal."""
        if resp.status_code >= 400:
            raise self._refused(resp)
        return self._json(resp)
