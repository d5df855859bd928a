"""Follow-up times as a seller types them, the daily sending window, and short relative labels.

Everything returned is an aware UTC datetime (the store keeps UTC); ``tz`` is the seller's
zone, used only to read wall-clock input ("завтра 10:00") and to apply the sending window.

Accepted input (case-insensitive, Russian or English):

* durations: ``30m``, ``2h``, ``1d``, ``1w``, ``2d 4h``, ``in 3 days``, ``через 3 дня``,
  ``через неделю``;
* a day with an optional time: ``today 18:00``, ``tomorrow 10:00``, ``завтра в 10``,
  ``послезавтра``; a bare time ``18:00`` means its next occurrence;
* dates: ``2026-12-01``, ``01.12.2026`` and ISO date-times ``2026-12-01T10:00``,
  ``2026-12-01 10:00``, ``2026-12-01T10:00+03:00`` (``Z`` too).

A day or date without a time means :data:`DEFAULT_TIME` (09:00 local): the start of the default
sending window, so "tomorrow" goes out first thing in the morning rather than at midnight,
which the window would postpone to 09:00 anyway. A time that is not in the future is an error:
scheduling into the past is always a typo.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

DEFAULT_TIME = time(9, 0)
# The furthest ahead anything can be scheduled: a follow-up beyond a year is a typo, and
# bounding it here keeps every later date computation (window, display) far from overflow.
MAX_AHEAD = timedelta(days=366)
PRESETS: dict[str, timedelta] = {
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
    "7d": timedelta(days=7),
    "14d": timedelta(days=14),
}

_UNITS: dict[str, timedelta] = {}
for _names, _delta in (
    ("m min mins minute minutes мин минута минуты минут минуту", timedelta(minutes=1)),
    ("h hr hrs hour hours ч час часа часов", timedelta(hours=1)),
    ("d day days д дн день дня дней", timedelta(days=1)),
    ("w wk week weeks н нед неделя недели недель неделю", timedelta(weeks=1)),
):
    _UNITS.update(dict.fromkeys(_names.split(), _delta))

_SPELLED_ONE = {"a", "an", "one", "один", "одна", "одну"}
_DURATION_PART = re.compile(r"(\d+|a|an|one|один|одна|одну)?\s*([^\W\d_]+)")
_PREFIX = re.compile(r"^(?:in|через|after|спустя)\s+")
_TIME = r"(?:(?:at|в)\s+)?(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?"
_DAY_WORDS = {
    "today": 0,
    "сегодня": 0,
    "tomorrow": 1,
    "завтра": 1,
    "послезавтра": 2,
    "day after tomorrow": 2,
}
_DAY = re.compile(rf"^({'|'.join(sorted(_DAY_WORDS, key=len, reverse=True))})(?:\s+{_TIME})?$")
_BARE_TIME = re.compile(rf"^{_TIME}$")
_RU_DATE = re.compile(rf"^(\d{{1,2}})\.(\d{{1,2}})\.(\d{{4}})(?:\s+{_TIME})?$")


def parse_duration(text: str, *, limit: timedelta = MAX_AHEAD) -> timedelta:
    """``"2d 4h"``, ``"через 3 дня"``, ``"in a week"`` -> a positive timedelta of at most
    ``limit`` (default :data:`MAX_AHEAD`, for times ahead); ``ValueError`` with a plain sentence
    otherwise."""
    cleaned = _PREFIX.sub("", " ".join(text.lower().split()))
    total = timedelta()
    pos = 0
    for m in _DURATION_PART.finditer(cleaned):
        if cleaned[pos : m.start()].strip(" ,") or m.group(2) not in _UNITS:
            raise ValueError(f"cannot read {text!r} as a duration; try 3d, 2h, 30m, 1w or 2d 4h")
        amount = m.group(1)
        # "через неделю" has no number; "3 д" needs one but "d" alone is too cryptic to mean 1
        if amount is None and len(m.group(2)) < 3:
            raise ValueError(f"cannot read {text!r} as a duration; try 3d, 2h, 30m, 1w or 2d 4h")
        if amount is not None and amount.isdigit() and len(amount) > 6:
            raise ValueError(_too_far(text, limit))
        count = 1 if amount is None or amount in _SPELLED_ONE else int(amount)
        total += count * _UNITS[m.group(2)]
        if total > limit:
            raise ValueError(_too_far(text, limit))
        pos = m.end()
    if not cleaned or cleaned[pos:].strip(" ,"):
        raise ValueError(f"cannot read {text!r} as a duration; try 3d, 2h, 30m, 1w or 2d 4h")
    if total <= timedelta(0):
        raise ValueError(f"{text!r} is not a time in the future")
    return total


def _too_far(text: str, limit: timedelta = MAX_AHEAD) -> str:
    what = "too far ahead" if limit == MAX_AHEAD else "too long"
    return f"{text!r} is {what}: at most {limit.days} days"


def _clock(hour: str | None, minute: str | None, meridiem: str | None, text: str) -> time:
    if hour is None:
        return DEFAULT_TIME
    h, m = int(hour), int(minute or 0)
    if meridiem:
        if not 1 <= h <= 12:
            raise ValueError(f"{text!r}: {h}{meridiem} is not a time of day")
        h = h % 12 + (12 if meridiem == "pm" else 0)
    if h > 23 or m > 59:
        raise ValueError(f"{text!r}: {hour}:{minute or '00'} is not a time of day")
    return time(h, m)


def _local(day: date, clock: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def _absolute(cleaned: str, text: str, now_local: datetime, tz: tzinfo) -> datetime | None:
    if m := _DAY.match(cleaned):
        day = now_local.date() + timedelta(days=_DAY_WORDS[m.group(1)])
        return _local(day, _clock(m.group(2), m.group(3), m.group(4), text), tz)
    if m := _BARE_TIME.match(cleaned):
        if m.group(2) is None and m.group(3) is None:
            return None  # a lone number is not a time; let the duration parser complain
        clock = _clock(m.group(1), m.group(2), m.group(3), text)
        at = _local(now_local.date(), clock, tz)
        return at if at > now_local else _local(now_local.date() + timedelta(days=1), clock, tz)
    if m := _RU_DATE.match(cleaned):
        try:
            day = date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError:
            raise ValueError(f"{text!r} is not a real date") from None
        return _local(day, _clock(m.group(4), m.group(5), m.group(6), text), tz)
    if re.match(r"^\d{4}-\d{2}-\d{2}", cleaned):
        try:
            if len(cleaned) == 10:
                return _local(date.fromisoformat(cleaned), DEFAULT_TIME, tz)
            parsed = datetime.fromisoformat(cleaned.upper())
        except ValueError:
            raise ValueError(f"{text!r} is not a valid date/time; use 2026-12-01 or 2026-12-01 10:00") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).astimezone(UTC)
    return None


def parse_when(text: str, *, now: datetime, tz: tzinfo) -> datetime:
    """When a follow-up is due, as an aware UTC datetime strictly after ``now`` and at most
    :data:`MAX_AHEAD` after it; ``ValueError`` with a plain sentence otherwise."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cleaned = " ".join(text.strip().lower().split())
    if not cleaned:
        raise ValueError("no time given; try 3d, tomorrow 10:00 or 2026-12-01")
    now_utc = now.astimezone(UTC)
    try:
        at = _absolute(cleaned, text, now.astimezone(tz), tz)
    except OverflowError:  # a date at the edge of the calendar, e.g. 9999-12-31 in UTC-5
        raise ValueError(_too_far(text, MAX_AHEAD)) from None
    if at is None:
        try:
            return now_utc + parse_duration(cleaned)
        except OverflowError:
            raise ValueError(f"{text!r} is too far in the future") from None
        except ValueError as exc:
            if not str(exc).startswith("cannot read"):
                raise
            raise ValueError(
                f"cannot read {text!r} as a time; try 3d, 2h 30m, tomorrow 10:00, завтра 10:00 or 2026-12-01"
            ) from None
    if at <= now_utc:
        raise ValueError(f"{text!r} is in the past")
    if at - now_utc > MAX_AHEAD:
        raise ValueError(_too_far(text, MAX_AHEAD))
    return at


def parse_delay_or_time(text: str, *, now: datetime, tz: tzinfo) -> datetime:
    """What a person types for "when": a delay counted from now (the presets ``1d``/``3d``/
    ``7d``/``14d``, ``2d 4h``) or a time (``tomorrow 10:00``, an ISO date); aware UTC."""
    value = text.strip()
    if not value:
        raise ValueError("say when: 1d, 3d, 7d, 14d, 'tomorrow 10:00' or a date")
    try:
        return now + parse_duration(value)
    except ValueError:
        return parse_when(value, now=now, tz=tz)


def next_allowed(dt: datetime, *, start: time, end: time, tz: tzinfo) -> datetime:
    """``dt`` moved into the daily sending window [start, end) in ``tz`` (UTC result).

    Inside the window ``dt`` is kept as is; before it, the window's start that day; at or after
    its end, the start of the next day. A window may wrap past midnight (22:00-06:00);
    ``start == end`` means no restriction.
    """
    if dt.tzinfo is None:
        raise ValueError("dt must be timezone-aware")
    if start == end:
        return dt.astimezone(UTC)
    local = dt.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        if start <= clock < end:
            return dt.astimezone(UTC)
        day = local.date() if clock < start else local.date() + timedelta(days=1)
    else:
        if clock >= start or clock < end:
            return dt.astimezone(UTC)
        day = local.date()
    return _local(day, start, tz)


def format_relative(dt: datetime, now: datetime) -> str:
    """``"in 3d 2h"``, ``"5m ago"``, ``"now"``: two most significant units, rounded to the minute."""
    seconds = round((dt - now).total_seconds() / 60) * 60
    if seconds == 0:
        return "now"
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (mins, "m")) if v]
    label = " ".join(parts[:2])
    return f"in {label}" if seconds > 0 else f"{label} ago"
