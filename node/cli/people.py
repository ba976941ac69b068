"""``me`` and ``role``: who your Second Me is, and the personas it can take on."""

from __future__ import annotations

from pathlib import Path

import click

from secondme.node.cli.base import client, data_dir_option, json_option, print_json
from secondme.node.cli.client import api_path
from secondme.node.people.owner import OWNER_FIELDS
from secondme.node.people.roles import MEMORY_LAYERS


@click.group()
def me() -> None:
    """Show or change your profile (what every answer is built on)."""


@me.command("show")
@data_dir_option
@json_option
def me_show(data_dir: Path | None, as_json: bool) -> None:
    """Show your profile; public fields are marked."""
    with client(data_dir) as api:
        profile = api.get("/api/me")
    if as_json:
        print_json(profile)
        return
    for name, value in profile["fields"].items():
        mark = " (public)" if name in profile["public"] else ""
        click.echo(f"{name:12}{value or '-'}{mark}")


@me.command("set")
@click.option("--name", "name_", help=OWNER_FIELDS["name"])
@click.option("--description", help=OWNER_FIELDS["description"])
@click.option("--style", help=OWNER_FIELDS["style"])
@click.option("--values", help=OWNER_FIELDS["values"])
@click.option(
    "--public",
    multiple=True,
    type=click.Choice(list(OWNER_FIELDS)),
    help="Let other nodes see this field (repeatable).",
)
@click.option(
    "--private",
    multiple=True,
    type=click.Choice(list(OWNER_FIELDS)),
    help="Hide this field from other nodes (repeatable).",
)
@data_dir_option
@json_option
def me_set(
    name_: str | None,
    description: str | None,
    style: str | None,
    values: str | None,
    public: tuple[str, ...],
    private: tuple[str, ...],
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Change profile fields and which of them are public."""
    fields = {
        k: v
        for k, v in {
            "name": name_,
            "description": description,
            "style": style,
            "values": values,
        }.items()
        if v is not None
    }
    visibility = {**{f: True for f in public}, **{f: False for f in private}}
    if not fields and not visibility:
        raise click.UsageError("nothing to change; see `secondme-node me set --help`")
    with client(data_dir) as api:
        profile = api.patch("/api/me", {"fields": fields, "public": visibility})
    if as_json:
        print_json(profile)
    else:
        click.echo("profile updated")


@click.group()
def role() -> None:
    """Personas your Second Me can answer as (`chat --role NAME`)."""


@role.command("add")
@click.argument("name")
@click.option(
    "--prompt", "system_prompt", required=True, help="How to behave in this role (a system prompt)."
)
@click.option("--description", default="", help="What the role is for.")
@click.option(
    "--layers",
    default="l0,l1",
    show_default=True,
    help=f"Memory layers the role may use, comma separated ({', '.join(MEMORY_LAYERS)}).",
)
@click.option("--replace", is_flag=True, help="Replace a role of the same name.")
@data_dir_option
@json_option
def role_add(
    name: str,
    system_prompt: str,
    description: str,
    layers: str,
    replace: bool,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Create a role."""
    body = {
        "name": name,
        "system_prompt": system_prompt,
        "description": description,
        "layers": [x.strip() for x in layers.split(",") if x.strip()],
        "replace": replace,
    }
    with client(data_dir) as api:
        created = api.post("/api/roles", body)
    if as_json:
        print_json(created)
    else:
        click.echo(f"role {created['name']} saved")


@role.command("list")
@data_dir_option
@json_option
def role_list(data_dir: Path | None, as_json: bool) -> None:
    """List roles."""
    with client(data_dir) as api:
        roles = api.get("/api/roles")
    if as_json:
        print_json(roles)
        return
    if not roles:
        click.echo("no roles yet; add one with `secondme-node role add`")
    for r in roles:
        click.echo(f"{r['name']:20} [{','.join(r['layers'])}] {r['description']}")


@role.command("rm")
@click.argument("name")
@data_dir_option
def role_rm(name: str, data_dir: Path | None) -> None:
    """Remove a role."""
    with client(data_dir) as api:
        api.delete(api_path("roles", name))
    click.echo(f"role {name} removed")
