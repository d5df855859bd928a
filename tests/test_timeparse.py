"""Follow-up times with a fixed clock in a non-UTC zone (Europe/Moscow, UTC+3, no DST)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatdesk.timeparse import DEFAULT_TIME, PRESETS, format_relative, next_allowed, parse_duration, parse_when

MSK = ZoneInfo("Europe/Moscow")
# 2026-03-10 14:30 in Moscow; Moscow's date differs from UTC's around midnight, tested below.
NOW = datetime(2026, 3, 10, 11, 30, tzinfo=UTC)


def when(text: str, now: datetime = NOW) -> datetime:
    return parse_when(text, now=now, tz=MSK)


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("1d", timedelta(days=1)),
        ("3d", timedelta(days=3)),
        ("2h", timedelta(hours=2)),
        ("30m", timedelta(minutes=30)),
        ("1w", timedelta(weeks=1)),
        ("2d 4h", timedelta(days=2, hours=4)),
        ("2d4h", timedelta(days=2, hours=4)),
        ("2h 30m", timedelta(hours=2, minutes=30)),
        ("in 3 days", timedelta(days=3)),
        ("In 2 Hours", timedelta(hours=2)),
        ("in a week", timedelta(weeks=1)),
        ("через 3 дня", timedelta(days=3)),
        ("через 5 дней", timedelta(days=5)),
        ("через 2 часа", timedelta(hours=2)),
        ("через 15 минут", timedelta(minutes=15)),
        ("через неделю", timedelta(weeks=1)),
        ("через час", timedelta(hours=1)),
        ("  3D  ", timedelta(days=3)),
    ],
)
def test_durations(text, delta):
    result = when(text)
    assert result == NOW + delta
    assert result.tzinfo is UTC


def test_presets_are_durations():
    assert list(PRESETS) == ["1d", "3d", "7d", "14d"]
    for name, delta in PRESETS.items():
        assert parse_duration(name) == delta


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow 10:00", msk(2026, 3, 11, 10, 0)),
        ("завтра 10:00", msk(2026, 3, 11, 10, 0)),
        ("Завтра в 10", msk(2026, 3, 11, 10, 0)),
        ("tomorrow at 6pm", msk(2026, 3, 11, 18, 0)),
        ("tomorrow", msk(2026, 3, 11, 9, 0)),
        ("today 18:00", msk(2026, 3, 10, 18, 0)),
        ("сегодня 18:00", msk(2026, 3, 10, 18, 0)),
        ("послезавтра 9:30", msk(2026, 3, 12, 9, 30)),
        ("18:00", msk(2026, 3, 10, 18, 0)),  # later today
        ("10:00", msk(2026, 3, 11, 10, 0)),  # already passed today: tomorrow
        ("2026-12-01", msk(2026, 12, 1, 9, 0)),
        ("01.12.2026", msk(2026, 12, 1, 9, 0)),
        ("01.12.2026 14:15", msk(2026, 12, 1, 14, 15)),
        ("2026-12-01T10:00", msk(2026, 12, 1, 10, 0)),
        ("2026-12-01 10:00", msk(2026, 12, 1, 10, 0)),
        ("2026-12-01T10:00+03:00", msk(2026, 12, 1, 10, 0)),
        ("2026-12-01T10:00Z", datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),
        ("2026-12-01t07:00:00+00:00", datetime(2026, 12, 1, 7, 0, tzinfo=UTC)),
    ],
)
def test_wall_clock_and_dates_are_read_in_the_sellers_zone(text, expected):
    assert when(text) == expected


def test_date_without_time_uses_the_default_time():
    assert when("2026-12-01").astimezone(MSK).time() == DEFAULT_TIME


def test_today_and_tomorrow_follow_the_sellers_date_not_utcs():
    # 22:30 UTC on the 10th is already 01:30 on the 11th in Moscow.
    late = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)
    assert when("today 18:00", late) == msk(2026, 3, 11, 18, 0)
    assert when("tomorrow 10:00", late) == msk(2026, 3, 12, 10, 0)


def test_now_in_another_zone_is_fine():
    same_instant = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert when("tomorrow 10:00", same_instant) == msk(2026, 3, 11, 10, 0)


@pytest.mark.parametrize(
    "text",
    ["today 10:00", "сегодня 14:30", "2026-03-01", "2026-03-10T14:30+03:00", "01.01.2020", "0m", "0d"],
)
def test_times_not_in_the_future_are_errors(text):
    with pytest.raises(ValueError, match=r"past|future"):
        when(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "soon",
        "3",
        "3x",
        "d",
        "3d foo",
        "tomorrow 25:00",
        "завтра 10:75",
        "2026-13-01",
        "2026-02-30",
        "31.02.2027",
        "tomorrow 13pm",
        "через",
        "in",
        "2026-12-01 junk",
        "3d -1h",
    ],
)
def test_unreadable_input_is_a_plain_error(text):
    with pytest.raises(ValueError) as info:
        when(text)
    assert str(info.value)
    assert "Traceback" not in str(info.value)


def test_absurdly_far_future_is_an_error_not_an_overflow():
    with pytest.raises(ValueError, match="too far"):
        when("999999999d")


def test_naive_now_is_rejected():
    with pytest.raises(ValueError, match="aware"):
        parse_when("1d", now=datetime(2026, 1, 1), tz=MSK)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_parse_when_only_raises_value_error(text):
    try:
        result = when(text)
    except ValueError:
        return
    assert result > NOW and result.tzinfo is UTC


# ----------------------------------------------------------------------------- sending window

NINE, NINE_PM = time(9, 0), time(21, 0)


def window(dt: datetime, start: time = NINE, end: time = NINE_PM) -> datetime:
    return next_allowed(dt, start=start, end=end, tz=MSK)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ((2026, 3, 10, 8, 59), (2026, 3, 10, 9, 0)),  # before start -> start today
        ((2026, 3, 10, 0, 0), (2026, 3, 10, 9, 0)),
        ((2026, 3, 10, 9, 0), (2026, 3, 10, 9, 0)),  # start is inside
        ((2026, 3, 10, 14, 37), (2026, 3, 10, 14, 37)),  # inside: unchanged
        ((2026, 3, 10, 20, 59), (2026, 3, 10, 20, 59)),
        ((2026, 3, 10, 21, 0), (2026, 3, 11, 9, 0)),  # end is outside -> start tomorrow
        ((2026, 3, 10, 23, 59), (2026, 3, 11, 9, 0)),
        ((2026, 12, 31, 22, 0), (2027, 1, 1, 9, 0)),  # across the year
    ],
)
def test_window(local, expected):
    result = window(msk(*local))
    assert result == msk(*expected)
    assert result.tzinfo is UTC


def test_window_keeps_seconds_inside_and_starts_on_the_minute_outside():
    inside = msk(2026, 3, 10, 12, 0) + timedelta(seconds=17)
    assert window(inside) == inside
    assert window(msk(2026, 3, 10, 21, 0) + timedelta(seconds=17)) == msk(2026, 3, 11, 9, 0)


def test_window_is_applied_in_the_sellers_zone():
    # 07:00 UTC is 10:00 in Moscow: inside the window there, though before 09:00 nowhere else matters.
    dt = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    assert window(dt) == dt
    # 19:00 UTC is 22:00 in Moscow: too late, so 09:00 Moscow next day = 06:00 UTC.
    assert window(datetime(2026, 3, 10, 19, 0, tzinfo=UTC)) == datetime(2026, 3, 11, 6, 0, tzinfo=UTC)


def test_window_wrapping_midnight_and_no_window():
    night = (time(22, 0), time(6, 0))
    assert window(msk(2026, 3, 10, 23, 0), *night) == msk(2026, 3, 10, 23, 0)
    assert window(msk(2026, 3, 10, 5, 59), *night) == msk(2026, 3, 10, 5, 59)
    assert window(msk(2026, 3, 10, 12, 0), *night) == msk(2026, 3, 10, 22, 0)
    any_time = msk(2026, 3, 10, 3, 0)
    assert window(any_time, time(0, 0), time(0, 0)) == any_time


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
def test_window_result_is_never_earlier_and_always_inside(dt):
    result = window(dt)
    assert result >= dt
    assert result - dt < timedelta(hours=12, minutes=1)
    assert NINE <= result.astimezone(MSK).time() < NINE_PM


# ----------------------------------------------------------------------------- relative labels


@pytest.mark.parametrize(
    ("delta", "label"),
    [
        (timedelta(days=3, hours=2), "in 3d 2h"),
        (timedelta(days=3, hours=2, minutes=5), "in 3d 2h"),
        (timedelta(days=3) - timedelta(milliseconds=300), "in 3d"),  # rounded to the minute
        (timedelta(hours=2, minutes=5), "in 2h 5m"),
        (timedelta(days=1, minutes=5), "in 1d 5m"),
        (timedelta(minutes=45), "in 45m"),
        (timedelta(minutes=-5), "5m ago"),
        (-timedelta(days=2, hours=1), "2d 1h ago"),
        (timedelta(seconds=20), "now"),
        (timedelta(0), "now"),
        (timedelta(days=14), "in 14d"),
    ],
)
def test_format_relative(delta, label):
    assert format_relative(NOW + delta, NOW) == label


def test_delay_or_time_takes_presets_delays_and_times() -> None:
    from chatdesk.timeparse import parse_delay_or_time

    now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    assert parse_delay_or_time("3d", now=now, tz=UTC) == now + timedelta(days=3)
    assert parse_delay_or_time("2d 4h", now=now, tz=UTC) == now + timedelta(days=2, hours=4)
    assert parse_delay_or_time("2026-03-12T10:00", now=now, tz=UTC) == datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_delay_or_time("  ", now=now, tz=UTC)
