"""``ingest``, ``search`` and ``memory``: putting files into memory and finding them again."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import click
from tqdm import tqdm

from secondme.node.cli.base import client, data_dir_option, json_option, print_json
from secondme.node.cli.client import api_path
from secondme.node.core.config import VECTOR_BACKENDS
from secondme.node.core.errors import NodeError
from secondme.node.memory.recording import clock

TELEGRAM_EXPORT = "result.json"
"""What Telegram Desktop's "Export chat history" writes at the top of its folder (as JSON)."""


def collect_files(
    paths: tuple[Path, ...], supported: frozenset[str]
) -> tuple[list[Path], Counter[str], list[str]]:
    """Files named, plus files of ``supported`` suffixes under folders named (hidden skipped),
    and a line for each folder recognised as an export: a Telegram export folder gives only its
    ``result.json`` (the media beside it are the app's copies), an Obsidian vault its notes."""
    files: list[Path] = []
    skipped: Counter[str] = Counter()
    recognised: list[str] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        if (path / TELEGRAM_EXPORT).is_file():
            files.append(path / TELEGRAM_EXPORT)
            recognised.append(f"{path}: Telegram export folder (reading {TELEGRAM_EXPORT})")
            continue
        before = len(files)
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.startswith("."):
                    continue
                suffix = Path(name).suffix.lower()
                if suffix in supported:
                    files.append(Path(root) / name)
                else:
                    skipped[suffix or "(none)"] += 1
        if (path / ".obsidian").is_dir():
            notes = sum(1 for f in files[before:] if f.suffix.lower() in (".md", ".markdown"))
            recognised.append(f"{path}: Obsidian vault, {notes} notes")
    return files, skipped, recognised


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--tag", "tags", multiple=True, help="Label what is ingested (repeatable).")
@click.option(
    "--me",
    metavar="NAME",
    help="Your name as a chat export shows it (else your profile's name is looked for).",
)
@data_dir_option
@json_option
def ingest(
    paths: tuple[Path, ...],
    tags: tuple[str, ...],
    me: str | None,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Add files or folders to memory: text, Markdown, PDF, DOCX, HTML, CSV, JSON, chat
    exports of WhatsApp (.txt or .zip), Telegram (result.json or its folder) and ChatGPT
    (conversations.json), mailboxes (.mbox), Obsidian vaults, photos (JPEG, PNG, HEIC) and
    voice notes (mp3, m4a, ogg/opus, wav).

    Exports are recognised by their content, and the command says what each held. A newer
    export of the same chat adds only its new messages. What you wrote in a chat is your own
    words: you are found among the speakers by your profile's name, or by --me.

    Each memory gets a time: a chat message's time, else a date written in it, else the
    document's own date, else the file's modification time (sent with the file).

    Unchanged files are skipped; changed files replace their old version. A file that fails
    is reported and the rest go on.
    """
    results: list[dict] = []
    with client(data_dir) as api:
        memory_info = api.get("/api/status")["memory"]  # the daemon says what it can read
        limit_mb = memory_info["max_file_mb"]
        files, skipped, recognised = collect_files(paths, frozenset(memory_info["formats"]))
        if not as_json:
            for line in recognised:
                click.echo(line)
        sizes = {}
        mtimes: dict[Path, float | None] = {}
        for f in files:
            try:
                stat = f.stat()
                sizes[f], mtimes[f] = stat.st_size, stat.st_mtime
            except OSError:
                sizes[f], mtimes[f] = 0, None
        bar = tqdm(
            total=sum(sizes.values()),
            unit="B",
            unit_scale=True,
            desc="ingest",
            disable=as_json or None,
            leave=False,
        )
        for file in files:
            shown = str(file.resolve())
            try:
                if sizes[file] > limit_mb * 1024 * 1024:
                    raise NodeError(
                        f"{shown}: {sizes[file] / 1048576:.1f} MB is over the limit of "
                        f"{limit_mb} MB (memory.max_file_mb)"
                    )
                try:
                    data = file.read_bytes()
                except OSError as exc:
                    raise NodeError(f"{shown}: cannot read: {exc.strerror}") from None
                result = api.ingest(shown, data, list(tags), mtimes[file], me)
                if result.get("found") and not as_json:
                    with bar.external_write_mode():
                        click.echo(found_line(shown, result))
                if result["status"] == "queued" and not as_json:
                    with bar.external_write_mode():
                        click.echo(f"{shown}: {result['message']}")
                noted = result.get("message") and result["status"] in ("added", "replaced")
                if noted and not result.get("found") and not as_json:
                    with bar.external_write_mode():
                        click.echo(f"note: {shown}: {result['message']}", err=True)
            except NodeError as exc:
                message = exc.message if shown in exc.message else f"{shown}: {exc.message}"
                result = {"path": shown, "status": "failed", "message": message}
                if not as_json:
                    with bar.external_write_mode():
                        click.echo(click.style("error: ", fg="red") + message, err=True)
            results.append(result)
            bar.update(sizes[file])
        bar.close()
    counts = Counter(r["status"] for r in results)
    if as_json:
        print_json({"results": results, "skipped_unsupported": dict(skipped)})
    else:
        order = ("added", "updated", "replaced", "queued", "unchanged", "duplicate", "failed")
        summary = ", ".join(f"{counts[s]} {s}" for s in order if counts[s])
        changed = ("added", "updated", "replaced")
        chunks = sum(r.get("chunks", 0) for r in results if r["status"] in changed)
        click.echo(f"{summary or 'nothing to ingest'}; {chunks} new chunks")
        if skipped:
            kinds = ", ".join(f"{n} {s}" for s, n in skipped.most_common())
            click.echo(f"skipped files of unsupported types: {kinds}")
    if counts["failed"]:
        raise SystemExit(1)


def found_line(shown: str, result: dict) -> str:
    """What an import found, what was new, and anything that could not be read."""
    found = result["found"]
    line = f"{shown}: {found['line']}"
    new = result.get("new_messages")
    if found.get("messages") is not None and new is not None:
        line += " (all in memory already)" if new == 0 else f" ({new:,} new)"
    notes = result.get("notes") or []
    return "\n".join([line, *(f"  note: {n}" for n in notes)])


@click.command()
@click.argument("query")
@click.option(
    "--k",
    default=10,
    show_default=True,
    type=click.IntRange(1, 200),
    help="How many chunks to return.",
)
@click.option("--tag", "tags", multiple=True, help="Only memories with one of these tags.")
@click.option(
    "--layer",
    type=click.Choice(["l0", "l1", "all"]),
    default="l0",
    show_default=True,
    help="l0: chunks of your files; l1: insights, topics and entities made from them; all: both.",
)
@data_dir_option
@json_option
def search(
    query: str, k: int, tags: tuple[str, ...], layer: str, data_dir: Path | None, as_json: bool
) -> None:
    """Find the memories that best match QUERY (meaning and keywords)."""
    with client(data_dir) as api:
        hits = api.post(
            "/api/memory/search", {"query": query, "k": k, "tags": list(tags), "layer": layer}
        )
    if as_json:
        print_json(hits)
        return
    if not hits:
        click.echo("no matches")
    for rank, hit in enumerate(hits, start=1):
        click.secho(
            f"{rank}. {describe_hit(hit)} score {hit['score']:.4f}"
            + (f"  tags: {', '.join(hit['tags'])}" if hit["tags"] else ""),
            bold=True,
        )
        text = " ".join(hit["text"].split())
        click.echo("   " + (text[:300] + "…" if len(text) > 300 else text))


def describe_hit(hit: dict) -> str:
    """One line naming where a search hit or chat source came from."""
    if hit.get("layer") == "l1":
        return f"L1 {hit['kind']}: {hit['title']}"
    source = hit["source"]
    start, end = source["span"]
    where = f"{source['path']} #{source['chunk_index']} [{start}:{end}]"
    turns = source.get("turns")
    if source.get("at") is not None:
        where += f" at {clock(source['at'])}"
    elif turns:
        where += f" turns {turns[0]}–{turns[1]}" if turns[0] != turns[1] else f" turn {turns[0]}"
    when = source.get("when")
    return f"{where} ({when})" if when else where


@click.group()
def memory() -> None:
    """Inspect and maintain memory."""


@memory.command("documents")
@click.option("--tag", help="Only documents with this tag.")
@data_dir_option
@json_option
def documents(tag: str | None, data_dir: Path | None, as_json: bool) -> None:
    """List the documents in memory."""
    with client(data_dir) as api:
        docs = api.get("/api/memory/documents", **({"tag": tag} if tag else {}))
    if as_json:
        print_json(docs)
        return
    for doc in docs:
        tags = f"  [{', '.join(doc['tags'])}]" if doc["tags"] else ""
        click.echo(f"{doc['id']}  {doc['kind']:8} {doc['chunks']:5} chunks  {doc['path']}{tags}")


def find_document(api, document: str) -> dict | None:
    """A document by id or path (as given, or resolved like ingest resolves it)."""
    docs = api.get("/api/memory/documents")
    wanted = str(Path(document).expanduser().resolve())
    match = [d for d in docs if document in (d["id"], d["path"]) or d["path"] == wanted]
    return match[0] if match else None


@memory.command("forget")
@click.argument("target")
@click.option("--yes", is_flag=True, help="Do not ask before forgetting a topic's documents.")
@data_dir_option
@json_option
def forget(target: str, yes: bool, data_dir: Path | None, as_json: bool) -> None:
    """Remove TARGET from memory for good: a document (by id or path), or a topic (by id or
    name) with the documents that are mostly about it. What L1 made from them goes too."""
    with client(data_dir) as api:
        doc = find_document(api, target)
        if doc is not None:
            result = api.delete(api_path("memory", "documents", doc["id"]))
            if as_json:
                print_json(result)
            else:
                click.echo(f"forgot {result['forgot']['path']}")
            return
        topics = api.get("/api/memory/topics")
        topic = next(
            (
                t
                for t in topics
                if target in (t["id"], t["name"]) or target.lower() == t["name"].lower()
            ),
            None,
        )
        if topic is None:
            raise click.ClickException(f"no document or topic {target!r} in memory")
        if not yes and not as_json:
            names = ", ".join(d["name"] for d in topic["documents"][:10])
            click.confirm(
                f"forget topic {topic['name']!r} and those of its documents mostly about it "
                f"({names})?",
                abort=True,
            )
        result = api.delete(api_path("memory", "topics", topic["id"]))
    if as_json:
        print_json(result)
    else:
        click.echo(
            f"forgot topic {result['forgot_topic']!r} and {len(result['forgot_documents'])} "
            "document(s)"
        )
        for d in result["forgot_documents"]:
            click.echo(f"  {d['path']}")


@memory.command("reindex")
@click.option(
    "--backend",
    type=click.Choice(VECTOR_BACKENDS),
    help="Move the vectors to this backend (default: keep the current one).",
)
@click.option("--qdrant-url", help="The Qdrant server, for --backend qdrant.")
@data_dir_option
@json_option
def reindex(
    backend: str | None, qdrant_url: str | None, data_dir: Path | None, as_json: bool
) -> None:
    """Rebuild the vector index from the stored chunks (also moves it between backends)."""
    body = {k: v for k, v in {"backend": backend, "qdrant_url": qdrant_url}.items() if v}
    with client(data_dir) as api:
        result = api.post("/api/memory/reindex", body)
    if as_json:
        print_json(result)
    else:
        click.echo(
            f"reindexed {result['points']} chunks into {result['backend']} in {result['seconds']} s"
        )


@memory.command("status")
@click.option(
    "--wait",
    type=float,
    default=None,
    is_flag=False,
    flag_value=3600.0,
    metavar="SECONDS",
    help="Wait until L1 has no pending work (at most SECONDS, default an hour).",
)
@data_dir_option
@json_option
def status(wait: float | None, data_dir: Path | None, as_json: bool) -> None:
    """What L1 (insights, topics, profile, entities) has pending, running, done and failed."""
    params = {} if wait is None else {"wait": wait}
    with client(data_dir, timeout=(wait or 0) + 30.0) as api:
        result = api.get("/api/memory/status", **params)
    if as_json:
        print_json(result)
        return
    counts, progress = result["counts"], result["progress"]
    running = result["running"]
    click.echo(
        f"L1 {result['state']}: {progress['done']}/{progress['total']} jobs finished "
        f"({counts['pending']} pending, {counts['failed']} failed)"
        + (f"; working on {running['kind']} {running['target']}".rstrip() if running else "")
    )
    records = result["records"]
    click.echo(
        f"{records['insights']} insights, {records['topics']} topics, {records['entities']} "
        f"entities, {records['relations']} relations, {records['profile_versions']} profile "
        "versions"
    )
    for failure in result["failed"]:
        click.secho(
            f"failed {failure['kind']} {failure['target']}: {failure['error']}".replace("  ", " "),
            fg="yellow",
        )
    for job in result["memory"].get("transcriptions", []):
        if job["state"] == "failed":
            click.secho(f"transcription failed: {job['error']}", fg="yellow")
            continue
        done = f", {job['progress']:.0%} done" if job["progress"] is not None else ""
        length = f" ({job['seconds'] / 60:.0f} min)" if job["seconds"] else ""
        click.echo(f"transcribing {job['path']}{length}: {job['state']}{done}")


@memory.command("topics")
@data_dir_option
@json_option
def topics(data_dir: Path | None, as_json: bool) -> None:
    """Your interest areas, found by clustering memory, with the documents behind each."""
    with client(data_dir) as api:
        result = api.get("/api/memory/topics")
    if as_json:
        print_json(result)
        return
    if not result:
        click.echo("no topics yet (ingest something; `memory status` shows L1 progress)")
    for topic in result:
        click.secho(
            f"{topic['name']}  ({len(topic['documents'])} documents, {len(topic['chunks'])} "
            f"chunks, confidence {topic['confidence']:.2f})",
            bold=True,
        )
        click.echo(f"  {topic['description']}")
        for event in topic["timeline"][:5]:
            click.echo(f"  {event['date']}  {event['text'][:100]}")


@memory.command("profile")
@click.option("--version", type=click.IntRange(1), help="An older version of the profile.")
@data_dir_option
@json_option
def profile(version: int | None, data_dir: Path | None, as_json: bool) -> None:
    """Your profile as L1 understands it: a biography in the first and third person, and
    what you have been doing recently."""
    with client(data_dir) as api:
        result = api.get("/api/memory/profile", **({"version": version} if version else {}))
    if as_json:
        print_json(result)
        return
    if not result["version"]:
        click.echo("no profile yet: memory is empty or L1 is still working (`memory status`)")
        return
    versions = result["versions"]
    click.secho(f"profile version {result['version']} of {len(versions)}", bold=True)
    click.echo(f"\n{result['first_person']}\n\n{result['third_person']}")
    if result["recently"]:
        click.echo(f"\nRecently: {result['recently']}")


@memory.command("facts")
@click.option(
    "--at",
    "at",
    metavar="DATE",
    help="Facts true at DATE (2025-06-01, 2025-06, 'June 2025') instead of now.",
)
@click.option(
    "--about",
    "about",
    multiple=True,
    metavar="NAME",
    help="Only facts about NAME (a person, place or thing; 'me' for you). Repeatable.",
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Every statement: ended facts, what ended them, repeats and negations.",
)
@data_dir_option
@json_option
def facts(
    at: str | None,
    about: tuple[str, ...],
    show_all: bool,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """What memory says about you and the people in your life, each fact with when it became
    true, when it stopped (a newer fact that contradicts it ends it) and where it was said."""
    params: dict = {"about": list(about)} if about else {}
    if at:
        params["at"] = at
    if show_all:
        params["all"] = "1"
    with client(data_dir) as api:
        result = api.get("/api/memory/facts", **params)
        names = (
            {d["id"]: d["path"] for d in api.get("/api/memory/documents")}
            if result["facts"]
            else {}
        )
    if as_json:
        print_json(result)
        return
    found = result["facts"]
    if not found:
        click.echo(
            "no facts"
            + (f" at {result['at']}" if result["at"] else "")
            + (f" about {', '.join(about)}" if about else "")
            + " (L1 may still be reading: `memory status`)"
        )
        return
    by_id = {f["id"]: f for f in found}
    for fact in found:
        ended = not fact["current"]
        click.secho(fact["text"], bold=not ended, dim=ended)
        source = names.get(fact["doc_id"], fact["doc_id"])
        turns = fact["turns"]
        if turns:
            where = f"turns {turns[0]}–{turns[1]}" if turns[0] != turns[1] else f"turn {turns[0]}"
        else:
            where = f"part {fact['part'] + 1}"
        click.echo(f"  from {source} ({where}): {fact['sentence']}")
        if fact["closed_by"]:
            closer = by_id.get(fact["closed_by"])
            click.echo(f"  ended by: {closer['text'] if closer else fact['closed_by']}")
        if fact["repeats"]:
            click.echo("  (says again what an earlier statement said)")


@memory.command("entities")
@click.option("--name", help="One entity and those related to it.")
@click.option("--kind", type=click.Choice(["person", "place", "organization", "thing"]))
@data_dir_option
@json_option
def entities(name: str | None, kind: str | None, data_dir: Path | None, as_json: bool) -> None:
    """People, places, organisations and things in your memory, and how they relate."""
    params = {k: v for k, v in {"name": name, "kind": kind}.items() if v}
    with client(data_dir) as api:
        result = api.get("/api/memory/entities", **params)
    if as_json:
        print_json(result)
        return
    if not result:
        click.echo("no entities" + (f" named {name!r}" if name else ""))
    for entity in result:
        click.secho(
            f"{entity['name']} ({entity['kind']}, {len(entity['chunks'])} mentions)", bold=True
        )
        for r in entity["relations"][:10]:
            arrow = "→" if r["direction"] == "out" else "←"
            click.echo(f"  {arrow} {r['label']} {r['other']}")


@memory.command("show")
@click.argument("document")
@data_dir_option
@json_option
def show(document: str, data_dir: Path | None, as_json: bool) -> None:
    """A document's insight: title, overview, key points and summary."""
    with client(data_dir) as api:
        doc = find_document(api, document)
        if doc is None:
            raise click.ClickException(f"no document {document!r} in memory")
        result = api.get(api_path("memory", "documents", doc["id"], "insight"))
    if as_json:
        print_json(result)
        return
    insight = result["insight"]
    if insight is None:
        click.echo(f"{doc['path']}: no insight yet (`memory status` shows L1 progress)")
        return
    click.secho(insight["title"], bold=True)
    click.echo(f"{doc['path']}  ({insight['method']})\n\n{insight['overview']}\n")
    for point in insight["key_points"]:
        click.echo(f"- {point['text']}")
    click.echo(f"\nSummary: {insight['summary']}")
