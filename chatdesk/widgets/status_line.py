"""The status line: total unread, each account's sync health in plain words, and who polls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from chatdesk.sanitize import safe_text
from chatdesk.store.views import StreamStatus
from chatdesk.widgets.chat_list import BADGES, relative_time


def _until(at: datetime | None, now: datetime) -> str:
    if at is None:
        return ""
    seconds = int((at - now).total_seconds())
    if seconds <= 0:
        return "now"
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m"


def account_state(streams: list[StreamStatus], now: datetime) -> tuple[str, str]:
    """(plain words, level) for one account from its streams' states; level: ok|warn|error|idle."""
    errors = [s for s in streams if s.last_error and not s.unavailable]
    if errors:
        st = errors[0]
        words = safe_text(st.last_error, single_line=True, max_len=80)
        retry = _until(st.backoff_until or st.next_poll_at, now)
        return (f"error: {words}" + (f" (retry in {retry})" if retry else "")), "error"
    done = [s.last_success_at for s in streams if s.last_success_at]
    if not done:
        return "not synced yet", "idle"
    last = max(done)
    nxt = min((s.next_poll_at for s in streams if s.next_poll_at), default=None)
    words = f"ok {relative_time(last, now)}" + ("" if relative_time(last, now) == "now" else " ago")
    if nxt is not None:
        words += f", next {_until(nxt, now)}"
    return words, "ok"


class StatusLine(Static):
    """One line; when the full words do not fit, each account shrinks to a mark and its age."""

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, clock: Callable[[], datetime], id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self._clock = clock
        self._data: tuple[list[StreamStatus], int, dict[int, bool]] | None = None
        self.text = ""

    def show(self, streams: list[StreamStatus], unread: int, polling: dict[int, bool]) -> None:
        self._data = (streams, unread, polling)
        line = self._line(compact=False)
        if line.cell_len > self.size.width - 2 > 0:
            line = self._line(compact=True)
        self.text = line.plain
        self.update(line)

    def on_resize(self) -> None:
        if self._data is not None:
            self.show(*self._data)

    def _line(self, *, compact: bool) -> Text:
        assert self._data is not None
        streams, unread, polling = self._data
        now = self._clock()
        line = Text()
        line.append(f"{unread} unread", "bold" if unread else "")
        by_account: dict[int, list[StreamStatus]] = {}
        for st in streams:
            by_account.setdefault(st.account_id, []).append(st)
        if not by_account:
            line.append(" │ no accounts yet: press a to add one")
        for group in by_account.values():
            first = group[0]
            words, level = account_state(group, now)
            style = {"error": "bold red", "ok": "", "idle": "dim"}.get(level, "")
            line.append(" │ ")
            line.append(f"{BADGES.get(first.marketplace, first.marketplace)} ", "bold")
            if compact:
                last = max((s.last_success_at for s in group if s.last_success_at), default=None)
                mark = {"error": "✗ error", "ok": f"✓{relative_time(last, now)}", "idle": "…"}[level]
                line.append(mark, style)
                continue
            line.append(safe_text(first.account, single_line=True, max_len=24) + ": ")
            line.append(words, style)
        here = any(polling.values())
        elsewhere = any(s.poller for s in streams) and not here
        line.append(" │ ")
        if compact:
            line.append("sync: here" if here else "sync: other" if elsewhere else "sync: off", "italic")
        else:
            line.append("syncing here" if here else "another chatdesk syncs" if elsewhere else "not syncing", "italic")
        return line
