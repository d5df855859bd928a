"""Buyer text that tries to break a terminal UI: markup injection, escape sequences, bidi spoofing.

Each entry is (raw text, the part that must appear literally on screen). The UI must render the
literal part exactly and let no ESC/C1/OSC byte through to the terminal.
"""

from __future__ import annotations

CORPUS: list[tuple[str, str]] = [
    ("[/", "[/"),
    ("[/foo] unbalanced close", "[/foo] unbalanced close"),
    ("click [@click=app.quit]here[/]", "click [@click=app.quit]here[/]"),
    ("[link=https://evil.example]bank[/link]", "[link=https://evil.example]bank[/link]"),
    ("[b]bold?[/b] [red]red?[/red]", "[b]bold?[/b] [red]red?[/red]"),
    ("copy \x1b]52;c;SGFja2VkIQ==\x07done", "copy done"),
    ("title \x1b]0;PWNED\x1b\\ok", "title ok"),
    ("clear \x1b[2J\x1b[Hscreen", "clear screen"),
    ("c1 csi \x9b2Jx", "c1 csi x"),
    ("c1 osc \x9d0;t\x9cy", "c1 osc y"),
    ("bidi \u202egnp.exe\u202c file", "bidi gnp.exe file"),
    ("family 👨\u200d👩\u200d👧 emoji", "family 👨\u200d👩\u200d👧 emoji"),
    ("null\x00byte\x07bell", "nullbytebell"),
    ("$(rm -rf ~) `id` ; echo", "$(rm -rf ~) `id` ; echo"),
]

FORBIDDEN = ["\x1b", "\x9b", "\x9d", "\x07", "\x00", "\u202e"]
