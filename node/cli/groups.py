"""``group``: discussions between several people's Second Mes, each speaking from its own
memory on its own node."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from secondme.node.cli.access import describe_scope, scope_body, scope_options
from secondme.node.cli.base import client, data_dir_option, json_option, print_json
from secondme.node.cli.client import api_path
from secondme.node.people.naming import check_peer_ref


@click.group()
def group() -> None:
    """Group discussions: create, accept, discuss, watch, say, transcript, summary, moderate."""


def _scope_from(tags, topics, layers, profile, profile_only, all_memory) -> dict:
    if all_memory and not layers:
        layers = ("l0,l1",)
    return scope_body(tags, topics, layers, profile, profile_only)


def _group_scope_options(func):
    func = click.option(
        "--all-memory",
        is_flag=True,
        help="The group may draw on all of your memory (else: only what the other options "
        "allow; with none, your public profile and no memory).",
    )(func)
    return scope_options(func)


def _share_relevance_option(func):
    return click.option(
        "--share-relevance",
        is_flag=True,
        default=None,
        help="Tell the moderator (and the transcript) how relevant your memory is to each "
        "message, in five coarse levels, so it can choose who speaks; each answer tells it "
        "a little about your memory. Default: the groups.share_relevance setting (off).",
    )(func)


def _print_group(g: dict) -> None:
    scope = describe_scope(g["scope"]) if g["scope"] else "not accepted yet"
    members = ", ".join(f"{m['name']} ({m['status']})" for m in g["members"])
    click.echo(
        f"{g['name']} [{g['group_id'][:12]}] {g['role']} {g['status']}, discussion "
        f"{g['state']}, {g['messages']} message(s), key epoch {g['epoch']}"
    )
    if g["topic"]:
        click.echo(f"  topic: {g['topic']}")
    click.echo(f"  moderator: {g['moderator_name']}; members: {members or '-'}")
    click.echo(f"  your memory it may draw on: {scope}")
    shared = "shared (coarsely)" if g.get("share_relevance") else "not shared"
    click.echo(f"  how relevant your memory is to what is said: {shared}")
    if g.get("invitation_expires_ms"):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(g["invitation_expires_ms"] / 1000))
        click.echo(f"  the invitation waits for your answer until {when} (group accept)")
    for member in g["members"]:
        if member.get("delivery") not in (None, "up to date"):
            click.echo(f"  {member['name']} {_delivery(member)}")


def _delivery(member: dict) -> str:
    """Why a member does not hold the whole transcript yet, as the moderator sees it."""
    text = f"is {member['behind']} message(s) behind"
    if member["delivery"] == "away":
        text += ": away (it catches up when it is back)"
    elif member["delivery"] == "retrying":
        when = time.strftime("%H:%M:%S", time.localtime(member["next_try_ms"] / 1000))
        text += f", next try at {when} ({member['failures']} failed: {member['last_error']})"
    if member.get("end_owed"):
        text += f"; not yet told the group is {member['end_owed']}"
    return text


@group.command("create")
@click.argument("name")
@click.option("--members", required=True, help="The other members: peer names or IDs, commas.")
@click.option("--topic", default="", help="What the group is about (members' models see it).")
@_group_scope_options
@_share_relevance_option
@data_dir_option
@json_option
def group_create(name, members, topic, tags, topics, layers, profile, profile_only, all_memory,
                 share_relevance, data_dir: Path | None, as_json: bool) -> None:  # fmt: skip
    """Create a group moderated by this node and invite each member's node.

    A member's node joins at once if its owner gave you a `group/join` grant; otherwise its
    owner runs `group accept`."""
    body = {
        "name": name,
        "members": [m.strip() for m in members.split(",") if m.strip()],
        "topic": topic,
        "share_relevance": share_relevance,
        **_scope_from(tags, topics, layers, profile, profile_only, all_memory),
    }
    with client(data_dir) as api:
        created = api.post("/api/groups", body)
    if as_json:
        print_json(created)
        return
    _print_group(created)
    for peer, outcome in created["invitations"].items():
        click.echo(f"  invited {peer[:16]}…: {outcome}")


@group.command("list")
@data_dir_option
@json_option
def group_list(data_dir: Path | None, as_json: bool) -> None:
    """Groups this node moderates or is in, and invitations waiting for your answer."""
    with client(data_dir) as api:
        groups = api.get("/api/groups")
    if as_json:
        print_json(groups)
        return
    if not groups:
        click.echo("no groups yet: group create NAME --members PEER,PEER")
    for g in groups:
        _print_group(g)


@group.command("accept")
@click.argument("group_name")
@_group_scope_options
@_share_relevance_option
@click.option("--decline", is_flag=True, help="Refuse the invitation instead.")
@data_dir_option
@json_option
def group_accept(group_name, tags, topics, layers, profile, profile_only, all_memory,
                 share_relevance, decline, data_dir: Path | None,
                 as_json: bool) -> None:  # fmt: skip
    """Join a group you were invited to, saying what of your memory it may draw on."""
    body = {
        "decline": decline,
        "share_relevance": share_relevance,
        **_scope_from(tags, topics, layers, profile, profile_only, all_memory),
    }
    _post_and_show(data_dir, as_json, api_path("groups", group_name, "accept"), body)


@group.command("scope")
@click.argument("group_name")
@_group_scope_options
@data_dir_option
@json_option
def group_scope(group_name, tags, topics, layers, profile, profile_only, all_memory,
                data_dir: Path | None, as_json: bool) -> None:  # fmt: skip
    """Change what of your memory a group may draw on (from the next turn)."""
    body = _scope_from(tags, topics, layers, profile, profile_only, all_memory)
    _post_and_show(data_dir, as_json, api_path("groups", group_name, "scope"), body)


@group.command("relevance")
@click.argument("group_name")
@click.argument("share", type=click.Choice(["on", "off"]))
@data_dir_option
@json_option
def group_relevance(group_name, share, data_dir: Path | None, as_json: bool) -> None:
    """Turn on or off telling GROUP how relevant your memory is to what is said.

    On, the moderator learns for each message one of five levels of how near your memory (within
    the group's scope) is to it, and picks speakers by it; off, it learns nothing of it."""
    path = api_path("groups", group_name, "relevance")
    _post_and_show(data_dir, as_json, path, {"share": share == "on"})


def _post_and_show(data_dir: Path | None, as_json: bool, path: str, body: dict) -> None:
    """POST ``body`` to a group's ``path`` and print the group it answers with."""
    with client(data_dir) as api:
        answer = api.post(path, body)
    print_json(answer) if as_json else _print_group(answer)


def _print_message(m: dict) -> None:
    kind, who, names = m["kind"], m.get("from_name") or m["from"][:12], m.get("names", {})
    if kind == "question":
        limits = f"{m.get('rounds')} round(s), until {m.get('until')}"
        if m.get("budget_s"):
            limits += f", at most {m['budget_s']} s"
        click.echo(f"[{m['seq']}] {who} asks: {m['text']}  ({limits})")
    elif kind in ("turn", "owner"):
        marker = " (in person)" if kind == "owner" else ""
        click.echo(f"[{m['seq']}] {who}{marker}: {m['text']}")
        click.echo(f"      why {who}: {m.get('reason', '-')}")
    elif kind == "skip" or kind == "membership":
        click.echo(f"[{m['seq']}] {names.get(m.get('about'), '?')} {m.get('reason', '')}")
    elif kind == "summary":
        click.echo(f"[{m['seq']}] summary: {m['text']}")
        for peer, text in (m.get("positions") or {}).items():
            click.echo(f"      {names.get(peer, peer[:12])}: {text}")
    elif kind == "end":
        click.echo(f"[{m['seq']}] ended: {m.get('reason', '')}")
    elif kind == "moderator":
        new = names.get(m.get("about"), "?")
        click.echo(f"[{m['seq']}] {new} moderates from here on ({m.get('reason', '')})")


def _watch(api, group_name: str, after: int, follow: bool, as_json: bool) -> None:
    for event, data in api.stream(
        api_path("groups", group_name, "watch"), {"after": after, "follow": follow}
    ):
        if event == "error":
            raise click.ClickException(data.get("message", "the stream failed"))
        if event != "message":  # keep-alives
            continue
        if as_json:  # one object per line, as each message comes
            click.echo(json.dumps(data, ensure_ascii=False))
        else:
            _print_message(data)


@group.command("discuss")
@click.argument("group_name")
@click.argument("question", required=False)
@click.option(
    "--rounds",
    type=click.IntRange(1, 50),
    help="Rounds, each member about once a round (default: groups.default_rounds, 3).",
)
@click.option(
    "--until",
    type=click.Choice(["rounds", "consensus"]),
    default="rounds",
    show_default=True,
    help="Stop at the round limit, or as soon as the members agree.",
)
@click.option(
    "--budget", "budget_s", type=click.IntRange(min=1), help="Stop after this many seconds."
)
@click.option("--resume", is_flag=True, help="Go on with the interrupted discussion.")
@click.option("--detach", is_flag=True, help="Start it and return; follow with `group watch`.")
@data_dir_option
@json_option
def group_discuss(group_name, question, rounds, until, budget_s, resume, detach,
                  data_dir: Path | None, as_json: bool) -> None:  # fmt: skip
    """Run a discussion of QUESTION in a group you moderate, printing it as it goes."""
    if not question and not resume:
        raise click.UsageError("give a QUESTION, or --resume the interrupted discussion")
    body = {"question": question, "rounds": rounds, "until": until, "budget_s": budget_s,
            "resume": resume}  # fmt: skip
    with client(data_dir) as api:
        started = api.post(api_path("groups", group_name, "discuss"), body)
        if detach:
            if as_json:
                print_json(started)
            else:
                click.echo(f"started; follow it: secondme-node group watch {group_name}")
            return
        _watch(api, started["group_id"], started["after"], False, as_json)


@group.command("watch")
@click.argument("group_name")
@click.option("--after", type=click.IntRange(min=0), default=0, help="Skip messages up to this.")
@click.option("--follow", is_flag=True, help="Keep watching after the discussion ends.")
@data_dir_option
@json_option
def group_watch(group_name, after, follow, data_dir: Path | None, as_json: bool) -> None:
    """Print the group's messages as they come: speaker, text, and why that speaker."""
    with client(data_dir) as api:
        _watch(api, group_name, after, follow, as_json)


@group.command("stop")
@click.argument("group_name")
@data_dir_option
@json_option
def group_stop(group_name, data_dir: Path | None, as_json: bool) -> None:
    """End the running discussion after the current turn (with its summary)."""
    with client(data_dir) as api:
        answer = api.post(api_path("groups", group_name, "stop"))
    print_json(answer) if as_json else click.echo("stopping after the current turn")


@group.command("say")
@click.argument("group_name")
@click.argument("text")
@data_dir_option
@json_option
def group_say(group_name, text, data_dir: Path | None, as_json: bool) -> None:
    """Speak in the group yourself: you get the next turn."""
    with client(data_dir) as api:
        answer = api.post(api_path("groups", group_name, "say"), {"text": text})
    print_json(answer) if as_json else click.echo("said (it is yours at the next turn)")


@group.command("transcript")
@click.argument("group_name")
@data_dir_option
@json_option
def group_transcript(group_name, data_dir: Path | None, as_json: bool) -> None:
    """The whole transcript, checked again (signatures, keys, hash chain) as it is read."""
    with client(data_dir) as api:
        transcript = api.get(api_path("groups", group_name, "transcript"))
    if as_json:
        print_json(transcript)
        return
    for message in transcript["messages"]:
        _print_message(message)
    click.echo(f"head {transcript['head']} ({len(transcript['messages'])} message(s))")


@group.command("summary")
@click.argument("group_name")
@data_dir_option
@json_option
def group_summary(group_name, data_dir: Path | None, as_json: bool) -> None:
    """The last discussion's summary: each member's position and what was agreed."""
    with client(data_dir) as api:
        summary = api.get(api_path("groups", group_name, "summary"))
    if as_json:
        print_json(summary)
        return
    click.echo(f"agreed: {summary['agreed']}")
    for p in summary["positions"]:
        click.echo(f"  {p['name']}: {p['position']}")
    if summary["ended"]:
        click.echo(f"ended: {summary['ended']}")


@group.command("leave")
@click.argument("group_name")
@data_dir_option
@json_option
def group_leave(group_name, data_dir: Path | None, as_json: bool) -> None:
    """Leave a group (its key changes, so you read nothing said after)."""
    with client(data_dir) as api:
        answer = api.post(api_path("groups", group_name, "leave"))
    print_json(answer) if as_json else click.echo(f"left {answer['name']}")


@group.command("remove")
@click.argument("group_name")
@click.argument("peer")
@data_dir_option
@json_option
def group_remove(group_name, peer, data_dir: Path | None, as_json: bool) -> None:
    """Remove PEER from a group you moderate; the group key rotates without it."""
    with client(data_dir) as api:
        answer = api.delete(api_path("groups", group_name, "members", check_peer_ref(peer)))
    if as_json:
        print_json(answer)
        return
    _print_group(answer)
    if not answer.get("member_told"):
        click.echo("  the member's node did not answer yet: it is told when back (group list)")


@group.command("moderate")
@click.argument("group_name")
@click.option("--to", "to", metavar="PEER", help="Hand moderation to this active member.")
@click.option(
    "--take",
    is_flag=True,
    help="Continue the group as its moderator: only when the moderator's node is gone for "
    "good (it is refused while that node answers). Every member is told, and the "
    "transcript records it.",
)
@click.option("--reason", help="With --take: why, as the transcript will say it.")
@click.option("--yes", is_flag=True, help="With --take: do not ask for confirmation.")
@data_dir_option
@json_option
def group_moderate(group_name, to, take, reason, yes, data_dir: Path | None,
                   as_json: bool) -> None:  # fmt: skip
    """Hand moderation of a group you moderate to another member (--to PEER), or take over a
    group whose moderator's node is gone for good (--take).

    No discussion may be running. The new moderator runs discussions from then on, and the
    members serve only its requests; the former moderator stays a member."""
    if (to is None) == (not take):
        raise click.UsageError("give either --to PEER or --take")
    if reason is not None and not take:
        raise click.UsageError("--reason goes with --take")
    body: dict = {"take": True, "reason": reason} if take else {"to": check_peer_ref(to)}
    if take and not yes:
        click.confirm(
            f"Take over moderation of {group_name}? Do this only if its moderator's node is gone"
            " for good: the members will follow this node, and a member that holds messages"
            " this node lacks will refuse it",
            abort=True,
        )
    with client(data_dir) as api:
        answer = api.post(api_path("groups", group_name, "moderate"), body)
    if as_json:
        print_json(answer)
        return
    if take:
        click.echo(
            f"you moderate {answer['name']} now; each member is told (group list: who is behind)"
        )
    else:
        click.echo(f"{answer['moderator_name']} moderates {answer['name']} now; you are a member")
    _print_group(answer)


@group.command("close")
@click.argument("group_name")
@data_dir_option
@json_option
def group_close(group_name, data_dir: Path | None, as_json: bool) -> None:
    """Close a group you moderate; every member is told (now, or when its node is back)."""
    with client(data_dir) as api:
        answer = api.post(api_path("groups", group_name, "close"))
    if as_json:
        print_json(answer)
        return
    click.echo(f"closed {answer['name']}")
    if answer.get("members_to_tell"):
        click.echo(
            f"  {answer['members_to_tell']} member(s) did not answer yet: each is told when its"
            " node is back (group list)"
        )
