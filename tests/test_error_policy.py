"""Refusals classified by cause (status + body shape + the marketplace's words), and the
engine's reaction to each cause read from chatdesk.sync.policy (issue 10, issue 11 §3)."""

from __future__ import annotations

import math

import httpx
import pytest

from chatdesk.connectors.base import (
    AuthError,
    BlockedHost,
    MarketplaceDown,
    MissingAccess,
    RateLimited,
    Rejected,
    TooManyParallel,
    retry_hint,
    utc_from_epoch,
)
from chatdesk.connectors.errors import CAUSES
from chatdesk.connectors.ozon import ozon_error
from chatdesk.connectors.wildberries import wildberries_error
from chatdesk.connectors.yandex import yandex_error
from chatdesk.sync import policy

SECRET = "secret-token-value"
HTML_403 = b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>nginx</body></html>"
HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>maintenance</body></html>"


def resp(status: int, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, headers={"content-type": "text/html", **(headers or {})})
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


WB_401 = {"title": "unauthorized", "detail": "token problem; token is malformed", "status": 401}
WB_SCOPE = {"title": "unauthorized", "detail": "token scope not allowed", "status": 401}
WB_429 = {"title": "too many requests", "detail": "limited by c122a060", "status": 429}

CASES = [
    # (function, response, expected class, cause, words that must be in the message)
    (wildberries_error, resp(401, WB_401), AuthError, "bad_credentials", ["token is malformed", "category"]),
    (wildberries_error, resp(401, WB_SCOPE), MissingAccess, "missing_access", ["scope not allowed", "Вопросы"]),
    (
        wildberries_error,
        resp(402, {"title": "payment required", "detail": "insufficient funds"}),
        MissingAccess,
        "missing_access",
        ["insufficient funds"],
    ),
    (wildberries_error, resp(403, HTML_403), BlockedHost, "blocked", ["403 Forbidden", "IP address"]),
    (wildberries_error, resp(429, WB_429, {"X-Ratelimit-Retry": "7"}), RateLimited, "quota", ["7 s"]),
    (wildberries_error, resp(502, HTML_502), MarketplaceDown, "down", ["502 Bad Gateway"]),
    (wildberries_error, resp(500, None), MarketplaceDown, "down", ["500"]),
    (
        wildberries_error,
        resp(400, {"title": "Bad Request", "detail": "Invalid signature"}),
        Rejected,
        "rejected",
        ["Invalid signature"],
    ),
    (
        ozon_error,
        resp(401, {"code": 16, "message": "Invalid Api-Key"}),
        AuthError,
        "bad_credentials",
        ["Invalid Api-Key", "Client-Id"],
    ),
    (
        ozon_error,
        resp(403, {"code": 7, "message": "Method is available only with Premium Plus subscription"}),
        MissingAccess,
        "missing_access",
        ["Premium Plus", "unread counts still show"],
    ),
    (ozon_error, resp(403, {"code": 7, "message": "Access denied"}), AuthError, "bad_credentials", ["Client-Id"]),
    (ozon_error, resp(403, HTML_403), BlockedHost, "blocked", ["IP address"]),
    (
        ozon_error,
        resp(429, {"code": 8, "message": "too many requests"}, {"Retry-After": "3"}),
        RateLimited,
        "quota",
        ["3 s"],
    ),
    (ozon_error, resp(503, {"code": 14, "message": "unavailable"}), MarketplaceDown, "down", ["unavailable"]),
    (
        yandex_error,
        resp(
            420, {"status": "ERROR", "errors": [{"code": "LIMIT", "message": "Hit rate limit of 3 parallel requests"}]}
        ),
        TooManyParallel,
        "parallel",
        ["parallel requests", "simultaneous"],
    ),
    (
        yandex_error,
        resp(
            420,
            {"status": "ERROR", "errors": [{"code": "LIMIT_EXCEEDED", "message": "too many"}]},
            {"X-RateLimit-Resource-Until": "2100-01-01T00:00:00Z"},
        ),
        RateLimited,
        "quota",
        ["too many"],
    ),
    (
        yandex_error,
        resp(401, {"status": "ERROR", "errors": [{"code": "UNAUTHORIZED", "message": "bad key"}]}),
        AuthError,
        "bad_credentials",
        ["bad key", "Api-Key"],
    ),
    (yandex_error, resp(503, HTML_502), MarketplaceDown, "down", ["502 Bad Gateway"]),
]


@pytest.mark.parametrize(("fn", "response", "cls", "cause", "words"), CASES)
def test_each_refusal_is_classified_by_status_and_body_with_its_own_words(fn, response, cls, cause, words) -> None:  # type: ignore[no-untyped-def]
    error = fn(response, SECRET)
    assert type(error) is cls and error.cause == cause
    for word in words:
        assert word in error.message, (word, error.message)
    assert SECRET not in error.message


def test_every_cause_has_a_reaction_for_polling_and_for_the_outbox() -> None:
    for cause in CAUSES:
        assert cause in policy.POLL, cause
        assert cause in policy.OUTBOX, cause


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("1e12", 3600.0),
        ("inf", 10.0),
        ("-inf", 10.0),
        ("nan", 10.0),
        ("-5", 1.0),
        ("0", 1.0),
        ("2.5", 2.5),
        ("soon", 10.0),
        (None, 10.0),
        (math.inf, 10.0),
    ],
)
def test_retry_hints_are_bounded_and_non_finite_means_default(hint: object, expected: float) -> None:
    assert retry_hint(hint, 10.0) == expected


@pytest.mark.parametrize("hint", ["1e12", "inf", "NaN", "-3", "Infinity", "1e400"])
def test_absurd_wb_retry_headers_never_overflow(hint: str) -> None:
    error = wildberries_error(resp(429, WB_429, {"X-Ratelimit-Retry": hint}), SECRET)
    assert isinstance(error, RateLimited) and 1.0 <= error.retry_after <= 3600.0


def test_epoch_timestamps_in_every_unit_mean_the_same_instant() -> None:
    seconds = utc_from_epoch(1764300003)
    assert utc_from_epoch(1764300003000) == seconds
    assert utc_from_epoch("1764300003000.0") == seconds
    assert utc_from_epoch(1764300003000000) == seconds
    assert utc_from_epoch(1764300003000000000) == seconds
    for bad in (True, None, "", "abc", "inf", "nan", -1, 0, 1e30):
        with pytest.raises(ValueError):
            utc_from_epoch(bad)


# ----------------------------------------------------------------------------- pacing (issue 11 §5)


@pytest.mark.parametrize(("marketplace", "stream"), list(policy.PACE))
@pytest.mark.parametrize("requests", [1, 3, 40])
def test_polling_stays_within_a_quarter_of_the_published_budget(marketplace: str, stream: str, requests: int) -> None:
    from chatdesk import marketplaces

    budget = marketplaces.get(marketplace).budgets[policy.PACE[(marketplace, stream)].key]
    for watching, waiting, hour in [(True, False, 12), (False, True, 3), (False, False, 12), (False, False, 2)]:
        seconds = policy.stream_interval(
            marketplace, stream, base=60, watching=watching, waiting=waiting, hour=hour, requests=requests
        )
        assert requests / seconds <= policy.SHARE * budget.rate + 1e-9


def test_fast_while_watched_or_a_buyer_waits_slow_when_idle_and_at_night() -> None:
    def pace(**kw: object) -> float:
        args: dict[str, object] = {"base": 60.0, "watching": False, "waiting": False, "hour": 12} | kw
        return policy.stream_interval("wildberries", "chats", **args)  # type: ignore[arg-type]

    assert pace(watching=True) == 5.0
    assert pace(waiting=True) == 5.0
    assert pace() == 60.0
    assert pace(hour=3) == 180.0
    assert pace(watching=True, requests=3) == 12.0  # 3 requests a poll: a quarter of 10 / 10 s
    assert policy.stream_interval("yandex", "chats", base=60, watching=True, waiting=False, hour=12) == 10.0
