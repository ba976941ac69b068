"""``chat``: talk to your Second Me, one message or interactively."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from secondme.node.cli.base import client, data_dir_option, json_option, print_json
from secondme.node.cli.client import NodeClient
from secondme.node.cli.memory import describe_hit


def _one_turn(
    api: NodeClient,
    message: str,
    session: str | None,
    role: str | None,
    as_json: bool,
    show_sources: bool,
) -> str | None:
    """Send one message and stream the answer; returns the session id."""
    body = {"message": message, "session_id": session, "role": role}
    answer: list[str] = []
    sources: list[dict] = []
    done: dict = {}
    grounding: dict = {}
    for event, data in api.stream("/api/chat", {k: v for k, v in body.items() if v}):
        if event == "sources":
            session, sources = data["session_id"], data["sources"]
        elif event == "grounding":
            grounding = data
        elif event == "token":
            answer.append(data["text"])
            if not as_json:
                click.echo(data["text"], nl=False)
                sys.stdout.flush()
        elif event == "done":
            done = data
        elif event == "error":
            raise click.ClickException(data["message"])
    if as_json:
        print_json(
            {
                "session_id": session,
                "answer": "".join(answer),
                "sources": sources,
                "grounding": grounding,
                **done,
            }
        )
        return session
    click.echo()
    if show_sources:
        _show_sources(sources, grounding)
    return session


def describe_source(hit: dict) -> str:
    """One line for a memory the answer was given: a peer's snippet, or one of the owner's."""
    if hit.get("layer") == "peer":
        return f"shared by {hit.get('peer') or hit.get('peer_id', '?')}: {hit.get('title', '')}"
    if hit.get("layer") == "l1" and hit.get("kind") == "fact":
        return f"fact: {hit['title']}" + (f" (from {hit['from']})" if hit.get("from") else "")
    return describe_hit(hit)


def _show_sources(sources: list[dict], grounding: dict) -> None:
    """The memories the answer rests on, with their dates; or, when the node did not remember,
    why, and what it was given."""
    used = grounding.get("used") or []
    if used:
        click.secho("Sources:", dim=True, err=True)
        for n in used:
            if 1 <= n <= len(sources):
                click.secho(f"[{n}] {describe_source(sources[n - 1])}", dim=True, err=True)
        return
    if grounding.get("abstained"):
        reason = grounding.get("reason") or "the memories do not say"
        click.secho(f"(no memory supports an answer: {reason})", dim=True, err=True)
    if sources:
        click.secho("Memories it looked at:", dim=True, err=True)
        for n, hit in enumerate(sources, start=1):
            click.secho(f"[{n}] {describe_source(hit)}", dim=True, err=True)


@click.command()
@click.argument("message", required=False)
@click.option("--session", "session_id", help="Continue this conversation (default: a new one).")
@click.option("--role", help="Answer in this role (see `role list`).")
@click.option(
    "--sources",
    "show_sources",
    is_flag=True,
    help="After the answer, list the memories it used, with their dates.",
)
@data_dir_option
@json_option
def chat(
    message: str | None,
    session_id: str | None,
    role: str | None,
    show_sources: bool,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Ask your Second Me something; with no MESSAGE, chat interactively (/exit ends)."""
    with client(data_dir) as api:
        if message:
            _one_turn(api, message, session_id, role, as_json, show_sources)
            return
        interactive = sys.stdin.isatty()
        if interactive:
            click.echo("Chatting with your Second Me. /exit or Ctrl-D ends.", err=True)
        while True:
            try:
                line = click.prompt("you", prompt_suffix="> ") if interactive else input()
            except (EOFError, click.Abort):
                break
            if line.strip() in ("/exit", "/quit"):
                break
            if line.strip():
                session_id = _one_turn(api, line, session_id, role, as_json, show_sources)
        if session_id and interactive:
            click.echo(f"(session {session_id}; continue with --session {session_id})", err=True)
