"""The one sanitizing helper: escape sequences, C1, bidi controls, file names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatdesk.sanitize import safe_filename, safe_text

HOSTILE = [
    ("copy \x1b]52;c;ZXZpbA==\x07 me", "copy  me"),
    ("title \x1b]0;PWNED\x1b\\ x", "title  x"),
    ("clear \x1b[2J\x1b[H now", "clear  now"),
    ("c1 \x9b2J csi", "c1  csi"),
    ("osc8 \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "osc8 link"),
    ("bidi \u202eexe.txt", "bidi exe.txt"),
    ("bell\x07 and null\x00", "bell and null"),
    ("win\r\nline", "win\nline"),
    ("[@click=app.quit]x[/]", "[@click=app.quit]x[/]"),  # markup is kept literally: widgets never parse it
]


@pytest.mark.parametrize(("raw", "expected"), HOSTILE)
def test_hostile_text(raw: str, expected: str) -> None:
    assert safe_text(raw) == expected


def test_single_line_and_truncation() -> None:
    assert safe_text("a\n\tb   c", single_line=True) == "a b c"
    assert safe_text("абвгдежз", max_len=5) == "абвг…"


@given(st.text())
def test_no_control_bytes_ever_survive(text: str) -> None:
    out = safe_text(text)
    assert not any(ord(c) < 32 and c not in "\n\t" for c in out)
    assert not any(0x7F <= ord(c) <= 0x9F for c in out)
    assert "\u202e" not in out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/abs/path.pdf", "path.pdf"),
        ("..", "attachment"),
        (".bashrc", "bashrc"),
        ("C:\\x\\чек.pdf", "чек.pdf"),
        ("a\x1b[2Jb.jpg", "ab.jpg"),
        ("", "attachment"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected
