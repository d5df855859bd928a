"""The ``chatdesk`` command line, one module per command group (Typer's layout): a contract
that scripts and tests depend on.

Every failure is one line on stderr with a non-zero exit code (2 for bad input) and no
traceback; unexpected errors are logged with their traceback to ``<data dir>/chatdesk.log``.
Untrusted text reaches the terminal only through :mod:`chatdesk.sanitize`.
"""

from chatdesk.cli import accounts, assist, demo, followups, reading, sending, syncing, team  # noqa: F401  (registers the commands)
from chatdesk.cli.common import app, print_chats, print_json
from chatdesk.cli.root import main

__all__ = ["app", "main", "print_chats", "print_json"]
