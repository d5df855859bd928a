"""User settings from ``<data dir>/config.toml`` (or ``CHATDESK_CONFIG``).

Every key is optional; a missing file means defaults. A malformed file, a wrong type, a number
outside its range (:data:`BOUNDS`), an unknown or empty keymap entry, or two bindings sharing a
key where both are active is one clear error naming the key, never a traceback
(:func:`load_config`, for the CLI: one line, exit 2). :func:`check_config` gives every problem
and a usable config with defaults in their place, for the TUI to show as a notice. Example::

    poll_interval = 60          # seconds between polls of each account
    poll_jitter = 0.1           # +-10 % so accounts do not poll in lockstep
    sla_warn_minutes = 30       # waiting-time colour turns yellow
    sla_late_minutes = 120      # ... and red
    mark_read_delay = 3         # seconds a chat must stay open before it counts as read
    stable_order = false        # true: chats keep their place instead of jumping to the top
    bell = true                 # ring the terminal bell on a new buyer message
    notify_command = ["notify-send", "chatdesk"]   # argv; the message is appended, no shell
    seller_name = "Магазин Уют"
    timezone = "Europe/Moscow"
    sending_window = ["09:00", "21:00"]
    cancel_followup_if_buyer_writes = true
    consumables = ["88412006"]  # product ids that get a restock reminder when resolved

    [keymap]                    # binding id = "keys"
    reply = "r,i"
    next_unread = "n"

    [resolve_rules]             # follow-ups scheduled when a chat is marked resolved
    check_in_days = 3
    restock_days = 14
    cross_sell_days = 7
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import time, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chatdesk.errors import UsageError


@dataclass(frozen=True)
class Config:
    poll_interval: int = 60
    poll_jitter: float = 0.1
    sla_warn_minutes: int = 30
    sla_late_minutes: int = 120
    mark_read_delay: float = 3.0
    stable_order: bool = False
    cursor_blink: bool = True  # false: text cursors stay still (slow SSH links, screen readers)
    bell: bool = True
    notify_command: tuple[str, ...] = ()
    seller_name: str = ""
    operator: str = ""  # team mode: who I am ("anna"); CHATDESK_OPERATOR overrides
    timezone: str = ""
    sending_window: tuple[str, str] = ("09:00", "21:00")
    cancel_followup_if_buyer_writes: bool = True
    consumables: tuple[str, ...] = ()
    keymap: dict[str, str] = field(default_factory=dict)
    resolve_rules: dict[str, int] = field(
        default_factory=lambda: {"check_in_days": 3, "restock_days": 14, "cross_sell_days": 7}
    )
    hooks: dict[str, object] = field(default_factory=dict)  # [hooks]: see chatdesk.hooks
    assist: dict[str, object] = field(default_factory=dict)  # [assist]: see chatdesk.assist.llm

    @property
    def tz(self) -> tzinfo:
        if self.timezone:
            return ZoneInfo(self.timezone)
        from datetime import datetime

        return datetime.now().astimezone().tzinfo or ZoneInfo("UTC")

    @property
    def window(self) -> tuple[time, time]:
        start, end = self.sending_window
        return time.fromisoformat(start), time.fromisoformat(end)


_TYPES = {f.name: f.type for f in fields(Config)}

# Inclusive ranges of the numeric settings; outside them a value is a typo or would break
# something (``poll_interval = 1e20`` overflowed the scheduler, ``check_in_days = -1`` scheduled
# a follow-up in the past).
BOUNDS: dict[str, tuple[float, float]] = {
    "poll_interval": (5, 86_400),  # seconds: at most once a day, at least every 5 s
    "poll_jitter": (0, 0.5),  # a fraction of poll_interval
    "sla_warn_minutes": (1, 43_200),  # up to 30 days
    "sla_late_minutes": (1, 43_200),
    "mark_read_delay": (0, 3_600),  # seconds
}
RESOLVE_DAYS = (0, 365)  # each [resolve_rules] value, in days; 0 turns that follow-up off
MAX_STRING = 1_000  # characters of any string setting
# Keymap scopes active at the same time: a key bound twice within one group is a conflict
# (``reply = "s"`` would silently shadow "sync now").
_KEY_GROUPS = (("main", "list"), ("main", "conversation"), ("main", "composer"), ("accounts",))


class _Problem(Exception):
    """One invalid setting; ``str`` is the sentence shown to the user."""


def load_config(path: Path) -> Config:
    """The settings in ``path`` (defaults if it does not exist); :class:`UsageError` with one
    line naming the first problem (and how many more there are) otherwise."""
    cfg, problems = check_config(path)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError(problems[0] + more)
    return cfg


def check_config(path: Path) -> tuple[Config, list[str]]:
    """Every problem in ``path`` as one sentence each, and a config that keeps the valid
    settings and the defaults in place of the invalid ones. An unreadable or non-TOML file is
    one problem and all defaults."""
    if not path.exists():
        return Config(), []
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return Config(), [f"cannot read config {path}: {exc}"]
    except tomllib.TOMLDecodeError as exc:
        return Config(), [f"config {path} is not valid TOML: {exc}"]
    problems: list[str] = []
    values: dict[str, Any] = {}  # each value checked by _coerce against its field's default
    for key, value in raw.items():
        if key not in _TYPES:
            problems.append(f"config {path}: unknown setting {key!r}")
            continue
        try:
            values[key] = _coerce(path, key, value)
        except _Problem as exc:
            problems.append(str(exc))
    cfg = Config(**values)
    checks = (
        ("sending_window", _check_window),
        ("timezone", _check_tz),
        ("", _check_sla),
        ("hooks", _check_hooks),
        ("assist", _check_assist),
    )
    for name, check in checks:
        try:
            check(path, cfg)
        except _Problem as exc:
            problems.append(str(exc))
            if name:
                cfg = replace(cfg, **{name: getattr(Config(), name)})
    if cfg.sla_late_minutes < cfg.sla_warn_minutes:
        cfg = replace(cfg, sla_warn_minutes=Config().sla_warn_minutes, sla_late_minutes=Config().sla_late_minutes)
    return cfg, problems


def _check_tz(path: Path, cfg: Config) -> None:
    try:
        cfg.tz  # noqa: B018 - validate now, not at send time
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _Problem(f"config {path}: bad timezone {cfg.timezone!r}: {exc}") from None


def _check_window(path: Path, cfg: Config) -> None:
    try:
        start, end = cfg.window
    except ValueError as exc:
        raise _Problem(f"config {path}: bad sending_window: {exc}") from None
    if not start < end:
        raise _Problem(f"config {path}: sending_window must start before it ends")


def _check_sla(path: Path, cfg: Config) -> None:
    if cfg.sla_late_minutes < cfg.sla_warn_minutes:
        raise _Problem(f"config {path}: sla_late_minutes must not be less than sla_warn_minutes")


def _check_keymap(path: Path, value: dict[str, object]) -> dict[str, str]:
    """Known ids, non-empty strings of comma-separated keys, no key bound twice where both
    bindings are active at once."""
    from chatdesk.keymap import KEYS

    by_id = {k.id: k for k in KEYS}
    keymap: dict[str, str] = {}
    for key_id, keys in value.items():
        if key_id not in by_id:
            raise _Problem(f"config {path}: [keymap] has no binding {key_id!r} (press ? in the app for the ids)")
        if not isinstance(keys, str):
            raise _Problem(f'config {path}: [keymap] {key_id} must be a string like "r,i", not {keys!r}')
        parts = [k.strip() for k in keys.split(",")]
        if not keys.strip() or any(not k or len(k) > 40 for k in parts):
            raise _Problem(f'config {path}: [keymap] {key_id} needs keys like "r" or "ctrl+r,i", not {keys!r}')
        keymap[key_id] = ",".join(parts)
    for group in _KEY_GROUPS:
        seen: dict[str, str] = {}
        for k in KEYS:
            if k.scope not in group:
                continue
            for key in keymap.get(k.id, k.keys).split(","):
                other = seen.setdefault(key, k.id)
                if other != k.id:
                    raise _Problem(f"config {path}: [keymap] key {key!r} is bound to both {other} and {k.id}")
    return keymap


def _coerce(path: Path, key: str, value: object) -> object:
    """``value`` as the type of ``key``'s default, within its bounds; :class:`_Problem` if not."""

    def bad(expected: str) -> _Problem:
        return _Problem(f"config {path}: {key} must be {expected}, not {value!r}")

    default = getattr(Config(), key)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise bad("a non-negative number")
        low, high = BOUNDS.get(key, (0, 1e9))
        if not low <= value <= high:  # also refuses nan and inf
            raise bad(f"a number from {low:g} to {high:g}")
        if isinstance(default, int) and value != int(value):
            raise bad("a whole number")
        return type(default)(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad("a string")
        if len(value) > MAX_STRING:
            raise bad(f"at most {MAX_STRING} characters")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise bad("a list of non-empty strings")
        if key == "sending_window" and len(value) != 2:
            raise bad('two times like ["09:00", "21:00"]')
        return tuple(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise bad("a table")
        if key == "keymap":
            return _check_keymap(path, value)
        if key == "resolve_rules":
            return _check_resolve_rules(path, value)
        return dict(value)
    return value


def _check_resolve_rules(path: Path, value: dict[str, object]) -> dict[str, int]:
    """The table as given (a rule left out is off, as before), each value a day count in range."""
    known = Config().resolve_rules
    rules: dict[str, int] = {}
    low, high = RESOLVE_DAYS
    for name, days in value.items():
        if name not in known:
            raise _Problem(f"config {path}: [resolve_rules] has no rule {name!r}; use one of: {', '.join(known)}")
        if isinstance(days, bool) or not isinstance(days, int) or not low <= days <= high:
            raise _Problem(
                f"config {path}: [resolve_rules] {name} must be a whole number of days from {low} to {high} "
                f"(0 turns it off), not {days!r}"
            )
        rules[name] = days
    return rules


def _check_hooks(path: Path, cfg: Config) -> None:
    """``[hooks]`` (and ``notify_command``, one hook among them) as :mod:`chatdesk.hooks` reads it."""
    from chatdesk import hooks

    try:
        hooks.parse_settings(cfg.hooks, cfg.notify_command)
    except ValueError as exc:
        raise _Problem(f"config {path}: {exc}") from None


def _check_assist(path: Path, cfg: Config) -> None:
    """``[assist]`` as :mod:`chatdesk.assist.llm` reads it."""
    from chatdesk.assist import llm

    try:
        llm.parse_settings(cfg.assist)
    except ValueError as exc:
        raise _Problem(f"config {path}: {exc}") from None
