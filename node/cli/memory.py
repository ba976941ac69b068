"""``ingest``, ``search`` and ``memory``: putting files into memory and finding them again."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import click
from tqdm import tqdm

from secondme.node.cli.base import client, data_dir_option, json_option, print_json
from secondme.node.config import VECTOR_BACKENDS
from secondme.node.errors import NodeError


def collect_files(
    paths: tuple[Path, ...], supported: frozenset[str]
) -> tuple[list[Path], Counter[str]]:
    """Files named, plus files of ``supported`` suffixes under folders named (hidden skipped)."""
    files: list[Path] = []
    skipped: Counter[str] = Counter()
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
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
    return files, skipped


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--tag", "tags", multiple=True, help="Label what is ingested (repeatable).")
@data_dir_option
@json_option
def ingest(
    paths: tuple[Path, ...], tags: tuple[str, ...], data_dir: Path | None, as_json: bool
) -> None:
    """Add files or folders to memory: text, Markdown, PDF, DOCX, HTML, CSV, JSON and chat
    exports (JSON lines of {speaker, text, time}).

    Unchanged files are skipped; changed files replace their old version. A file that fails
    is reported and the rest go on.
    """
    results: list[dict] = []
    with client(data_dir) as api:
        memory_info = api.get("/api/status")["memory"]  # the daemon says what it can read
        limit_mb = memory_info["max_file_mb"]
        files, skipped = collect_files(paths, frozenset(memory_info["formats"]))
        sizes = {}
        for f in files:
            try:
                sizes[f] = f.stat().st_size
            except OSError:
                sizes[f] = 0
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
                result = api.ingest(shown, data, list(tags))
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
        order = ("added", "replaced", "unchanged", "duplicate", "failed")
        summary = ", ".join(f"{counts[s]} {s}" for s in order if counts[s])
        chunks = sum(r.get("chunks", 0) for r in results if r["status"] in ("added", "replaced"))
        click.echo(f"{summary or 'nothing to ingest'}; {chunks} new chunks")
        if skipped:
            kinds = ", ".join(f"{n} {s}" for s, n in skipped.most_common())
            click.echo(f"skipped files of unsupported types: {kinds}")
    if counts["failed"]:
        raise SystemExit(1)


@click.command()
@click.argument("query")
@click.option(
    "--k",
    default=10,
    show_default=True,
    type=click.IntRange(1, 200),
    help="How many chunks to return.",
)
@click.option("--tag", "tags", multiple=True, help="Only chunks with one of these tags.")
@data_dir_option
@json_option
def search(query: str, k: int, tags: tuple[str, ...], data_dir: Path | None, as_json: bool) -> None:
    """Find the chunks of memory that best match QUERY (meaning and keywords)."""
    with client(data_dir) as api:
        hits = api.post("/api/memory/search", {"query": query, "k": k, "tags": list(tags)})
    if as_json:
        print_json(hits)
        return
    if not hits:
        click.echo("no matches")
    for rank, hit in enumerate(hits, start=1):
        source = hit["source"]
        start, end = source["span"]
        click.secho(
            f"{rank}. {source['path']} #{source['chunk_index']} [{start}:{end}] "
            f"score {hit['score']:.4f}"
            + (f"  tags: {', '.join(hit['tags'])}" if hit["tags"] else ""),
            bold=True,
        )
        text = " ".join(hit["text"].split())
        click.echo("   " + (text[:300] + "…" if len(text) > 300 else text))


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


@memory.command("forget")
@click.argument("document")
@data_dir_option
@json_option
def forget(document: str, data_dir: Path | None, as_json: bool) -> None:
    """Remove a document (by id or path) from memory for good."""
    with client(data_dir) as api:
        docs = api.get("/api/memory/documents")
        wanted = str(Path(document).expanduser().resolve())
        match = [d for d in docs if document in (d["id"], d["path"]) or d["path"] == wanted]
        if not match:
            raise click.ClickException(f"no document {document!r} in memory")
        result = api.delete(f"/api/memory/documents/{match[0]['id']}")
    if as_json:
        print_json(result)
    else:
        click.echo(f"forgot {result['forgot']['path']}")


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
