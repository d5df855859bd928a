"""Red-team finding 6: date and retry-hint parsers raise nothing but ValueError, hints from
hostile dates are clamped, and a rate-limit refusal is always a definite refusal."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from chatdesk.connectors import ozon, wildberries, yandex
from chatdesk.connectors.base import RateLimited, parse_http_date, parse_iso, seconds_until

EDGE_DATES = [
    "9999-12-31T23:59:59-23:59",  # RFC 3339 allows the offset; UTC form is past year 9999
    "0001-01-01T00:00:00+23:59",  # UTC form before year 1
    "10000-01-01T00:00:00Z",
    "2026-13-45T99:00:00Z",
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "Mon, 01 Jan 0001 00:00:00 +2359",
    "",
    "\u00b2",  # passes isdigit(); not an ASCII number (only parse tests: headers are latin-1)
    "1e309",
]


@pytest.mark.parametrize("value", EDGE_DATES)
def test_parse_iso_and_http_date_raise_only_value_error(value: str) -> None:
    for parser in (parse_iso, parse_http_date):
        try:
            out = parser(value)
        except ValueError:
            continue
        assert out.tzinfo is not None


@pytest.mark.parametrize(
    ("value", "sign"),
    [
        ("9999-12-31T23:59:59-23:59", 1),
        ("Fri, 31 Dec 9999 23:59:59 -2359", 1),
        ("0001-01-01T00:00:00+23:59", -1),
    ],
)
def test_seconds_until_calendar_edges_is_a_huge_or_negative_wait(value: str, sign: int) -> None:
    seconds = seconds_until(value, now=datetime(2026, 11, 29, tzinfo=UTC))
    assert seconds is not None and seconds * sign > 1e9


TABLES = [
    (wildberries.WB_ERRORS, 429, "X-Ratelimit-Retry"),
    (wildberries.WB_ERRORS, 429, "Retry-After"),
    (ozon.OZON_ERRORS, 429, "Retry-After"),
    (yandex.YM_ERRORS, 420, "X-RateLimit-Resource-Until"),
]


@pytest.mark.parametrize(("table", "status", "header"), TABLES)
@pytest.mark.parametrize("value", EDGE_DATES)
def test_rate_limit_with_hostile_retry_header_is_a_bounded_rate_limit(table, status, header, value) -> None:
    if not value.isascii():
        return
    response = httpx.Response(status, headers={header: value}, json={"message": "Too many requests"})
    err = table.error(response, "secret-key-1234", method="sendMessage")
    assert isinstance(err, RateLimited)
    assert 0 < err.retry_after <= 3600


@pytest.mark.parametrize(("table", "status", "header"), TABLES)
def test_far_future_retry_date_clamps_to_the_longest_wait(table, status, header) -> None:
    response = httpx.Response(status, headers={header: "9999-12-31T23:59:59-23:59"}, json={"message": "x"})
    err = table.error(response, "secret-key-1234", method="sendMessage")
    assert err.retry_after == 3600


@pytest.mark.parametrize("exp", [10**20, -(10**20), "9" * 30, 1e308])
def test_jwt_expiry_with_an_absurd_exp_is_none_not_an_exception(exp: object) -> None:
    import base64
    import json

    from chatdesk.connectors.base import jwt_expiry

    payload = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    assert jwt_expiry(f"e30.{payload}.sig") is None
