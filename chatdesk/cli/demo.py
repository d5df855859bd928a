"""`chatdesk demo` and `chatdesk sandbox serve`: the built-in marketplace simulator."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from chatdesk.cli.common import (
    app,
    print_chats,
    sandbox_app,
)
from chatdesk.errors import UsageError


@app.command()
def demo(
    ctx: typer.Context,
    headless: Annotated[
        bool, typer.Option("--headless", help="Sync once and print the inbox instead of the TUI.")
    ] = False,
) -> None:
    """The app on the built-in sandbox, with its own temporary store."""
    from chatdesk import demo as demo_mod

    demo_mod.run(headless=headless, show_inbox=print_chats)


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free port).")] = 8765,
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    chats: Annotated[int, typer.Option(min=0, max=10_000, help="Seeded conversations per marketplace.")] = 12,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Random seed.")] = 7,
    page_size: Annotated[int | None, typer.Option(min=1, max=1000, help="Force small pages.")] = None,
) -> None:
    """Serve the simulated marketplaces over HTTP on loopback."""
    import ipaddress
    import time

    from chatdesk.sandbox import build_sandbox

    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise UsageError("the sandbox only listens on loopback")
    if page_size:
        sandbox = build_sandbox(seed=seed, chats=chats, page_size=page_size)
    else:
        sandbox = build_sandbox(seed=seed, chats=chats)
    server = sandbox.serve(host, port)
    base = f"http://{host}:{server.server_port}"
    for prefix, sim in sandbox.sims.items():
        typer.echo(f"{sim.marketplace}: {base}/{prefix}")
    typer.echo(f"control: {base}/_sandbox/ ; serving until Ctrl-C", err=False)
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
