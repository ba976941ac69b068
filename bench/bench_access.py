"""Scoped access: grant checks per second, context bundles per second, and ``ask`` between nodes.

1. Authorisations per second on one core (the process is pinned to CPU 0 where the OS allows),
   goal 5,000/s:
   (a) ``GrantVerifier.authorize`` of a plain grant, its parse cached (the grant used again);
   (b) the same with a fresh verifier each call: the Biscuit signature chain and the reading of
       the authority block every time;
   (c) a grant delegated A -> B -> C, cached;
   (d) ``AccessGate.authorize`` of a received ``ask`` request on a real SQLite file: the cached
       verifier plus reading and counting the use (one write transaction per request); (d+) the
       same followed by the audit row the node writes for an allowed request.
   Baselines in the same process: a bare Ed25519 verification (PyNaCl) and
   ``SmpEndpoint.receive_request`` of the same ``ask`` frame without a grant (and with it). The
   replay window refuses a frame seen before, so each receive gets a fresh endpoint and window
   (a few microseconds, counted in).
2. Context bundles per second: ``seal`` and ``open_sealed`` of a bundle as a node builds one for
   ``context`` (canonical msgpack of {query, grant_id, items}, 8 snippets of about 1 KB).
3. ``ask`` between two daemons on loopback: node B holds notes tagged ``travel`` and grants A
   ``chat/ask`` on that tag. For each question, alternating: A asks B through A's owner API
   (non-streamed, then streamed), and B's owner asks B's own chat API the same question. Both
   nodes decode greedily (temperature 0) with the same answer cap, but their prompts differ
   (a peer gets the public profile and the granted notes only), so answer lengths and tokens/s
   are printed beside the latencies, with how many memories each prompt held. Alternating
   also means llama.cpp never reuses the previous prompt's prefix (the two kinds start with
   different system prompts), for both kinds alike.

Kinds alternate within each run so that drift in machine load hits them alike; rates are
medians over the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import nacl
import nacl.bindings
import nacl.signing

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_sealed import figure, per_second
from common import document, report

from secondme.node.access.gate import AccessGate
from secondme.node.access.store import AccessStore
from secondme.node.core.db import Database
from secondme.protocol.access import ACCESS_MESSAGES, Ask
from secondme.protocol.clock import ManualClock
from secondme.protocol.grants import (
    GrantTerms,
    GrantVerifier,
    Scope,
    delegate,
    issue_grant,
    narrowing_checks,
)
from secondme.protocol.identity import Identity
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.sealed import open_sealed, seal
from secondme.protocol.session import IncomingRequest, SmpEndpoint
from secondme.protocol.wire import pack_canonical
from tests.e2e.harness import NodeProcess, run_cli, start_node

GOAL_PER_S = 5_000
NOW = 1_700_000_000_000
HOUR = 3_600_000
TRAVEL = Scope(tags=("travel",))
QUESTION = "Where did I eat the best food on my trips?"
CONTEXT_CONTENT_TYPE = "secondme/context-1"  # node/access/service.py, what ``context`` seals
SNIPPETS, SNIPPET_CHARS = 8, 1024
NOTES = {
    "porto.md": "# Porto weekend\nIn March I spent a weekend in Porto with my brother Luis. We "
    "crossed the Dom Luis bridge at dusk and ate a francesinha at a cafe near the river.\n",
    "oslo.md": "# Oslo in winter\nIn January I visited Oslo for a conference, swam in the fjord "
    "sauna at Sorenga and bought a wool sweater at a market in Grunerlokka.\n",
    "crete.md": "# Crete by bus\nTwo summers ago I crossed Crete by bus from Chania to Heraklion, "
    "hiked the Samaria gorge and ate the best grilled octopus of my life in a small harbour.\n",
    "hanoi.md": "# Hanoi street food\nIn Hanoi I took a night food tour, tried bun cha and egg "
    "coffee, and rode a motorbike taxi through the old quarter in the rain.\n",
}
OTHER_NOTE = (
    "# Garden\nThis spring I planted three rows of tomatoes and a fig tree by the south wall.\n"
)
QUESTIONS = [
    "Where did I eat the best octopus?",
    "What did I do in Oslo?",
    "Who came with me to Porto?",
    "What food did I try in Hanoi?",
    "Which gorge did I hike on Crete?",
    "What did I buy in Oslo?",
    "How did I get around in Hanoi?",
    "What bridge did I cross in Porto?",
]


# -- timing --------------------------------------------------------------------------------------


def batch_size(func: Callable[[], object], seconds: float) -> int:
    """Calls that take about ``seconds`` (after one warm-up call)."""
    func()
    started = time.perf_counter()
    for _ in range(5):
        func()
    each = (time.perf_counter() - started) / 5
    return max(5, min(50_000, round(seconds / each)))


def median_rates(
    kinds: dict[str, Callable[[], object]], runs: int, seconds: float
) -> dict[str, float]:
    """Median calls per second of each kind; each run times one batch of every kind in turn."""
    sizes = {name: batch_size(func, seconds) for name, func in kinds.items()}
    rates: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(runs):
        for name, func in kinds.items():
            rates[name].append(per_second(func, sizes[name]))
    return {name: statistics.median(samples) for name, samples in rates.items()}


@contextmanager
def one_core() -> Iterator[str]:
    """Run the block on CPU 0 only (where the OS allows it), then on the CPUs it had before,
    so that daemons started later are not pinned too."""
    if not hasattr(os, "sched_setaffinity"):
        yield "not pinned (no sched_setaffinity here)"
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        yield "pinned to CPU 0 with os.sched_setaffinity"
    finally:
        os.sched_setaffinity(0, before)


# -- 1. authorisation ----------------------------------------------------------------------------


def grant_kinds(tmp: Path) -> tuple[dict[str, Callable[[], object]], Database, str]:
    """The callables of part 1, the database (d) writes to (the caller closes it), and the
    sizes of what they read."""
    alice, bob, carol = Identity.generate(), Identity.generate(), Identity.generate()
    clock = ManualClock(NOW)
    terms = GrantTerms(
        audience=bob.peer_id,
        abilities=("chat/ask",),
        scope=TRAVEL,
        expires_ms=NOW + HOUR,
    )
    plain = issue_grant(alice, terms, issued_ms=NOW)
    delegable = GrantTerms(
        audience=bob.peer_id,
        abilities=("chat/ask", "memory/read"),
        scope=TRAVEL,
        expires_ms=NOW + HOUR,
        delegable=True,
    )
    checks = narrowing_checks(abilities=("chat/ask",), expires_ms=NOW + HOUR, scope=TRAVEL)
    handed_on = delegate(
        issue_grant(alice, delegable, issued_ms=NOW), alice.peer_id, bob, carol.peer_id, checks
    )

    def never_revoked(ids: object) -> bool:
        return False

    warm = GrantVerifier(alice, never_revoked)
    db = Database(tmp / "node.db")
    gate = AccessGate(alice, AccessStore(db), clock)
    asker = SmpEndpoint(bob, clock, ReplayWindow(clock), registry=ACCESS_MESSAGES)
    with_grant = asker.request(Ask(question=QUESTION, scope=TRAVEL), grant=plain).payload
    without_grant = asker.request(Ask(question=QUESTION, scope=TRAVEL)).payload

    def receive(payload: bytes) -> IncomingRequest:
        server = SmpEndpoint(alice, clock, ReplayWindow(clock), registry=ACCESS_MESSAGES)
        return server.receive_request(bob.peer_id, payload)

    incoming = receive(with_grant)

    def gate_and_audit() -> None:
        gate.allowed(incoming, gate.authorize(incoming), ["l0:chunk:x"])

    signer = nacl.signing.SigningKey.generate()
    message = os.urandom(256)
    signature = signer.sign(message).signature
    ask = {"peer": bob.peer_id, "ability": "chat/ask", "now_ms": NOW, "requested": TRAVEL}
    kinds: dict[str, Callable[[], object]] = {
        "warm": lambda: warm.authorize(plain, **ask),
        "cold": lambda: GrantVerifier(alice, never_revoked).authorize(plain, **ask),
        "delegated": lambda: warm.authorize(handed_on, **(ask | {"peer": carol.peer_id})),
        "gate": lambda: gate.authorize(incoming),
        "gate+audit": gate_and_audit,
        "ed25519": lambda: signer.verify_key.verify(message, signature),
        "receive": lambda: receive(without_grant),
        "receive+grant": lambda: receive(with_grant),
    }
    sizes = {"plain grant": len(plain), "delegated grant": len(handed_on)}
    sizes |= {"ask frame": len(without_grant), "ask frame with grant": len(with_grant)}
    return kinds, db, ", ".join(f"{name} {size} B" for name, size in sizes.items())


def authorisation(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, one_core() as pinning:
        kinds, db, sizes = grant_kinds(Path(tmp))
        try:
            rates = median_rates(kinds, args.runs, args.seconds)
        finally:
            db.close()

    def row(name: str) -> str:
        return f"{figure(rates[name])}  {rates[name] / GOAL_PER_S:5.1f}x goal"

    def verifies(name: str) -> str:
        return f"{rates['ed25519'] / rates[name]:.1f} Ed25519 verifications"

    report(
        f"1. Grant checks on one core ({pinning}), median of {args.runs} runs of about "
        f"{args.seconds:g} s; goal {GOAL_PER_S:,}/s; Python {platform.python_version()}, "
        f"PyNaCl {nacl.__version__}, {platform.processor() or platform.machine()}",
        [
            ("(a) GrantVerifier.authorize, cached", row("warm")),
            ("(b) the same, fresh verifier (cold)", row("cold")),
            ("(c) delegated A->B->C, cached", row("delegated")),
            ("(d) AccessGate.authorize, SQLite", row("gate")),
            ("(d+) (d) then the audit row", row("gate+audit")),
            ("bare Ed25519 verify (256 B)", figure(rates["ed25519"])),
            ("receive_request, ask without grant", figure(rates["receive"])),
            ("receive_request, ask with grant", figure(rates["receive+grant"])),
            ("  (a) costs", verifies("warm")),
            ("  (b) costs", verifies("cold")),
            ("  (d) costs", verifies("gate")),
            ("  (d) time / (a) time", f"{rates['warm'] / rates['gate']:.2f}"),
            (
                "  receive with grant + (d+)",
                figure(1 / (1 / rates["receive+grant"] + 1 / rates["gate+audit"])),
            ),
            ("  sizes", sizes),
        ],
    )


# -- 2. context bundles --------------------------------------------------------------------------


def context_plaintext(grant_id: str) -> bytes:
    """A ``context`` answer's plaintext as a node builds it: 8 snippets of about 1 KB."""
    items = [
        {
            "ref": f"l0:chunk:{index:032x}",
            "layer": "l0",
            "title": f"note {index}.md",
            "text": document(random.Random(index), paragraphs=3)[:SNIPPET_CHARS],
        }
        for index in range(SNIPPETS)
    ]
    return pack_canonical({"query": "travel food", "grant_id": grant_id, "items": items})


def bundles(args: argparse.Namespace) -> None:
    sender, recipient = Identity.generate(), Identity.generate()
    plaintext = context_plaintext(os.urandom(64).hex())

    def sealed() -> bytes:
        return seal(
            sender,
            recipient.peer_id,
            plaintext,
            content_type=CONTEXT_CONTENT_TYPE,
            created_ms=NOW,
        )

    bundle = sealed()
    with one_core() as pinning:
        key, nonce = bytes(32), bytes(24)
        rates = median_rates(
            {
                "seal": sealed,
                "open": lambda: open_sealed(recipient, bundle, expected_sender=sender.peer_id),
                "aead": lambda: nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
                    plaintext, None, nonce, key
                ),
            },
            args.runs,
            args.seconds,
        )
    report(
        f"2. Context bundles ({pinning}): {SNIPPETS} snippets of {SNIPPET_CHARS} characters, "
        f"plaintext {len(plaintext):,} B, bundle {len(bundle):,} B",
        [
            ("seal", figure(rates["seal"])),
            ("open_sealed", figure(rates["open"])),
            ("bare XChaCha20-Poly1305 (baseline)", figure(rates["aead"])),
            ("  seal time / bare AEAD time", f"{rates['aead'] / rates['seal']:.1f}"),
        ],
    )


# -- 3. ask between two daemons ------------------------------------------------------------------


def p2p_addr(node: NodeProcess) -> str:
    return json.loads((node.data_dir / "daemon.json").read_text())["p2p"][0]


def init_node(data_dir: Path, name: str, answer_tokens: int) -> None:
    """``init``, then greedy decoding and the answer cap in its config.toml."""
    run_cli(data_dir, "init", "--name", name)
    config = data_dir / "config.toml"
    text = config.read_text()
    for old, new in (
        ("temperature = 0.3", "temperature = 0.0"),
        ("max_answer_tokens = 256", f"max_answer_tokens = {answer_tokens}"),
    ):
        assert old in text, f"config.toml no longer says {old!r}"
        text = text.replace(old, new)
    config.write_text(text)


def streamed(api: httpx.Client, path: str, body: dict) -> dict:
    """Seconds to the first ``token`` event and to the end, tokens, the answer and how many
    memories it drew on (the chat's ``sources`` event, or the ask's ``done``)."""
    started = time.perf_counter()
    first = None
    pieces: list[str] = []
    sources = 0
    event = None
    with api.stream("POST", path, json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
                if event == "error":
                    raise AssertionError(f"{path} streamed an error")
            elif line.startswith("data:"):
                data = json.loads(line[5:])
                if event == "token":
                    pieces.append(data["text"])
                    first = first or time.perf_counter()
                elif event == "sources":
                    sources = len(data["sources"])
                elif event == "done" and "sources" in data:
                    sources = data["sources"]
    ended = time.perf_counter()
    assert first is not None, f"{path} streamed no token"
    text = "".join(pieces).strip()
    return {
        "first": first - started,
        "total": ended - started,
        "tokens": len(pieces),
        "rate": (len(pieces) - 1) / max(ended - first, 1e-9),
        "chars": len(text),
        "text": text,
        "sources": sources,
    }


def asked(api: httpx.Client, path: str, question: str) -> dict:
    started = time.perf_counter()
    response = api.post(path, json={"question": question})
    response.raise_for_status()
    result = response.json()
    return {
        "total": time.perf_counter() - started,
        "chars": len(result["answer"]),
        "text": result["answer"],
        "sources": result["sources"],
    }


@contextmanager
def two_nodes(root: Path, answer_tokens: int) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    """A (asks) and B (answers, memory tagged ``travel``, grants A), started and introduced."""
    asker_dir, answerer_dir = root / "asker", root / "answerer"
    init_node(asker_dir, "Ana", answer_tokens)
    init_node(answerer_dir, "Ben", answer_tokens)
    started: list[NodeProcess] = []
    try:
        answerer = start_node(answerer_dir)
        started.append(answerer)
        notes = root / "notes"
        notes.mkdir()
        for name, text in NOTES.items():
            (notes / name).write_text(text)
        (root / "garden.md").write_text(OTHER_NOTE)
        answerer.cli("ingest", str(notes), "--tag", "travel")
        answerer.cli("ingest", str(root / "garden.md"), "--tag", "home")
        asker = start_node(asker_dir)  # while B builds its L1 memory
        started.append(asker)
        answerer.cli("memory", "status", "--wait")
        asker.cli("peers", "add", p2p_addr(answerer), "--name", "ben")
        answerer.cli("peers", "add", p2p_addr(asker), "--name", "ana")
        answerer.cli("grant", "ana", "--ability", "chat/ask", "--tags", "travel", "--expires", "1h")
        yield asker, answerer
    finally:
        for node in started:
            node.terminate()


def ask_latency(args: argparse.Namespace) -> None:
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.questions)]
    ask_path = "/api/peers/ben/ask"
    with tempfile.TemporaryDirectory() as tmp:
        setup_started = time.perf_counter()
        with (
            two_nodes(Path(tmp), args.answer_tokens) as (asker, answerer),
            asker.http() as a_api,
            answerer.http() as b_api,
        ):
            setup_s = time.perf_counter() - setup_started
            asked(a_api, ask_path, "warm up")
            streamed(b_api, "/api/chat", {"message": "warm up"})
            ask_rows, ask_streams, local_rows = [], [], []
            for question in questions:
                ask_rows.append(asked(a_api, ask_path, question))
                local_rows.append(streamed(b_api, "/api/chat", {"message": question}))
                ask_streams.append(
                    streamed(a_api, ask_path, {"question": question, "stream": True})
                )

    def median(rows: list[dict], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    def stream_line(rows: list[dict]) -> str:
        return (
            f"first token p50 {median(rows, 'first') * 1000:7.0f} ms, done p50 "
            f"{median(rows, 'total') * 1000:7.0f} ms, {median(rows, 'tokens'):4.0f} tokens, "
            f"{median(rows, 'rate'):5.1f} tokens/s"
        )

    same = sum(a["text"] == s["text"] for a, s in zip(ask_rows, ask_streams, strict=True))
    ms_per_char = [
        (a["total"] / max(a["chars"], 1)) / (local["total"] / max(local["chars"], 1))
        for a, local in zip(ask_rows, local_rows, strict=True)
    ]
    report(
        f"3. ask over loopback, {len(questions)} questions, answers of up to "
        f"{args.answer_tokens} tokens, temperature 0 (setup {setup_s:.0f} s)",
        [
            (
                "A asks B (owner API of A)",
                f"done p50 {median(ask_rows, 'total') * 1000:7.0f} ms, "
                f"answer p50 {median(ask_rows, 'chars'):.0f} chars, "
                f"{median(ask_rows, 'sources'):.0f} memories",
            ),
            (
                "B's owner asks B (chat API)",
                f"done p50 {median(local_rows, 'total') * 1000:7.0f} ms, "
                f"answer p50 {median(local_rows, 'chars'):.0f} chars, "
                f"{median(local_rows, 'sources'):.0f} memories",
            ),
            (
                "  ratio ask/local (medians)",
                f"{median(ask_rows, 'total') / median(local_rows, 'total'):.2f}",
            ),
            (
                "  ratio per answer character",
                f"{statistics.median(ms_per_char):.2f} (median per question)",
            ),
            ("A asks B, streamed", stream_line(ask_streams)),
            ("B's chat, streamed", stream_line(local_rows)),
            (
                "  first token ask - local",
                f"{(median(ask_streams, 'first') - median(local_rows, 'first')) * 1000:+.0f} ms",
            ),
            ("  ask answers equal streamed/not", f"{same} of {len(questions)}"),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed batches per kind")
    parser.add_argument("--seconds", type=float, default=0.2, help="length of one batch")
    parser.add_argument("--questions", type=int, default=5, help="questions asked in part 3")
    parser.add_argument("--answer-tokens", type=int, default=64, help="answer cap in part 3")
    parser.add_argument("--skip-ask", action="store_true", help="skip part 3 (two daemons)")
    args = parser.parse_args()
    authorisation(args)
    bundles(args)
    if not args.skip_ask:
        ask_latency(args)


if __name__ == "__main__":
    main()
