"""``open`` and ``mcp``: the owner's two other ways in, a browser and MCP clients."""

from __future__ import annotations

import os
import sys
import webbrowser
from pathlib import Path

import click

from secondme.node.cli.base import (
    client,
    data_dir_option,
    json_option,
    print_json,
    resolve_data_dir,
)


def _has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


@click.command("open")
@data_dir_option
@json_option
@click.option(
    "--browser/--no-browser",
    default=None,
    help="Open the link in a browser (default: when this session has a display).",
)
def open_web(data_dir: Path | None, as_json: bool, browser: bool | None) -> None:
    """Print a one-time login link to the web app (and open it in a browser).

    The link is good for one use within two minutes; the browser then keeps a session cookie
    until the daemon stops. The owner token never appears in a URL.
    """
    with client(data_dir) as api:
        ticket = api.post("/api/web/tickets")
        url = api.base_url + ticket["path"]
    if as_json:
        print_json({"url": url, "home": api.base_url + "/", **ticket})
        return
    click.echo(f"The web app: {api.base_url}/")
    click.echo(f"Log in with this one-time link (good for {ticket['expires_in_s']:.0f} s):")
    click.echo(f"  {url}")
    if browser or (browser is None and _has_display()):
        webbrowser.open(url)


@click.command("mcp")
@data_dir_option
def mcp_server(data_dir: Path | None) -> None:
    """Serve this node's memory to MCP clients over stdio (Claude Desktop, IDEs, agents).

    Runs until the client closes stdin. It talks to the running daemon through the owner API
    with the owner token, so a client sees what the owner's own CLI would see. Configure a client
    with the command `secondme-node mcp --data-dir PATH`.
    """
    from secondme.node.cli.mcp_server import serve

    serve(resolve_data_dir(data_dir))


COMMANDS = (open_web, mcp_server)
