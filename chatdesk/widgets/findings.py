"""Rule findings made visible: the text with offending spans highlighted, and the reasons.

Used wherever a message is about to be sent or scheduled, so the seller sees *what* would get
the message blocked (a phone number, a link) before the marketplace — or a fine — does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import Static

from chatdesk.sanitize import safe_text

HARD_STYLE = "bold reverse red"
WARN_STYLE = "bold reverse yellow"


def highlighted(text: str, findings: Sequence[Any]) -> Text:
    """``text`` (sanitized, never markup) with each finding's span styled by severity."""
    clean = safe_text(text)
    out = Text(clean)
    if clean != text:  # spans refer to the raw text; a sanitized copy cannot carry them safely
        return out
    for f in findings:
        if f.start is not None and f.end is not None and 0 <= f.start < f.end <= len(clean):
            out.stylize(HARD_STYLE if f.severity == "hard" else WARN_STYLE, f.start, f.end)
    return out


def excerpt(text: str, finding: Any, *, context: int = 12, max_span: int = 40) -> Text | None:
    """The offending words of ``finding`` in a little context, highlighted (one line, sanitized):
    ``…пишите в [telegram @shop]…``. ``None`` when the finding has no span in ``text``."""
    start, end = finding.start, finding.end
    if start is None or end is None or not 0 <= start < end <= len(text) or finding.code == "too_long":
        return None
    if safe_text(text) != text:  # spans index the raw text: a sanitized copy cannot carry them
        return None
    style = HARD_STYLE if finding.severity == "hard" else WARN_STYLE

    def one_line(part: str) -> str:
        return " ".join(part.replace("\n", " ").split(" "))

    span = one_line(text[start:end])
    span = span if len(span) <= max_span else span[: max_span - 1] + "…"
    before = one_line(text[max(0, start - context) : start])
    after = one_line(text[end : end + context])
    out = Text("…" if start > context else "")
    out.append(before)
    out.append(span, style)
    out.append(after)
    if end + context < len(text):
        out.append("…")
    return out


def reasons(findings: Sequence[Any]) -> Text:
    out = Text()
    for i, f in enumerate(findings):
        if i:
            out.append("\n")
        label, style = ("blocked", "red") if f.severity == "hard" else ("warning", "yellow")
        out.append(f"{label}: ", style=f"bold {style}")
        out.append(safe_text(f.reason, single_line=True))
    return out


class FindingsView(Static):
    """The reasons, one per line; empty when the text is clean."""

    DEFAULT_CSS = "FindingsView { height: auto; }"

    def show(self, findings: Sequence[Any]) -> None:
        self.update(reasons(findings) if findings else Text("no rule warnings", style="dim"))
