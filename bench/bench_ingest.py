"""Ingest throughput through the node's pipeline, beside the bare embedder on the same chunks.

The pipeline figure covers everything ``secondme-node ingest`` does inside the daemon (parse,
chunk, embed, BM25, vector upsert, SQLite commit); the baseline embeds the very same chunk texts
with the same model and batch size and nothing else. Goal: pipeline >= 0.8x the bare embedder.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import document, report

from secondme.node.core.config import DataDir, MemorySettings
from secondme.node.core.db import Database
from secondme.node.memory.chunker import chunk_document
from secondme.node.memory.parsers import parse_document
from secondme.node.memory.service import Memory
from secondme.node.models import locate
from secondme.node.models.embedder import Embedder


async def pipeline(memory: Memory, docs: dict[str, bytes]) -> float:
    started = time.perf_counter()
    for path, data in docs.items():
        await memory.ingest(path, data, ["bench"])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=60, help="documents to ingest")
    args = parser.parse_args()
    rng = random.Random(7)
    docs = {f"/bench/doc-{n:04}.md": document(rng).encode() for n in range(args.docs)}
    megabytes = sum(len(d) for d in docs.values()) / 1e6
    embedder = Embedder(locate.embedder_path(""))
    settings = MemorySettings()
    chunks = [
        c.text
        for path, data in docs.items()
        for c in chunk_document(
            parse_document(path, data),
            embedder.count_tokens,
            max_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap,
        )
    ]
    embedder.embed(chunks[:64])  # warm up both runs alike
    started = time.perf_counter()
    for n in range(0, len(chunks), embedder.batch_size * 4):
        embedder.embed(chunks[n : n + embedder.batch_size * 4])
    bare = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "node.db")
        memory = Memory(DataDir(Path(tmp)), db, settings, embedder)
        memory.open()
        elapsed = asyncio.run(pipeline(memory, docs))
        stored = memory.documents.counts()["chunks"]
        memory.close()
        db.close()

    report(
        f"ingest: {args.docs} documents, {megabytes:.2f} MB, {len(chunks)} chunks",
        [
            (
                "bare embedder",
                f"{len(chunks) / bare:8.1f} chunks/s  {megabytes / bare * 60:6.2f} MB/min",
            ),
            (
                "node pipeline",
                f"{stored / elapsed:8.1f} chunks/s  {megabytes / elapsed * 60:6.2f} MB/min",
            ),
            ("ratio", f"{bare / elapsed:.2f}x of the bare embedder (goal >= 0.8x)"),
        ],
    )


if __name__ == "__main__":
    main()
