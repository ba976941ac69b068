"""``grant``, ``grants``, ``delegate``, ``revoke``, ``ask``, ``context``, ``contexts``,
``profile``, ``audit`` and ``policy``: what other nodes may use here, and using theirs."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import click

from secondme.node.cli.base import client, data_dir_option, json_option, print_json
from secondme.node.cli.client import ApiError, api_path, peer_path
from secondme.node.core.config import DEFAULT_POLICIES
from secondme.protocol.grants import ABILITIES, MEMORY_LAYERS

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)")
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``24h``, ``7d``, ``2w`` → seconds."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration like 30m, 24h, 7d or 2w")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _split(values: tuple[str, ...]) -> list[str]:
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


def describe_scope(scope: dict, topic_names: list[str] | None = None) -> str:
    """A scope in a few words; ``topic_names`` (from the API) stand for its topic labels."""
    if scope["profile_only"]:
        return "profile only"
    parts = ["+".join(scope["layers"]) or "no memory"]
    if scope["tags"]:
        parts.append("tags " + ",".join(scope["tags"]))
    if scope["topics"]:
        # A topic label is "<name>#<topic id>"; people read the name.
        names = topic_names or [t.rpartition("#")[0] or t for t in scope["topics"]]
        parts.append("topics " + ",".join(names))
    if scope["profile"]:
        parts.append("profile")
    return "; ".join(parts)


def scope_options(func):
    for option in reversed(
        [
            click.option(
                "--tags", multiple=True, help="Only documents with one of these tags (comma list)."
            ),
            click.option(
                "--topics",
                multiple=True,
                help="Only memory in these L1 topics (comma list of names from `memory topics`;"
                " kept by topic id, so a topic renamed later stays in, and another that takes"
                " its name stays out).",
            ),
            click.option(
                "--layers",
                multiple=True,
                help=f"Memory layers ({', '.join(MEMORY_LAYERS)}; default both).",
            ),
            click.option(
                "--profile",
                is_flag=True,
                help="Also share a profile made for this scope: your public fields and the"
                " topics and sentences within the scope (never your private fields).",
            ),
            click.option(
                "--profile-only",
                is_flag=True,
                help="Share a profile of your public fields only: no memory, so no topics.",
            ),
        ]
    ):
        func = option(func)
    return func


def scope_body(tags, topics, layers, profile, profile_only) -> dict:
    return {
        "tags": _split(tags),
        "topics": _split(topics),
        "layers": _split(layers),
        "profile": profile,
        "profile_only": profile_only,
    }


def _print_grant(grant: dict) -> None:
    click.echo(
        f"grant {grant['id']} to {grant['peer_id']}: {', '.join(grant['abilities'])} on "
        f"{describe_scope(grant['scope'], grant.get('topic_names'))}, "
        f"until {_when(grant['expires_ms'])}"
    )
    if grant.get("delivered_ms"):
        click.echo("sent to the peer")
    elif grant.get("delivery_error"):
        click.echo(
            f"kept here, but not delivered ({grant['delivery_error']}); the peer can still use "
            "it once it has the token"
        )


@click.command()
@click.argument("peer")
@click.option(
    "--ability",
    "abilities",
    multiple=True,
    required=True,
    help=f"What the peer may do: {', '.join(ABILITIES)} (repeatable or comma list).",
)
@scope_options
@click.option("--expires", default="7d", show_default=True, help="How long: 30m, 24h, 7d, 2w.")
@click.option("--uses", type=click.IntRange(min=1), help="At most this many requests in all.")
@click.option("--rate", help="At most this many requests per window, e.g. 10/min.")
@click.option("--delegable", is_flag=True, help="The peer may hand (narrowed) copies on.")
@data_dir_option
@json_option
def grant(
    peer: str,
    abilities: tuple[str, ...],
    tags: tuple[str, ...],
    topics: tuple[str, ...],
    layers: tuple[str, ...],
    profile: bool,
    profile_only: bool,
    expires: str,
    uses: int | None,
    rate: str | None,
    delegable: bool,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Let PEER (a name or peer ID from `peers`) use this node within a scope."""
    body = {
        "peer": peer,
        "abilities": _split(abilities),
        **scope_body(tags, topics, layers, profile, profile_only),
        "expires_s": parse_duration(expires),
        "uses": uses,
        "rate": rate,
        "delegable": delegable,
    }
    with client(data_dir) as api:
        created = api.post("/api/grants", body)
    if as_json:
        print_json(created)
    else:
        _print_grant(created)


@click.command()
@click.argument("grant_id")
@click.argument("peer")
@click.option("--ability", "abilities", multiple=True, help="Keep only these abilities.")
@scope_options
@click.option("--expires", help="End sooner than the grant does: 30m, 24h, 7d.")
@data_dir_option
@json_option
def delegate(
    grant_id: str,
    peer: str,
    abilities: tuple[str, ...],
    tags: tuple[str, ...],
    topics: tuple[str, ...],
    layers: tuple[str, ...],
    profile: bool,
    profile_only: bool,
    expires: str | None,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Hand a delegable grant you received on to PEER, narrowed if you say so."""
    body = {
        "peer": peer,
        "abilities": _split(abilities),
        **scope_body(tags, topics, layers, profile, profile_only),
        "expires_s": parse_duration(expires) if expires else None,
    }
    with client(data_dir) as api:
        created = api.post(api_path("grants", grant_id, "delegate"), body)
    if as_json:
        print_json(created)
    else:
        _print_grant(created)


@click.command()
@data_dir_option
@json_option
def grants(data_dir: Path | None, as_json: bool) -> None:
    """List the grants you gave and the grants peers gave you."""
    with client(data_dir) as api:
        listed = api.get("/api/grants")
    if as_json:
        print_json(listed)
        return
    for direction, label in (("given", "to"), ("received", "from")):
        click.echo(f"{direction}:")
        if not listed[direction]:
            click.echo("  none")
        for g in listed[direction]:
            uses = f" {g['uses']}/{g['max_uses'] or '∞'} uses" if direction == "given" else ""
            click.echo(
                f"  {g['id']}  {g['state']:8} {label} {g['peer_id']}  {','.join(g['abilities'])}"
                f" on {describe_scope(g['scope'], g.get('topic_names'))};"
                f" until {_when(g['expires_ms'])}{uses}"
            )


@click.command()
@click.argument("grant_id")
@data_dir_option
@json_option
def revoke(grant_id: str, data_dir: Path | None, as_json: bool) -> None:
    """End a grant now (and every copy handed on from it); GRANT_ID from `grants`."""
    with client(data_dir) as api:
        result = api.delete(api_path("grants", grant_id))
    if as_json:
        print_json(result)
        return
    told = f"; told {', '.join(result['notified'])}" if result["notified"] else ""
    click.echo(f"grant {result['revoked']} revoked{told}")


def _fail_json(exc: ApiError) -> None:
    print_json(exc.to_json())
    sys.exit(1)


@click.command()
@click.argument("peer")
@click.argument("question")
@click.option("--grant", "grant_id", help="Use this grant (default: the newest usable one).")
@data_dir_option
@json_option
def ask(peer: str, question: str, grant_id: str | None, data_dir: Path | None, as_json: bool):
    """Ask PEER's node a QUESTION; its answer streams in as the peer's model writes it."""
    body = {"question": question, "grant": grant_id}
    if as_json:
        try:
            with client(data_dir) as api:
                print_json(api.post(peer_path(peer, "ask"), body))
        except ApiError as exc:
            _fail_json(exc)
        return
    result = None
    with client(data_dir) as api:
        for event, data in api.stream(peer_path(peer, "ask"), {**body, "stream": True}):
            if event == "token":
                click.echo(data["text"], nl=False)
            elif event == "done":
                result = data
            elif event == "error":
                click.echo()
                raise click.ClickException(data["message"])
    click.echo()
    if result is not None:
        via = f"grant {result['grant_id']}" if result["grant_id"] else "no grant"
        click.echo(
            f"-- {result['peer_id']}, {via}, {result['sources']} memories, "
            f"{result['elapsed_ms'] / 1000:.1f} s",
            err=True,
        )


@click.command()
@click.argument("peer")
@click.option("--topic", required=True, help="What the context is about.")
@click.option("-k", "k", type=click.IntRange(1, 32), help="At most this many snippets.")
@click.option("--grant", "grant_id", help="Use this grant (default: the newest usable one).")
@data_dir_option
@json_option
def context(
    peer: str,
    topic: str,
    k: int | None,
    grant_id: str | None,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Fetch what PEER shares on a topic and keep it for your own chat."""
    try:
        with client(data_dir) as api:
            bundle = api.post(
                peer_path(peer, "context"), {"topic": topic, "k": k, "grant": grant_id}
            )
    except ApiError as exc:
        if as_json:
            _fail_json(exc)
        raise
    if as_json:
        print_json(bundle)
        return
    click.echo(f"kept {len(bundle['items'])} snippets from {peer} on {topic!r} ({bundle['id']})")
    for item in bundle["items"]:
        click.echo(f"  [{item['layer']}] {item['title']}: {' '.join(item['text'].split())[:100]}")


@click.group(invoke_without_command=True)
@data_dir_option
@json_option
@click.pass_context
def contexts(ctx: click.Context, data_dir: Path | None, as_json: bool) -> None:
    """List the context bundles peers shared with you (or `contexts forget ID`)."""
    if ctx.invoked_subcommand is not None:
        return
    with client(data_dir) as api:
        kept = api.get("/api/context")
    if as_json:
        print_json(kept)
        return
    if not kept:
        click.echo("none yet; fetch one with `secondme-node context PEER --topic TOPIC`")
    for bundle in kept:
        click.echo(
            f"{bundle['id']}  {bundle['peer_id']}  {bundle['query']!r}: "
            f"{len(bundle['items'])} snippets, {_when(bundle['received_ms'])}"
        )


@contexts.command("forget")
@click.argument("bundle_id")
@data_dir_option
def contexts_forget(bundle_id: str, data_dir: Path | None) -> None:
    """Drop a kept context bundle."""
    with client(data_dir) as api:
        api.delete(api_path("context", bundle_id))
    click.echo(f"context {bundle_id} forgotten")


@click.command("profile")
@click.argument("peer")
@data_dir_option
@json_option
def peer_profile(peer: str, data_dir: Path | None, as_json: bool) -> None:
    """Read PEER's profile: public fields, and its biography if its grant shares it."""
    with client(data_dir) as api:
        profile = api.get(peer_path(peer, "profile"))
    if as_json:
        print_json(profile)
        return
    click.echo(profile["display_name"] or profile["peer_id"])
    for name, value in profile["fields"].items():
        click.echo(f"{name:12}{value}")
    if profile["biography"]:
        click.echo(f"\n{profile['biography']}")


@click.command()
@click.option("--peer", help="Only this peer (name or peer ID).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@data_dir_option
@json_option
def audit(peer: str | None, limit: int, data_dir: Path | None, as_json: bool) -> None:
    """Who asked what: every request peers made, the grant, the decision, what was shared."""
    params = {"limit": str(limit)} | ({"peer": peer} if peer else {})
    with client(data_dir) as api:
        entries = api.get("/api/audit", **params)
    if as_json:
        print_json(entries)
        return
    if not entries:
        click.echo("no requests from peers yet")
    for e in entries:
        outcome = "allowed" if e["decision"] == "allowed" else f"REFUSED {e['code']}"
        grant_text = f" grant {e['grant_id']}" if e["grant_id"] else ""
        shared = f", shared {len(e['shared'])}" if e["shared"] else ""
        model = f", answered by {e['model']}" if e.get("model") else ""
        repeats = f" ×{e['repeats']} until {_when(e['last_ms'])}" if e.get("repeats", 1) > 1 else ""
        click.echo(
            f"{_when(e['at_ms'])}  {e['peer_id'][-12:]}  {e['request']:14} {outcome}"
            f"{repeats}{grant_text}{shared}{model}"
        )


@click.command()
@click.argument("default_policy", required=False, type=click.Choice(DEFAULT_POLICIES))
@data_dir_option
def policy(default_policy: str | None, data_dir: Path | None) -> None:
    """Show or set what peers without a grant get: refuse, or the public profile."""
    with client(data_dir) as api:
        if default_policy is None:
            current = api.get("/api/access/policy")
        else:
            current = api.put("/api/access/policy", {"default_policy": default_policy})
    click.echo(f"peers without a grant: {current['default_policy']}")


COMMANDS = (grant, grants, delegate, revoke, ask, context, contexts, peer_profile, audit, policy)
