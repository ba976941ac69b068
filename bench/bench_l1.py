"""L1 cost and L1's effect on retrieval, with the default model on this machine.

Cost: a synthetic personal corpus (``tests/l1_corpus.py``) of ``--mb`` megabytes is ingested
(L0, timed apart), then the L1 worker runs until idle; printed: seconds in all, per document and
per MB, per kind of job, model calls and tokens. Baseline in the same process: the model
reading every token of the corpus once, extrapolated from a timed sample of prompt processing,
which is what a naive "summarise every chunk" L1 would cost at least. Goal: 10 MB in 30 minutes.

Quality: on the small corpus with known answers (``QUESTIONS``), recall@5 and recall@10 of
L0-only retrieval against L0+L1 (one fused search over chunks and L1 records). Those questions
each ask for one planted fact, which a chunk holds; questions about the owner as a whole ("what
do I do for fun?") need what L1 summarises, so for those the bench checks whether the memories
chat puts into its prompt (L0 only, or L1 first then L0) name enough of the owner's themes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.l1_corpus
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import report

from secondme.node.chat.history import ChatHistory
from secondme.node.chat.service import ChatService
from secondme.node.core.config import DataDir, MemorySettings, ModelSettings
from secondme.node.core.db import Database
from secondme.node.memory.l1.service import L1Service
from secondme.node.memory.service import Memory
from secondme.node.models import locate
from secondme.node.models.embedder import Embedder
from secondme.node.models.llm import ChatModel
from secondme.node.people.owner import OwnerStore
from secondme.node.people.roles import RoleStore
from tests.l1_corpus import OWNER, QUESTIONS, make_corpus_bytes, make_documents, relevant

THEMES = {
    "hiking": ("hik", "trail", "summit"),
    "cooking": ("cook", "kitchen", "recipe", "bacalhau", "caldo"),
    "nursing": ("nurse", "ward", "shift", "patient"),
    "cello": ("cello",),
    "family": ("sister", "ana", "mother", "nephew"),
}
ABOUT_ME = (
    ("Tell me about yourself.", 4),
    ("What do you do for work and for fun?", 3),
    ("What are your hobbies?", 3),
    ("What matters most in your life?", 3),
    ("How do you spend your week?", 3),
)
"""Questions about the owner as a whole, and how many of the themes a good context names."""


def themes_named(text: str) -> int:
    lower = text.lower()
    return sum(any(word in lower for word in words) for words in THEMES.values())


async def open_node(root: Path, embedder: Embedder, model: ChatModel):
    data_dir = DataDir(root)
    db = Database(data_dir.database)
    settings = MemorySettings()
    memory = Memory(data_dir, db, settings, embedder)
    memory.open()
    owner = OwnerStore(db)
    owner.update({"name": OWNER})
    return memory, L1Service(memory, model, owner, settings), db


async def ingest(memory: Memory, docs) -> float:
    started = time.perf_counter()
    for doc in docs:
        await memory.ingest(f"/corpus/{doc.name}", doc.text.encode())
    return time.perf_counter() - started


async def prompt_rate(model: ChatModel, text: str) -> float:
    """Prompt tokens per second that the model reads (max_tokens=1, so almost no generation)."""
    messages = [{"role": "user", "content": text}]
    started = time.perf_counter()
    _, finished = await model.complete(messages, max_tokens=1, temperature=0.0)
    return finished.prompt_tokens / (time.perf_counter() - started)


async def cost(mb: float, embedder: Embedder, model: ChatModel) -> None:
    docs = make_corpus_bytes(int(mb * 1_000_000))
    size = sum(len(d.text.encode()) for d in docs)
    with tempfile.TemporaryDirectory() as tmp:
        memory, l1, db = await open_node(Path(tmp), embedder, model)
        l0_seconds = await ingest(memory, docs)
        chunks = memory.documents.counts()["chunks"]
        started = time.perf_counter()
        l1.start()
        await l1.wait_idle()
        l1_seconds = time.perf_counter() - started
        await l1.close()
        per_kind: dict[str, list[float]] = defaultdict(list)
        states: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for job in l1.store.jobs.list():
            states[job["kind"]][job["state"]] += 1
            if job["started_at"] and job["finished_at"]:
                per_kind[job["kind"]].append(job["finished_at"] - job["started_at"])
        status = l1.status()
        usage = status["model_usage"]
        records = status["records"]
        text = " ".join(d.text for d in docs[:3])[:6000]
        rate = await prompt_rate(model, text)
        corpus_tokens = sum(model.count_tokens(d.text) for d in docs)
        memory.close()
        db.close()
    mbytes = size / 1_000_000
    rows = [
        ("corpus", f"{mbytes:.2f} MB, {len(docs)} documents, {chunks} chunks"),
        ("L0 ingest (embed + index)", f"{l0_seconds:.1f} s"),
        ("L1 total", f"{l1_seconds:.1f} s"),
        ("L1 per document", f"{l1_seconds / len(docs):.2f} s"),
        ("L1 per MB", f"{l1_seconds / mbytes:.1f} s"),
        ("L1 total, minutes", f"{l1_seconds / 60:.1f} min (goal: 30 min for 10 MB)"),
        (
            "model calls / tokens",
            f"{usage['calls']} calls, {usage['prompt_tokens']} prompt + "
            f"{usage['completion_tokens']} completion tokens",
        ),
        ("model calls per document", f"{usage['calls'] / len(docs):.2f}"),
        (
            "records",
            f"{records['insights']} insights, {records['topics']} topics, "
            f"{records['entities']} entities, {records['relations']} relations",
        ),
    ]
    for kind, seconds in sorted(per_kind.items()):
        done = dict(states[kind])
        rows.append((f"  {kind}", f"{len(seconds)} jobs {done}, {sum(seconds):.1f} s total"))
    baseline = corpus_tokens / rate
    rows += [
        ("baseline: model prompt rate", f"{rate:.0f} tokens/s"),
        (
            "baseline: model reads every token once",
            f"{corpus_tokens} tokens, {baseline:.0f} s ({baseline / mbytes / 60 * 10:.0f} min "
            f"per 10 MB)",
        ),
        ("L1 / baseline", f"{l1_seconds / baseline:.2f}x"),
    ]
    report(f"L1 cost, default model, {mbytes:.2f} MB", rows)


async def quality(embedder: Embedder, model: ChatModel) -> None:
    docs = make_documents()
    with tempfile.TemporaryDirectory() as tmp:
        memory, l1, db = await open_node(Path(tmp), embedder, model)
        await ingest(memory, docs)
        l1.start()
        await l1.wait_idle()
        await l1.close()
        chat = ChatService(
            model=model,
            memory=memory,
            owner=OwnerStore(db),
            roles=RoleStore(db),
            history=ChatHistory(db),
            settings=ModelSettings(),
            retrieve_k=memory.settings.retrieve_k,
        )
        about_me = {("l0",): [], ("l1", "l0"): []}
        for question, wanted in ABOUT_ME:
            for layers, answered in about_me.items():
                context = " ".join(m.text for m in await chat.grounding(question, layers))
                answered.append(themes_named(context) >= wanted)
        found = {("l0",): {5: 0, 10: 0}, ("l0", "l1"): {5: 0, 10: 0}}
        for question in QUESTIONS:
            for layers, recall in found.items():
                hits = await memory.search(question.text, k=10, layers=layers)
                for k in recall:
                    if any(relevant(question, hit.text) for hit in hits[:k]):
                        recall[k] += 1
        memory.close()
        db.close()
    n = len(QUESTIONS)
    rows = [
        (
            "+".join(layers).upper(),
            f"recall@5 {recall[5] / n:.2f}, recall@10 {recall[10] / n:.2f}",
        )
        for layers, recall in found.items()
    ]
    rows += [
        (
            f"about me, chat context from {'+'.join(layers).upper()}",
            f"{sum(answered)}/{len(answered)} questions get a context naming enough themes",
        )
        for layers, answered in about_me.items()
    ]
    report(f"retrieval quality, {n} fact questions over {len(docs)} documents", rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=1.0, help="corpus size for the cost run")
    parser.add_argument("--skip-cost", action="store_true", help="only the quality run")
    parser.add_argument("--skip-quality", action="store_true", help="only the cost run")
    args = parser.parse_args()
    embedder = Embedder(locate.embedder_path(""))
    model = ChatModel(locate.chat_model_path(""))
    await model.start()
    try:
        if not args.skip_quality:
            await quality(embedder, model)
        if not args.skip_cost:
            await cost(args.mb, embedder, model)
    finally:
        await model.close()


if __name__ == "__main__":
    asyncio.run(main())
