"""``peers``, ``ping`` and ``hello``: the other nodes this one knows and talks to."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import click

from secondme.node.cli.base import client, data_dir_option, json_option, print_json
from secondme.node.cli.client import peer_path


def _ago(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    seconds = max(0, time.time() - timestamp)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


@click.group(invoke_without_command=True)
@data_dir_option
@json_option
@click.pass_context
def peers(ctx: click.Context, data_dir: Path | None, as_json: bool) -> None:
    """List known peers (or add / remove them with the subcommands)."""
    if ctx.invoked_subcommand is not None:
        return
    with client(data_dir) as api:
        known = api.get("/api/peers")
    if as_json:
        print_json(known)
        return
    if not known:
        click.echo("no peers yet; add one with `secondme-node peers add MULTIADDR`")
    for peer in known:
        latency = f"{peer['latency_ms']:.1f} ms" if peer["latency_ms"] is not None else "-"
        who = peer["name"] or peer["display_name"] or ""
        state = "online" if peer["online"] else "offline"
        networks = ",".join(peer["networks"]) or "-"
        click.echo(
            f"{peer['peer_id']}  {who:16} {state:7} {networks:16} "
            f"{latency:>9}  seen {_ago(peer['last_seen'])}"
        )


@peers.command("add")
@click.argument("multiaddr")
@click.option("--name", help="A short name to use instead of the peer ID.")
@data_dir_option
@json_option
def peers_add(multiaddr: str, name: str | None, data_dir: Path | None, as_json: bool) -> None:
    """Connect to a peer by its multiaddr (…/tcp/PORT/p2p/PEER_ID) and remember it."""
    with client(data_dir) as api:
        peer = api.post("/api/peers", {"multiaddr": multiaddr, "name": name})
    if as_json:
        print_json(peer)
    else:
        shown = f" ({peer['display_name']})" if peer["display_name"] else ""
        click.echo(f"added {peer['peer_id']}{shown}")


@peers.command("rm")
@click.argument("peer")
@data_dir_option
def peers_rm(peer: str, data_dir: Path | None) -> None:
    """Forget a peer (by name or peer ID)."""
    with client(data_dir) as api:
        removed = api.delete(peer_path(peer))["removed"]
    click.echo(f"removed {removed['peer_id']}")


@click.command()
@click.argument("peer")
@click.option(
    "--count",
    "-c",
    default=3,
    show_default=True,
    type=click.IntRange(1, 100),
    help="How many round trips.",
)
@data_dir_option
@json_option
def ping(peer: str, count: int, data_dir: Path | None, as_json: bool) -> None:
    """Measure round trips to a known peer (by name or peer ID)."""
    with client(data_dir) as api:
        result = api.post(peer_path(peer, "ping"), {"count": count})
    if as_json:
        print_json(result)
        return
    for n, rtt in enumerate(result["rtt_ms"], start=1):
        click.echo(f"pong from {result['peer_id']}: seq={n} time={rtt:.2f} ms")
    rtts = result["rtt_ms"]
    click.echo(
        f"{len(rtts)} round trips: min {min(rtts):.2f} / median {statistics.median(rtts):.2f} "
        f"/ max {max(rtts):.2f} ms"
    )


@click.command()
@click.argument("peer")
@data_dir_option
@json_option
def hello(peer: str, data_dir: Path | None, as_json: bool) -> None:
    """Ask a known peer who it is: name, protocol versions, public profile."""
    with client(data_dir) as api:
        answer = api.post(peer_path(peer, "hello"))
    if as_json:
        print_json(answer)
        return
    click.echo(f"peer      {answer['peer_id']}")
    click.echo(f"name      {answer['display_name'] or '-'}")
    click.echo(f"versions  {', '.join(answer['versions'])}")
    click.echo(f"agent     {answer['agent']}")
    for key, value in answer["profile"].items():
        if key != "name":  # already shown
            click.echo(f"{key:10}{value}")
