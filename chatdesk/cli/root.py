"""The root command (no command: open the inbox) and the console entry point with its error contract."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from chatdesk.cli.common import (
    Ctx,
    app,
    get_ctx,
)
from chatdesk.errors import ChatdeskError


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        str | None, typer.Option("--home", help="Data directory (default: CHATDESK_HOME or the user data dir).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database path or SQLAlchemy URL (default: CHATDESK_DB or <home>/chatdesk.db)."),
    ] = None,
) -> None:
    """With no command: open the inbox."""
    ctx.obj = Ctx(home, db)
    if ctx.invoked_subcommand != "sandbox":
        ctx.obj.config()  # a broken config.toml is one line and exit 2 before any command runs
    if ctx.invoked_subcommand is None:
        c = get_ctx(ctx)
        from chatdesk.app import run_app
        from chatdesk.sync import SyncEngine

        database = c.db()
        config = c.config()
        secrets = c.secrets()
        engine = SyncEngine(database, secrets=secrets, config=config)
        from chatdesk import hooks

        watcher = hooks.attach(engine, database, config)  # [hooks] (and notify_command), topic tags
        try:
            run_app(database, config=config, engine=engine, secrets=secrets, home=c.data_dir)
        finally:
            watcher.stop()


def main() -> None:
    """Console entry: one line per error, exit 2 for bad input, no tracebacks."""
    from typer.exceptions import TyperException

    try:
        result = app(standalone_mode=False)
        if isinstance(result, int) and result:
            sys.exit(result)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except TyperException as exc:  # bad flags or arguments
        sys.stderr.write(f"chatdesk: {exc.format_message()}\n")
        sys.exit(2)
    except ChatdeskError as exc:
        from chatdesk.sanitize import safe_text

        sys.stderr.write(f"chatdesk: {safe_text(str(exc), single_line=True)}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        _log_crash(exc)
        from chatdesk.sanitize import safe_text

        sys.stderr.write(f"chatdesk: unexpected error: {safe_text(type(exc).__name__)} (details in chatdesk.log)\n")
        sys.exit(1)


def _log_crash(exc: BaseException) -> None:
    """Where it happened, for a bug report; not the exception's text, which may quote a
    marketplace answer or a header and so a token."""
    import traceback

    try:
        from chatdesk.paths import data_dir, ensure_private_dir, private_file

        path = private_file(ensure_private_dir(data_dir()) / "chatdesk.log")
        logging.basicConfig(filename=path, level=logging.ERROR)
        frames = "".join(traceback.format_tb(exc.__traceback__))
        logging.getLogger("chatdesk").error("unexpected %s (text withheld)\n%s", type(exc).__name__, frames)
    except Exception:
        pass
