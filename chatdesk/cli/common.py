"""What every command module shares: the Typer apps, the per-invocation context (store, secrets,
config, opened lazily) and output helpers that keep untrusted text inert on a terminal."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from chatdesk.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from rich.console import Console

    from chatdesk.config import Config
    from chatdesk.secrets import KeyringSecrets
    from chatdesk.store.db import Database
    from chatdesk.store.views import ChatRow

# The largest id SQLite and PostgreSQL store (signed 64-bit): every id argument is bounded by it
# at parse time, so no lookup can overflow.
ID_MAX = 2**63 - 1
_ID = re.compile(r"[0-9]{1,19}")


# `chatdesk --help` lists commands in the order a seller meets them: read, reply, follow up,
# then accounts and sync, then the sandbox. Anything not listed goes last, alphabetically.
HELP_ORDER = (
    "chats",
    "messages",
    "search",
    "send",
    "download",
    "resolve",
    "followup",
    "templates",
    "account",
    "sync",
    "demo",
    "sandbox",
    # subcommands
    "add",
    "list",
    "edit",
    "test",
    "cancel",
    "remove",
    "serve",
)


class OrderedGroup(TyperGroup):
    """A command group whose help lists commands in :data:`HELP_ORDER`."""

    def list_commands(self, ctx: Any) -> list[str]:  # ctx: Typer's click Context
        rank = {name: i for i, name in enumerate(HELP_ORDER)}
        return sorted(super().list_commands(ctx), key=lambda name: (rank.get(name, len(rank)), name))


app = typer.Typer(
    cls=OrderedGroup,
    add_completion=False,
    no_args_is_help=False,
    invoke_without_command=True,
    help="A keyboard-driven terminal inbox for Wildberries, Ozon and Yandex Market buyer chats.",
    pretty_exceptions_enable=False,
)
account_app = typer.Typer(
    cls=OrderedGroup, help="Add, list, test and remove marketplace accounts.", no_args_is_help=True
)
sandbox_app = typer.Typer(cls=OrderedGroup, help="The built-in marketplace simulator.", no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(sandbox_app, name="sandbox")


followup_app = typer.Typer(
    cls=OrderedGroup, help="Schedule, list, edit and cancel follow-up messages.", no_args_is_help=True
)
templates_app = typer.Typer(
    cls=OrderedGroup, help="Reply templates (plain text files in <data dir>/templates).", no_args_is_help=True
)
app.add_typer(followup_app, name="followup")
app.add_typer(templates_app, name="templates")


@dataclass
class Ctx:
    home: str | None
    db_arg: str | None
    _db: object = None
    _config: Config | None = None

    @property
    def data_dir(self) -> Path:
        from chatdesk.paths import data_dir

        return data_dir(self.home)

    def db(self) -> Database:
        """The store, opened once; a URL whose driver is missing or whose kind is unknown is a
        :class:`UsageError` naming the scheme and the driver (never the URL: it may hold a password)."""
        if self._db is None:
            from chatdesk.paths import db_url
            from chatdesk.store.db import Database
            from chatdesk.usecases.team import operator_from

            db = open_store(Database, db_url(self.home, self.db_arg))
            try:
                db.operator = operator_from(self.config().operator)
            except Exception:
                db.close()
                raise
            self._db = db
        assert isinstance(self._db, _database_class())
        return self._db

    def secrets(self) -> KeyringSecrets:
        from chatdesk.secrets import KeyringSecrets

        return KeyringSecrets(self.data_dir)

    def config(self) -> Config:
        """The user's settings, read and validated once (:class:`UsageError` names the problem)."""
        if self._config is None:
            from chatdesk.config import load_config
            from chatdesk.paths import config_file

            self._config = load_config(config_file(self.home))
        return self._config


def _database_class() -> type[Database]:
    from chatdesk.store.db import Database

    return Database


def open_store(factory: Callable[[str], Database], url: str) -> Database:
    """``factory(url)`` with the ways a URL can be unusable turned into one plain sentence."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    scheme = url.split("://", 1)[0] if "://" in url else "sqlite"
    if scheme.split("+", 1)[0].lower() not in ("sqlite", "postgresql", "postgres"):
        raise UsageError(
            f"--db {scheme}://…: unknown kind of database; use a file path, sqlite:///PATH or postgresql+psycopg://…"
        )
    dialect, _, driver = scheme.partition("+")
    if dialect.lower() in ("postgresql", "postgres"):
        import importlib

        module = driver.lower() or "psycopg"
        try:
            importlib.import_module(module)
        except ImportError:
            raise UsageError(
                f"--db {scheme}://…: the database driver {module!r} is not installed in chatdesk's environment"
                + (" (pip install 'chatdesk[pg]')" if module == "psycopg" else "")
            ) from None
    try:
        return factory(url)
    except ModuleNotFoundError as exc:
        driver = exc.name or "its driver"
        raise UsageError(
            f"--db {scheme}://…: the database driver {driver!r} is not installed in chatdesk's environment"
        ) from None
    except NoSuchModuleError:
        raise UsageError(
            f"--db {scheme}://…: unknown kind of database; use a file path, sqlite:///PATH or postgresql+psycopg://…"
        ) from None
    except ArgumentError:
        raise UsageError("--db: not a database URL; use a file path or a URL like sqlite:///PATH") from None


def get_ctx(ctx: typer.Context) -> Ctx:
    obj = ctx.obj
    assert isinstance(obj, Ctx)
    return obj


def console() -> Console:
    from rich.console import Console

    return Console(markup=False, highlight=False, emoji=False, soft_wrap=False)


_JSON_UNSAFE = {c: f"\\u{c:04x}" for c in [*range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]}


def print_json(data: object) -> None:
    """JSON that keeps text exact yet is safe on a terminal: C1 and bidi controls escaped."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    sys.stdout.write(text.translate({k: v for k, v in _JSON_UNSAFE.items()}) + "\n")


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") if dt else None


def print_table(columns: list[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain aligned table: short columns keep their width, the last (text) column gets what
    is left of the terminal and is cut with an ellipsis. Widths count terminal cells, not code
    points, so emoji and wide characters keep the columns straight."""
    import shutil

    from rich.cells import cell_len, set_cell_size

    from chatdesk.sanitize import safe_text

    cells = [columns] + [[safe_text("" if v is None else v, single_line=True) for v in row] for row in rows]
    widths = [min(28, max(cell_len(r[i]) for r in cells)) for i in range(len(columns) - 1)]
    total = shutil.get_terminal_size((160, 24)).columns if sys.stdout.isatty() else 10_000
    last = max(10, total - sum(widths) - 2 * len(widths))
    out = []
    for row in cells:
        parts = [set_cell_size(row[i], w) for i, w in enumerate(widths)]
        text = row[-1]
        if cell_len(text) > last:
            text = set_cell_size(text, last - 1) + "…"
        out.append("  ".join([*parts, text]).rstrip())
    sys.stdout.write("\n".join(out) + "\n")


def local_time(dt: datetime | None) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M") if dt else ""


def print_chats(rows: list[ChatRow]) -> None:
    """The inbox as a table (``chats`` and ``demo --headless``)."""
    from datetime import UTC, datetime

    from chatdesk.connectors import LABELS
    from chatdesk.usecases.titles import chat_title, waited

    now = datetime.now(UTC)
    print_table(
        ["ID", "MP", "ACCOUNT", "CUSTOMER", "UNREAD", "WAIT", "LAST", "PREVIEW"],
        [
            [
                r.id,
                LABELS.get(r.marketplace, r.marketplace),
                r.account,
                chat_title(r),
                r.unread or "",
                (waited(r.last_buyer_at, now) or "●") if r.waiting else "",
                local_time(r.last_message_at),
                r.preview or "",
            ]
            for r in rows
        ],
    )


def parse_id(value: str, what: str = "chat") -> int:
    """An id typed by the user: ASCII digits, 1 to :data:`ID_MAX`; :class:`UsageError` otherwise."""
    if not _ID.fullmatch(value.strip()) or not 1 <= int(value) <= ID_MAX:
        raise UsageError(f"{what} id must be a whole number from 1 to {ID_MAX}, not {value[:40]!r}")
    return int(value)


def chat_id_arg(db: Database, value: str) -> int:
    """The id of an existing chat; :class:`UsageError` (exit 2) for anything else."""
    from chatdesk.store import views

    chat_id = parse_id(value) if _ID.fullmatch(value.strip()) else None
    if chat_id is None or views.get_chat(db, chat_id) is None:
        raise UsageError(f"no chat with id {value[:40]!r} (ids are printed by: chatdesk chats)")
    return chat_id


def text_or_template(c: Ctx, chat_id: int, text: str | None, template: str | None, *, stdin: bool = False) -> str:
    """Exactly one source of text: the argument, stdin, or a filled template."""
    sources = [x for x in (text is not None, stdin, template is not None) if x]
    if len(sources) != 1:
        raise UsageError("give exactly one of: TEXT, --stdin, --template NAME")
    if stdin:
        return sys.stdin.read()
    if template is not None:
        from chatdesk.store import views
        from chatdesk.usecases.followups import render_template

        chat_row = views.get_chat(c.db(), chat_id)
        assert chat_row is not None
        return render_template(template, chat_row, c.config(), c.home)
    assert text is not None
    return text


def when_arg(c: Ctx, in_: str | None, at: str | None, *, required: bool = True) -> datetime | None:
    from datetime import UTC, datetime

    from chatdesk.timeparse import parse_duration, parse_when

    if in_ and at:
        raise UsageError("give --in or --at, not both")
    if not in_ and not at:
        if required:
            raise UsageError("say when: --in 3d or --at 2026-12-01T10:00")
        return None
    now = datetime.now(UTC)
    try:
        if in_:
            return now + parse_duration(in_)
        return parse_when(at or "", now=now, tz=c.config().tz)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
