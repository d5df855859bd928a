"""The one place untrusted text is made safe for a terminal.

Buyer messages, names, file names and marketplace error text can carry terminal control
sequences (OSC 52 clipboard writes, window titles, cursor moves) and bidi overrides that
reorder what the operator reads. Textual and Rich strip only a few C0 codes, so every path
that shows or passes on such text (TUI, CLI tables, notifications, notify-command argv,
logs, exports) goes through :func:`safe_text`. Markup is a separate concern: widgets must be
given ``Content``/``Text`` objects (see :func:`safe_content`), never markup strings.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only safe_content() needs Textual, and imports it when called
    from textual.content import Content

# C0 except \t and \n, DEL, C1 (U+0080..U+009F), bidi embeddings/overrides/isolates,
# and the zero-width no-break space / line+paragraph separators that break layout.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029\ufeff]")
_ESCAPE_SEQ = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL/ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS/SOS/PM/APC
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
)
_C1_SEQ = re.compile(r"\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*(?:\x07|\x9c)?")


def safe_text(value: object, *, single_line: bool = False, max_len: int | None = None) -> str:
    """Return ``value`` as text with escape sequences and control characters removed.

    Whole escape sequences are dropped (not just the ESC byte) so no payload such as an OSC 52
    base64 blob leaks through as visible garbage. ``\\r\\n`` becomes ``\\n``; with
    ``single_line`` newlines and tabs become spaces (table cells, notifications, argv).
    """
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ESCAPE_SEQ.sub("", text)
    text = _C1_SEQ.sub("", text)
    text = _UNSAFE.sub("", text)
    if single_line:
        text = " ".join(text.split())
    if max_len is not None and len(text) > max_len:
        text = text[: max(0, max_len - 1)] + "…"
    return text


def safe_content(value: object, *, single_line: bool = False, max_len: int | None = None) -> Content:
    """A Textual ``Content`` of sanitized text (see :func:`safe_text`): never parsed as markup."""
    from textual.content import Content

    return Content(safe_text(value, single_line=single_line, max_len=max_len))


_FILENAME_BAD = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def safe_filename(name: object, default: str = "attachment") -> str:
    """A file name from a buyer made safe to save: no directories, no dot-files, bounded length."""
    text = safe_text(name, single_line=True)
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _FILENAME_BAD.sub("_", text).strip().lstrip(".")
    if text in {"", ".", ".."}:
        text = default
    return text[:180]
