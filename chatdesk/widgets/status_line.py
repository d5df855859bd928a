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


def account_state(
    streams: list[StreamStatus], now: datetime, recent_error: str | None = None, note: str | None = None
) -> tuple[str, str]:
    """(plain words, level) for one account from its streams' states; level: ok|warn|error|idle.

    ``recent_error``: what the engine last reported for the account (a failure before any
    stream state was stored, e.g. a locked keyring), shown instead of "not synced yet".
    ``note``: why this process does not poll it while nobody else does (team mode: "no sync
    service is polling wb-main (keys live on the sync host)"), shown first, level warn.
    """
    if note and not any(s.poller for s in streams):
        return safe_text(note, single_line=True, max_len=100), "warn"
    errors = [s for s in streams if s.last_error and not s.unavailable]
    if errors:
        st = errors[0]
        words = safe_text(st.last_error or "", single_line=True, max_len=80)
        retry = _until(st.backoff_until or st.next_poll_at, now)
        return (f"error: {words}" + (f" (retry in {retry})" if retry else "")), "error"
    done = [s.last_success_at for s in streams if s.last_success_at]
    if not done:
        if recent_error:
            return f"failed: {safe_text(recent_error, single_line=True, max_len=80)}", "error"
        return "not synced yet", "idle"
    last = max(done)
    nxt = min((s.next_poll_at for s in streams if s.next_poll_at), default=None)
    words = f"ok {relative_time(last, now)}" + ("" if relative_time(last, now) == "now" else " ago")
    if nxt is not None:
        words += f", next {_until(nxt, now)}"
    return words, "ok"


def stream_states(streams: list[StreamStatus], now: datetime) -> list[str]:
    """One line per stream of an account: "chats: ok 2m ago", "questions: unavailable — why"."""
    out = []
    for st in streams:
        name = safe_text(st.stream, single_line=True, max_len=20)
        if st.unavailable:
            words = f"unavailable — {safe_text(st.unavailable, single_line=True, max_len=120)}"
        elif st.last_error:
            retry = _until(st.backoff_until or st.next_poll_at, now)
            words = f"error — {safe_text(st.last_error, single_line=True, max_len=120)}"
            words += f" (retry in {retry})" if retry else ""
        elif st.last_success_at:
            age = relative_time(st.last_success_at, now)
            words = f"ok {age}" + ("" if age == "now" else " ago")
        else:
            words = "not synced yet"
        out.append(f"{name}: {words}")
    return out


class StatusLine(Static):
    """One line; when the full words do not fit, each account shrinks to a mark and its age."""

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, clock: Callable[[], datetime], id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self._clock = clock
        self._data: tuple[list[StreamStatus], int, dict[int, bool], dict[int, str], dict[int, str]] | None = None
        self.text = ""

    def show(
        self,
        streams: list[StreamStatus],
        unread: int,
        polling: dict[int, bool],
        errors: dict[int, str] | None = None,
        notes: dict[int, str] | None = None,
    ) -> None:
        """``errors``: the engine's last error words per account id (see ``Desk.recent_errors``);
        ``notes``: why this process leaves an account alone (see ``Desk.sync_notes``)."""
        self._data = (streams, unread, polling, dict(errors or {}), dict(notes or {}))
        room = self.size.width - 2
        for detail in (3, 2, 1, 0):
            line = self._line(detail)
            if room <= 0 or line.cell_len <= room:
                break
        self.text = line.plain
        self.update(line)

    def on_resize(self) -> None:
        if self._data is not None:
            self.show(*self._data)

    def _line(self, detail: int) -> Text:
        """detail 3: names and full reasons; 2: names and short reasons; 1: names and a mark;
        0: badge and a mark. ``show`` picks the most detailed one that fits."""
        assert self._data is not None
        streams, unread, polling, errors, notes = self._data
        now = self._clock()
        line = Text()
        line.append(f"{unread} unread", "bold" if unread else "")
        by_account: dict[int, list[StreamStatus]] = {}
        for st in streams:
            by_account.setdefault(st.account_id, []).append(st)
        if not by_account:
            line.append(" │ no accounts yet: press a to add one")
        keyless: list[str] = []  # accounts nobody polls and whose key lives elsewhere (team mode)
        for account_id, group in by_account.items():
            first = group[0]
            words, level = account_state(group, now, errors.get(account_id), notes.get(account_id))
            if level == "warn":
                keyless.append(safe_text(first.account, single_line=True, max_len=24))
                continue  # said once for all of them, below
            style = {"error": "bold red", "ok": "", "idle": "dim"}.get(level, "")
            line.append(" │ ")
            line.append(f"{BADGES.get(first.marketplace, first.marketplace)} ", "bold")
            if detail == 3:
                line.append(safe_text(first.account, single_line=True, max_len=24) + ": ")
                line.append(words, style)
                continue
            last = max((s.last_success_at for s in group if s.last_success_at), default=None)
            if detail >= 1:
                line.append(safe_text(first.account, single_line=True, max_len=14) + " ")
                short = words.split(": ", 1)[-1] if level == "error" and detail == 2 else ""
                short = short if len(short) <= 20 else short[:19] + "…"
                mark = {"error": f"✗ {short}", "ok": f"✓{relative_time(last, now)}", "idle": "…"}
            else:
                mark = {"error": "✗", "ok": f"✓{relative_time(last, now)}", "idle": "…"}
            line.append(mark[level].rstrip(), style)
        if keyless:
            # An operator's TUI whose keys live on the sync host, and no sync service runs: one
            # plain sentence (never "add a key"), shortened to fit.
            which = ", ".join(keyless) if detail == 3 or len(keyless) == 1 else f"{len(keyless)} accounts"
            line.append(" │ ")
            line.append(
                f"no sync service is polling {which} (keys live on the sync host)"
                if detail == 3
                else f"no sync service polls {which} (keys live on the sync host)"
                if detail == 2
                else f"no sync service: {which}"
                if detail == 1
                else "no sync service",
                "yellow",
            )
            if len(keyless) == len(by_account):
                return line  # that is the whole sync story: no "sync: off" after it
        here = any(polling.values())
        elsewhere = any(s.poller for s in streams) and not here
        line.append(" │ ")
        if detail <= 2:
            # Never a bare "here"/"off" (UX report 13): a new user cannot tell what it is about.
            line.append("sync: here" if here else "sync: other" if elsewhere else "sync: off", "italic")
        else:
            line.append("syncing here" if here else "another chatdesk syncs" if elsewhere else "not syncing", "italic")
        return line
