"""The TUI's module discipline (issue 10): screens and widgets get services handed down and
never import the app; widgets never import screens; the services handle imports no Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import chatdesk

PACKAGE = Path(chatdesk.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (deferred imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def files(folder: str) -> list[Path]:
    out = sorted((PACKAGE / folder).rglob("*.py"))
    assert out
    return out


def test_no_screen_or_widget_imports_the_app() -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in files("screens") + files("widgets")
        if any(m == "chatdesk.app" or m.startswith("chatdesk.app.") for m in imported_modules(p))
    ]
    assert offenders == []


def test_widgets_never_import_screens() -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in files("widgets")
        if any(m.startswith("chatdesk.screens") for m in imported_modules(p))
    ]
    assert offenders == []


def test_the_app_does_not_branch_on_the_main_screen() -> None:
    source = (PACKAGE / "app.py").read_text(encoding="utf-8")
    assert "isinstance(screen, MainScreen)" not in source
    assert "screen_stack" not in source.replace("list(self.screen_stack)", "")  # only the quit hook walks it


def test_the_services_handle_imports_no_textual() -> None:
    code = "import sys, chatdesk.desk; print(any(m == 'textual' or m.startswith('textual.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_main_screen_is_split_along_its_sections() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in files("screens/inbox")}
    main = len((PACKAGE / "screens" / "main.py").read_text(encoding="utf-8").splitlines())
    assert main < 200 and max(sizes.values()) < 400, (main, sizes)
