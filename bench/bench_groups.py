"""Group discussions: time per round and per discussion with 3 and 5 member daemons, beside
the same number of generations run one after another by one node's model on this machine.

Each member is a real ``secondme-node`` daemon on loopback with one planted memory; the
creator moderates, every member joins by a ``group/join`` grant, and the discussion runs with
the default model and settings except temperature 0 (so both sides generate the same text).
The baseline does each turn's work one after another without the protocol: that member's
memory search (through its own API) and one model (the node's own ChatModel: same GGUF,
context and threads as a daemon) asked the prompt its node built, with the same token cap.
Generation time varies from run to run more than the protocol costs, so it also prints the
time the members' models spent inside the same discussion (each daemon logs it per turn): the
rest is the protocol's cost (turn taking, relevance reports, memory searches, signing,
encryption, delivery to every member, storage).

    python bench/bench_groups.py [--members 3 5] [--rounds 2] [--discussions 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import report
from secondme.node.core.config import GroupSettings, ModelSettings
from secondme.node.groups.prompts import turn_messages
from secondme.node.models.llm import ChatModel
from secondme.node.models.locate import chat_model_path
from tests.e2e.harness import NodeProcess, run_cli, start_node

FACTS = [
    ("Dana", "I love the Brambleton Falls loop; the waterfall at the end is my picnic spot."),
    ("Alice", "My favourite hike is the Zephyr Ridge trail above Lake Orvan, twelve kilometres."),
    ("Bob", "My knee hurts on steep descents, so I prefer the flat Millbrook canal towpath."),
    ("Carol", "I own a seven-seat minivan and can drive everyone to the Quarry Hollow trailhead."),
    ("Eve", "I always bring a thermos of ginger tea and know the birds along the Fenwick marsh."),
]
QUESTIONS = ["Where should we hike on Saturday?", "What should we bring for lunch?"]


def start(root: Path, name: str, fact: str) -> NodeProcess:
    data_dir = root / name.lower()
    run_cli(data_dir, "init", "--name", name, "--public", "name")
    config = data_dir / "config.toml"
    text = config.read_text()
    start_at = text.index("[groups]")
    section = text[start_at : text.find("\n[", start_at + 1) + 1 or len(text)]
    config.write_text(
        text.replace(section, section.replace("temperature = 0.3", "temperature = 0.0"))
    )
    node = start_node(data_dir)
    path = root / f"{name}.md"
    path.write_text(f"# Weekends\n{fact}\n")
    node.cli("ingest", str(path), "--tag", "group")
    return node


def watch_to_end(node: NodeProcess, group_id: str, after: int) -> None:
    with (
        node.http() as http,
        http.stream(
            "POST", f"/api/groups/{group_id}/watch", json={"after": after}, timeout=3600
        ) as stream,
    ):
        for line in stream.iter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("kind") == "end":
                return
    raise RuntimeError("the discussion stream ended before its end message")


def discussion_rows(node: NodeProcess, group_id: str, after: int, size: int) -> dict:
    """Times of one discussion from its transcript (message timestamps, one machine's clock)."""
    messages = [m for m in node.cli_json("group", "transcript", group_id)["messages"]]
    since = [m for m in messages if m["seq"] > after]
    turns = [m for m in since if m["kind"] == "turn"]
    rounds = []
    previous = since[0]["ts"]  # the question
    for start_at in range(0, len(turns) - size + 1, size):
        end = turns[start_at + size - 1]["ts"]
        rounds.append((end - previous) / 1000)
        previous = end
    end = next(m for m in since if m["kind"] == "end")["ts"]
    return {"total_s": (end - since[0]["ts"]) / 1000, "rounds_s": rounds, "turns": turns}


SPOKE = re.compile(r"group (\w+): spoke \(memory (\d+) ms, model (\d+) ms\)")


def model_seconds(nodes: list[NodeProcess], group_id: str, seen: dict[str, int]) -> float:
    """Seconds the members' models spent on their turns since the last call, from the
    daemons' own logs (each logs its memory search and model time per turn)."""
    total = 0.0
    for node in nodes:
        lines = node.stderr_text().splitlines()
        for line in lines[seen.get(node.peer_id, 0) :]:
            found = SPOKE.search(line)
            if found and found.group(1) == group_id[:8]:
                total += int(found.group(3)) / 1000
        seen[node.peer_id] = len(lines)
    return total


def baseline(nodes: dict[str, NodeProcess], names: dict[str, str], question: str,
             turns: list[dict], settings: GroupSettings) -> tuple[float, int]:  # fmt: skip
    """What the members did, done one after another on one machine without the protocol: for
    each turn, that member's memory search (its own API, the group's tag) and the model asked
    the prompt its node built, by the node's own model class (same GGUF, context, threads)."""

    async def generate() -> tuple[float, int]:
        model = ChatModel(chat_model_path(""), context_tokens=ModelSettings().context_tokens)
        await model.start()
        said: list[tuple[str, str]] = []
        tokens = 0
        try:
            started = time.perf_counter()
            for turn in turns:
                name = names[turn["from"]]
                query = " ".join([question, *(text for _, text in said[-1:])])
                with nodes[turn["from"]].http() as api:  # as the node does: L0 first, one L1
                    hits = [
                        hit
                        for layer, k in (("l0", settings.turn_memories), ("l1", 1))
                        for hit in api.post(
                            "/api/memory/search",
                            json={"query": query, "k": k, "tags": ["group"], "layer": layer},
                        ).json()
                    ][: settings.turn_memories]
                messages = turn_messages(
                    me=name, group="bench", topic="a weekend", question=question,
                    memories=[hit["text"] for hit in hits], said=said,
                    quote_turns=settings.quote_turns,
                )  # fmt: skip
                text, finished = await model.complete(
                    messages, max_tokens=settings.max_turn_tokens, temperature=0.0
                )
                tokens += finished.completion_tokens
                said.append((name, text))
            return time.perf_counter() - started, tokens
        finally:
            await model.close()

    return asyncio.run(generate())


def run(size: int, args: argparse.Namespace) -> list[tuple[str, str]]:
    settings = GroupSettings()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        setup_started = time.perf_counter()
        nodes = []
        for name, fact in FACTS[:size]:
            node = start(root, name, fact)
            stack.callback(node.terminate)
            nodes.append(node)
        moderator, members = nodes[0], nodes[1:]
        addr = json.loads((moderator.data_dir / "daemon.json").read_text())["p2p"][0]
        for member in members:
            member.cli("peers", "add", addr, "--name", "moderator")
            their = json.loads((member.data_dir / "daemon.json").read_text())["p2p"][0]
            moderator.cli("peers", "add", their, "--name", member.data_dir.name)
            member.cli("grant", "moderator", "--ability", "group/join", "--tags", "group",
                       "--expires", "1h")  # fmt: skip
        for node in nodes:
            node.cli("memory", "status", "--wait")
        created = moderator.cli_json(
            "group", "create", "bench", "--members", ",".join(m.data_dir.name for m in members),
            "--topic", "a weekend", "--tags", "group",
        )  # fmt: skip
        gid = created["group_id"]
        setup_s = time.perf_counter() - setup_started
        names = {n.peer_id: name for n, (name, _) in zip(nodes, FACTS, strict=False)}
        totals, rounds, bases, turns_run, tokens = [], [], [], 0, 0
        in_model, log_marks = [], {}
        model_seconds(nodes, gid, log_marks)
        for index in range(args.discussions):
            question = QUESTIONS[index % len(QUESTIONS)]
            started = moderator.cli_json(
                "group", "discuss", "bench", question, "--rounds", str(args.rounds), "--detach"
            )
            watch_to_end(moderator, gid, started["after"])
            row = discussion_rows(moderator, gid, started["after"], size)
            totals.append(row["total_s"])
            in_model.append(model_seconds(nodes, gid, log_marks))
            rounds += row["rounds_s"]
            turns_run += len(row["turns"])
            by_peer = {n.peer_id: n for n in nodes}
            seconds, used = baseline(by_peer, names, question, row["turns"], settings)
            bases.append(seconds)
            tokens += used
    turns_each = turns_run / args.discussions
    total, base = statistics.median(totals), statistics.median(bases)
    modelled = statistics.median(in_model)
    return [
        ("setup (daemons, ingest, L1, group)", f"{setup_s:.0f} s"),
        ("turns per discussion", f"{turns_each:.0f} ({args.rounds} rounds x {size} members)"),
        ("discussion, p50", f"{total:7.1f} s"),
        ("round, p50", f"{statistics.median(rounds):7.1f} s ({len(rounds)} rounds)"),
        (
            "same generations, one model in turn, p50",
            f"{base:7.1f} s ({tokens / turns_run:.0f} tokens/turn)",
        ),
        ("  ratio discussion / sequential", f"{total / base:.2f}"),
        ("members' models, in the discussion, p50", f"{modelled:7.1f} s (from the daemons' logs)"),
        ("  ratio discussion / model time", f"{total / modelled:.2f}"),
        (
            "  everything but the model, per turn",
            f"{(total - modelled) / turns_each * 1000:.0f} ms",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[3, 5], choices=range(2, 6))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--discussions", type=int, default=2)
    args = parser.parse_args()
    for size in args.members:
        rows = run(size, args)
        report(f"group discussion, {size} members, default model, temperature 0", rows)


if __name__ == "__main__":
    main()
