"""``network``, ``invite`` and ``join``: being in networks of Second Me nodes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from secondme.node.cli.access import parse_duration
from secondme.node.cli.base import client, data_dir_option, json_option, print_json
from secondme.node.cli.client import api_path


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


@click.group()
def network() -> None:
    """Networks this node created or joined (see also `invite` and `join`)."""


@network.command("create")
@click.argument("name")
@click.option(
    "--discovery",
    multiple=True,
    required=True,
    help="The discovery server's multiaddr, …/p2p/<id> (repeatable: instances on one database).",
)
@data_dir_option
@json_option
def network_create(name: str, discovery: tuple[str, ...], data_dir: Path | None, as_json: bool):
    """Create a network owned by this node; then `invite` people to it."""
    with client(data_dir) as api:
        created = api.post("/api/networks", {"name": name, "discovery": list(discovery)})
    if as_json:
        print_json(created)
        return
    click.echo(f"created network {created['name']} ({created['network_id']})")
    click.echo(f"invite someone: secondme-node invite --network {created['name']} --uses 1")


@network.command("list")
@click.option("--offline", is_flag=True, help="Do not ask the discovery servers for news.")
@data_dir_option
@json_option
def network_list(offline: bool, data_dir: Path | None, as_json: bool) -> None:
    """Networks this node is in (and ones it left or was removed from)."""
    with client(data_dir) as api:
        networks = api.get("/api/networks", sync="0" if offline else "1")
    if as_json:
        print_json(networks)
        return
    if not networks:
        click.echo("no networks yet: `network create NAME --discovery ADDR` or `join TOKEN`")
    for n in networks:
        problem = f"  (last sync failed: {n['sync_error']})" if n["sync_error"] else ""
        click.echo(
            f"{n['name']:20} {n['network_id']}  {n['role']:8} {n['status']:8} "
            f"{n['members']:>4} member(s){problem}"
        )


@network.command("members")
@click.argument("network_name", required=False)
@click.option("--no-probe", is_flag=True, help="Do not ping members; online means connected.")
@data_dir_option
@json_option
def network_members(network_name: str | None, no_probe: bool, data_dir: Path | None, as_json):
    """Members of a network with their online state (the only network if none is named)."""
    with client(data_dir) as api:
        answer = api.get(_members_path(network_name), probe="0" if no_probe else "1")
    if as_json:
        print_json(answer)
        return
    if answer["stale"]:
        click.echo(
            f"warning: the discovery server did not answer ({answer['stale']}); "
            "showing the last known members",
            err=True,
        )
    for m in answer["members"]:
        state = "you" if m["self"] else ("online" if m["online"] else "offline")
        latency = f"{m['latency_ms']:.1f} ms" if m["latency_ms"] is not None else ""
        click.echo(
            f"{m['peer_id']}  {m['display_name'] or '':16} {m['role']:8} {state:8} {latency}"
        )


@network.command("remove")
@click.argument("peer")
@click.option("--network", "network_name", help="The network (default: the only one).")
@data_dir_option
@json_option
def network_remove(peer: str, network_name: str | None, data_dir: Path | None, as_json: bool):
    """Remove a member (you must own the network)."""
    with client(data_dir) as api:
        removed = api.delete(f"{_members_path(network_name)}/{peer}")
    if as_json:
        print_json(removed)
        return
    click.echo(f"removed {removed['removed']} from {removed['network']}")


@network.command("leave")
@click.argument("network_name")
@data_dir_option
@json_option
def network_leave(network_name: str, data_dir: Path | None, as_json: bool) -> None:
    """Leave a network you joined."""
    with client(data_dir) as api:
        left = api.post(api_path("networks", network_name, "leave"))
    if as_json:
        print_json(left)
        return
    click.echo(f"left {left['name']}")


@network.command("close")
@click.argument("network_name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@data_dir_option
@json_option
def network_close(network_name: str, yes: bool, data_dir: Path | None, as_json: bool) -> None:
    """Close a network you own: every membership and invite of it ends."""
    if not yes and not as_json:
        click.confirm(f"close {network_name} for every member?", abort=True)
    with client(data_dir) as api:
        closed = api.delete(api_path("networks", network_name))
    if as_json:
        print_json(closed)
        return
    click.echo(f"closed {closed['name']}")


@network.command("refresh")
@data_dir_option
@json_option
def network_refresh(data_dir: Path | None, as_json: bool) -> None:
    """Register with the discovery servers and read the member lists now."""
    with client(data_dir) as api:
        report = api.post("/api/networks/refresh")
    if as_json:
        print_json(report)
        return
    click.echo(f"registered with {report['registered']} discovery server(s)")
    for failure in report["failed"]:
        click.echo(f"failed: {failure['discovery'][0]}: {failure['error']}", err=True)
    for name in report["removed"]:
        click.echo(f"no longer a member of {name}", err=True)


def _members_path(network_name: str | None) -> str:
    """The members route of a network; the daemon picks the only one when none is named."""
    if not network_name:
        return api_path("networks", "members")
    return api_path("networks", network_name, "members")


@click.group(invoke_without_command=True)
@click.option("--network", "network_name", help="The network (default: the only one).")
@click.option("--uses", default=1, show_default=True, type=click.IntRange(1, 1000))
@click.option("--expires", default="24h", show_default=True, help="e.g. 30m, 24h, 7d.")
@click.option(
    "--role",
    type=click.Choice(["member", "inviter"]),
    default="member",
    show_default=True,
    help="An inviter may invite others.",
)
@click.option("--qr/--no-qr", default=None, help="Also print a QR code (default: on a terminal).")
@data_dir_option
@json_option
@click.pass_context
def invite(ctx, network_name, uses, expires, role, qr, data_dir, as_json) -> None:
    """Print an invite token for someone to `join` (or `invite list` / `invite revoke ID`)."""
    if ctx.invoked_subcommand is not None:
        return
    body = {"uses": uses, "expires_s": parse_duration(expires), "role": role}
    if network_name:
        body["network"] = network_name
    with client(data_dir) as api:
        made = api.post("/api/invites", body)
    if as_json:
        print_json(made)
        return
    click.echo(made["token"])
    click.echo(
        f"invite {made['invite_id']} to {made['network']}: {made['uses']} use(s), "
        f"expires {_when(made['expires_ms'])}; they run: secondme-node join TOKEN",
        err=True,
    )
    if qr or (qr is None and sys.stdout.isatty()):
        import segno

        segno.make(made["token"], error="l").terminal(compact=True)


@invite.command("list")
@data_dir_option
@json_option
def invite_list(data_dir: Path | None, as_json: bool) -> None:
    """Invites this node issued."""
    with client(data_dir) as api:
        invites = api.get("/api/invites")
    if as_json:
        print_json(invites)
        return
    for i in invites:
        state = "revoked" if i["revoked_ms"] else ("expired" if i["expired"] else "valid")
        click.echo(
            f"{i['invite_id']}  {i['network']:16} {i['role']:8} {i['uses']:>4} use(s)  "
            f"{state:8} until {_when(i['expires_ms'])}"
        )


@invite.command("revoke")
@click.argument("invite_id")
@data_dir_option
@json_option
def invite_revoke(invite_id: str, data_dir: Path | None, as_json: bool) -> None:
    """Make an invite useless (a unique prefix of its id is enough)."""
    with client(data_dir) as api:
        revoked = api.delete(api_path("invites", invite_id))
    if as_json:
        print_json(revoked)
        return
    click.echo(f"revoked invite {revoked['invite_id']} to {revoked['network']}")


@click.command()
@click.argument("token")
@data_dir_option
@json_option
def join(token: str, data_dir: Path | None, as_json: bool) -> None:
    """Join a network with an invite token (it starts with smi1)."""
    with client(data_dir) as api:
        joined = api.post("/api/join", {"token": token})
    if as_json:
        print_json(joined)
        return
    click.echo(
        f"joined {joined['name']} as {joined['role']}: {joined['members']} member(s); "
        "see them with `secondme-node network members`"
    )


COMMANDS = (network, invite, join)
