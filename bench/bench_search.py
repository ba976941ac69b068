"""Search latency through the owner API at 10k and 100k chunks, beside the bare vector store.

The memory is filled with synthetic chunks: 2,000 distinct sentences of prose embedded by the real
MiniLM model, then variants of them (the text numbered, the vector jittered and renormalised) up
to the target size, each committed to SQLite like a real ingest. The API figure is what
``secondme-node search`` pays: HTTP, query embedding, hybrid (dense + BM25) search, the SQLite
join. The bare figure is the same hybrid query straight on the vector store with the query vector
already computed. Above 20k points the approximate (HNSW) index is built first, as the daemon
does in the background after an ingest. Goal: API p95 <= 30 ms at 100k.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import percentiles, report, sentence, timed

from secondme.node.core.config import DataDir, load_config
from secondme.node.core.db import Database
from secondme.node.memory.documents import ChunkRecord, DocumentRecord
from secondme.node.memory.ingest import point_payload
from secondme.node.memory.service import Memory
from secondme.node.memory.vectors import ScopeFilter, VectorPoint
from secondme.node.models import locate
from secondme.node.models.embedder import Embedder
from tests.e2e.harness import run_cli, start_node

BASE = 2_000
PER_DOC = 100
QUERIES = [
    "who repaired the red bicycle near the harbour",
    "sourdough loaf before breakfast",
    "the Lisbon trip planning",
    "chess opening with friends",
    "quarterly budget at the office",
    "painting the garden shed on Sunday",
    "marathon route in the mountains",
    "jazz record in 2019",
]


def grow(
    memory: Memory,
    base_texts: list[str],
    base_vectors: np.ndarray,
    start: int,
    stop: int,
    rng: np.random.Generator,
) -> None:
    """Commit chunks ``start..stop`` as documents of PER_DOC chunks each."""
    for first in range(start, stop, PER_DOC):
        doc = DocumentRecord(
            id=str(uuid.uuid4()),
            path=f"/bench/doc-{first // PER_DOC:05}.md",
            name=f"doc-{first // PER_DOC:05}.md",
            kind="markdown",
            title=None,
            content_hash=uuid.uuid4().hex,
            size=0,
            tags=("bench",),
            chunk_count=PER_DOC,
            ingested_at=time.time(),
        )
        chunks, points = [], []
        for n in range(first, min(first + PER_DOC, stop)):
            text = f"{base_texts[n % BASE]} (entry {n})"
            vector = base_vectors[n % BASE] + rng.normal(0, 0.05, base_vectors.shape[1])
            vector /= np.linalg.norm(vector)
            chunk = ChunkRecord(
                id=str(uuid.uuid4()),
                doc_id=doc.id,
                index=n - first,
                text=text,
                start=0,
                end=len(text),
            )
            chunks.append(chunk)
            points.append(
                VectorPoint(
                    id=chunk.id,
                    dense=vector.astype(np.float32),
                    sparse=memory._bm25.document(text),
                    payload=point_payload(chunk, doc),
                )
            )
        memory.documents.reserve_points([c.id for c in chunks])
        memory.store.upsert(points)
        memory.documents.commit_document(doc, chunks)


def bare(memory: Memory, embedder: Embedder, repeat: int) -> tuple[list[float], list[float]]:
    vectors = embedder.embed(QUERIES)
    sparse = [memory._bm25.query(q) for q in QUERIES]
    turn = iter(range(10**9))

    def one() -> None:
        i = next(turn) % len(QUERIES)
        memory.store.search_hybrid(
            vectors[i], sparse[i], limit=20, scope=ScopeFilter(), candidates=50
        )

    def embed_one() -> None:
        embedder.embed([QUERIES[next(turn) % len(QUERIES)]])

    timed(one, 20)
    return timed(one, repeat), timed(embed_one, repeat)


def through_api(data_dir: Path, repeat: int) -> list[float]:
    node = start_node(data_dir)
    try:
        with node.http() as api:
            turn = iter(range(10**9))

            def one() -> None:
                query = QUERIES[next(turn) % len(QUERIES)]
                response = api.post("/api/memory/search", json={"query": query, "k": 10})
                response.raise_for_status()

            timed(one, 20)
            return timed(one, repeat)
    finally:
        node.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    py_rng = random.Random(11)
    base_texts = [" ".join(sentence(py_rng) for _ in range(3)) for _ in range(BASE)]
    embedder = Embedder(locate.embedder_path(""))
    started = time.perf_counter()
    base_vectors = embedder.embed(base_texts)
    print(f"embedded {BASE} base chunks in {time.perf_counter() - started:.1f} s")
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "node"
        run_cli(data_dir, "init")
        where = DataDir(data_dir)
        have = 0
        for size in sizes:
            db = Database(where.database)
            memory = Memory(where, db, load_config(where.config).memory, embedder)
            memory.open()
            started = time.perf_counter()
            grow(memory, base_texts, base_vectors, have, size, rng)
            filled = time.perf_counter() - started
            have = size
            if memory.index_is_stale():  # what the daemon does in the background after ingest
                started = time.perf_counter()
                memory.build_index()
                print(
                    f"built the HNSW index for {size:,} points in "
                    f"{time.perf_counter() - started:.0f} s"
                )
            store_ms, embed_ms = bare(memory, embedder, args.repeat)
            memory.close()
            db.close()
            api_ms = through_api(data_dir, args.repeat)
            s50, s95 = percentiles(store_ms)
            e50, e95 = percentiles(embed_ms)
            a50, a95 = percentiles(api_ms)
            report(
                f"search at {size:,} chunks (filled in {filled:.0f} s), k=10, "
                f"{args.repeat} queries",
                [
                    ("bare hybrid store query", f"p50 {s50:6.2f} ms   p95 {s95:6.2f} ms"),
                    ("query embedding alone", f"p50 {e50:6.2f} ms   p95 {e95:6.2f} ms"),
                    ("owner API (all of it)", f"p50 {a50:6.2f} ms   p95 {a95:6.2f} ms"),
                    ("API / bare store (p50)", f"{a50 / s50:.1f}x   (goal: API p95 <= 30 ms)"),
                ],
            )


if __name__ == "__main__":
    main()
