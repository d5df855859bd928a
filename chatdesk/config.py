"""User settings from ``<data dir>/config.toml`` (or ``CHATDESK_CONFIG``).

Every key is optional; a missing file means defaults. A malformed file or a wrong type is one
clear error naming the key, never a traceback. Example::

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
from dataclasses import dataclass, field, fields
from datetime import time, tzinfo
from pathlib import Path
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
    bell: bool = True
    notify_command: tuple[str, ...] = ()
    seller_name: str = ""
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


def load_config(path: Path) -> Config:
    if not path.exists():
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config {path} is not valid TOML: {exc}") from None
    values: dict[str, object] = {}
    for key, value in raw.items():
        if key not in _TYPES:
            raise UsageError(f"config {path}: unknown setting {key!r}")
        values[key] = _coerce(path, key, value)
    cfg = Config(**values)  # type: ignore[arg-type]
    try:
        cfg.tz  # noqa: B018 - validate now, not at send time
        start, end = cfg.window
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(f"config {path}: bad timezone or sending_window: {exc}") from None
    if not start < end:
        raise UsageError(f"config {path}: sending_window must start before it ends")
    _check_assist_and_hooks(path, cfg)
    return cfg


def _coerce(path: Path, key: str, value: object) -> object:
    def bad(expected: str) -> UsageError:
        return UsageError(f"config {path}: {key} must be {expected}, not {value!r}")

    default = getattr(Config(), key)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise bad("a non-negative number")
        return type(default)(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("a list of strings")
        if key == "sending_window" and len(value) != 2:
            raise bad('two times like ["09:00", "21:00"]')
        return tuple(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise bad("a table")
        return dict(value)
    return value


def _check_assist_and_hooks(path: Path, cfg: Config) -> None:
    """``[hooks]`` and ``[assist]`` are checked by their owners; a mistake is one line here."""
    from chatdesk import hooks
    from chatdesk.assist import llm

    try:
        hooks.parse_settings(cfg.hooks, cfg.notify_command)
        llm.parse_settings(cfg.assist)
    except ValueError as exc:
        raise UsageError(f"config {path}: {exc}") from None
