"""Chat through the owner API (retrieval + persona prompt + SSE) beside a bare llama.cpp call.

Both sides use the same shipped GGUF, the same context size, greedy decoding and the same number
of answer tokens. The bare side gets the exact messages the node built for that question (read
back from the node's prompt builder), so the difference is the node's own overhead: retrieval,
the queue, the thread hop and HTTP streaming. Goals: first token <= 1 s with retrieval;
tokens/s >= 0.9x the bare call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import report

from secondme.node.models import locate
from tests.e2e.harness import run_cli, start_node
from tests.e2e.sample_files import write_samples

QUESTIONS = [
    "What is my sourdough starter called?",
    "Who planted the quince tree?",
    "What did my thesis measure?",
    "When are my saxophone lessons?",
    "What is the name of my cat?",
]
ANSWER_TOKENS = 64


def api_turn(api: httpx.Client, question: str) -> tuple[float, int, float]:
    """(seconds to first token, tokens, tokens/s after the first) for one streamed answer."""
    started = time.perf_counter()
    first = None
    tokens = 0
    with api.stream("POST", "/api/chat", json={"message": question}) as response:
        for line in response.iter_lines():
            if line.startswith("event: token"):
                tokens += 1
                if first is None:
                    first = time.perf_counter()
    ended = time.perf_counter()
    assert first is not None, "no token streamed"
    return first - started, tokens, (tokens - 1) / max(ended - first, 1e-9)


def bare_turn(llama, messages: list[dict]) -> tuple[float, int, float]:
    started = time.perf_counter()
    first = None
    tokens = 0
    for chunk in llama.create_chat_completion(
        messages=messages, max_tokens=ANSWER_TOKENS, temperature=0.0, stream=True
    ):
        if chunk["choices"][0].get("delta", {}).get("content"):
            tokens += 1
            if first is None:
                first = time.perf_counter()
    ended = time.perf_counter()
    return first - started, tokens, (tokens - 1) / max(ended - first, 1e-9)


def summarise(name: str, rows: list[tuple[float, int, float]]) -> tuple[float, float, str]:
    ttft = statistics.median(r[0] for r in rows) * 1000
    rate = statistics.median(r[2] for r in rows)
    return ttft, rate, f"{name}: first token p50 {ttft:7.1f} ms   {rate:6.1f} tokens/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    args = parser.parse_args()
    from llama_cpp import Llama

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "node"
        run_cli(data_dir, "init", "--name", "Ada")
        config = data_dir / "config.toml"
        config.write_text(
            config.read_text()
            .replace("max_answer_tokens = 256", f"max_answer_tokens = {ANSWER_TOKENS}")
            .replace("temperature = 0.3", "temperature = 0.0")
        )
        node = start_node(data_dir)
        try:
            folder = write_samples(Path(tmp) / "samples")
            run_cli(data_dir, "ingest", str(next(iter(folder.values())).parent))
            with node.http() as api:
                api_turn(api, "warm up")
                api_rows = [api_turn(api, q) for _ in range(args.rounds) for q in QUESTIONS]
        finally:
            node.terminate()
        prompts = _node_prompts(data_dir)
    threads = os.cpu_count() or 1  # what the node uses with the default `threads = 0`
    llama = Llama(
        model_path=str(locate.chat_model_path("")),
        n_ctx=2048,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    bare_turn(llama, prompts[0])
    bare_rows = [
        bare_turn(llama, prompts[i % len(prompts)]) for i in range(args.rounds * len(QUESTIONS))
    ]
    api_ttft, api_rate, api_line = summarise("node API (retrieval + SSE)", api_rows)
    bare_ttft, bare_rate, bare_line = summarise("bare llama_cpp.Llama       ", bare_rows)
    report(
        f"chat: {len(api_rows)} answers of up to {ANSWER_TOKENS} tokens, SmolLM2-135M Q4_1",
        [
            ("node", api_line),
            ("bare", bare_line),
            (
                "first token",
                f"node - bare = {api_ttft - bare_ttft:+.1f} ms (goal: node <= 1000 ms)",
            ),
            ("tokens/s ratio", f"{api_rate / bare_rate:.2f}x of bare (goal >= 0.9x)"),
        ],
    )


def _node_prompts(data_dir: Path) -> list[list[dict]]:
    """Rebuild, for each question, the messages the node sent (same code, same memory)."""
    import asyncio

    from llama_cpp import Llama

    from secondme.node.chat.prompt import build_messages, persona_prompt, prompt_budget
    from secondme.node.core.config import DataDir, load_config
    from secondme.node.core.db import Database
    from secondme.node.memory.service import Memory
    from secondme.node.models.embedder import Embedder
    from secondme.node.people.owner import OwnerStore

    where = DataDir(data_dir)
    config = load_config(where.config)
    db = Database(where.database)
    memory = Memory(where, db, config.memory, Embedder(locate.embedder_path("")))
    memory.open()
    counter = Llama(model_path=str(locate.chat_model_path("")), vocab_only=True, verbose=False)
    prompts = []
    for question in QUESTIONS:
        hits = asyncio.run(memory.search(question, k=config.memory.retrieve_k))
        messages, _ = build_messages(
            system=persona_prompt(OwnerStore(db).get()),
            hits=hits,
            history=[],
            question=question,
            count_tokens=lambda t: len(counter.tokenize(t.encode(), add_bos=False, special=True)),
            budget=prompt_budget(config.models.context_tokens, ANSWER_TOKENS),
        )
        prompts.append(messages)
    memory.close()
    db.close()
    return prompts


if __name__ == "__main__":
    main()
