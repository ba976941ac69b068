"""Importers: messages (or emails, notes) per second beside reading the file alone.

Each export is generated in its app's real format by the tests' generators (seeded; two seeds
are run and both printed), then read by its importer. The baseline, timed in the same run on
the same bytes, is what any reader of the format pays before it understands a message: JSON
decoded (Telegram, ChatGPT), the text decoded and split into lines (WhatsApp, notes), the
mailbox split and each message parsed by the standard library's ``email`` (mbox). A last row
ingests one WhatsApp export through the real embedder and vector store, beside embedding the
same chunks alone, to show where an import's time goes. Medians of ``--runs`` (default 3).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import report

from secondme.node.memory.imports import chatgpt, mbox, notes, telegram, whatsapp
from tests.imports_fixtures import chats, mail
from tests.imports_fixtures import notes as vault


def median_seconds(work: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def split_mbox(data: bytes) -> int:
    """The standard library's parse of every message, on the "From " lines."""
    count = 0
    for raw in data.split(b"\nFrom ")[1:] or [data]:
        email.message_from_bytes(raw, policy=email.policy.compat32)
        count += 1
    return count


def exports(seed: int, scale: int) -> list[tuple[str, str, bytes, Callable, Callable]]:
    """(label, file name, bytes, importer, baseline) for each format."""
    wa, _, name = chats.whatsapp_chat(seed, locale="android", count=2000 * scale)
    tg_chats = [chats.telegram_chat(seed + i, count=500 * scale)[0] for i in range(4)]
    tg = chats.dumps(chats.telegram_export(tg_chats))
    gpt = chats.dumps(
        [chats.chatgpt_conversation(seed + i, turns=20)[0] for i in range(25 * scale)]
    )
    box = mail.make_mailbox(seed, count=200 * scale).data
    notes_made = vault.make_vault(seed)
    note_bytes = [n.data for n in notes_made] * (40 * scale)

    def read_notes() -> object:
        return [
            notes.read(f"n{i}.md", data)
            for i, data in enumerate(note_bytes)
            if notes.sniff(f"n{i}.md", data)
        ]

    return [
        ("WhatsApp chat (.txt)", f"WhatsApp Chat with {name}.txt", wa, whatsapp.read,
         lambda: wa.decode("utf-8").splitlines()),
        ("Telegram export (result.json)", "result.json", tg, telegram.read,
         lambda: json.loads(tg)),
        ("ChatGPT (conversations.json)", "conversations.json", gpt, chatgpt.read,
         lambda: json.loads(gpt)),
        ("mailbox (.mbox)", "All mail.mbox", box, mbox.read, lambda: split_mbox(box)),
        ("Obsidian notes (.md each)", "vault", b"".join(note_bytes), lambda _n, _d: read_notes(),
         lambda: [d.decode("utf-8").splitlines() for d in note_bytes]),
    ]  # fmt: skip


def count(imported: object) -> int:
    """Messages (or emails, notes) an import read."""
    if isinstance(imported, list):
        return len(imported)
    found = imported.found  # type: ignore[attr-defined]
    return found.messages if found.messages is not None else len(imported.documents)  # type: ignore[attr-defined]


def bench_formats(seed: int, scale: int, runs: int) -> None:
    rows = []
    for label, name, data, importer, baseline in exports(seed, scale):
        imported = importer(name, data)
        n = count(imported)
        took = median_seconds(lambda: importer(name, data), runs)  # noqa: B023
        floor = median_seconds(baseline, runs)
        rows.append(
            (
                label,
                f"{n:,} items, {len(data) / 1048576:.1f} MB: {n / took:,.0f}/s "
                f"({took:.2f} s) beside reading alone {floor * 1000:.0f} ms "
                f"({took / floor:.0f}x)",
            )
        )
    report(f"importers, seed {seed}", rows)


def bench_ingest(seed: int) -> None:
    """One WhatsApp export through the real embedder and store, beside embedding alone."""
    from secondme.node.core.config import DataDir, MemorySettings
    from secondme.node.core.db import Database
    from secondme.node.memory.service import Memory
    from secondme.node.models import locate
    from secondme.node.models.embedder import Embedder

    data, _, name = chats.whatsapp_chat(seed, locale="ios", count=1500)
    embedder = Embedder(locate.embedder_path(""))
    with tempfile.TemporaryDirectory() as folder:
        data_dir = DataDir(Path(folder))
        db = Database(data_dir.database)
        memory = Memory(data_dir, db, MemorySettings(l1_enabled=False), embedder)
        memory.open()
        import asyncio

        started = time.perf_counter()
        result = asyncio.run(memory.ingest(f"/x/WhatsApp Chat with {name}.txt", data))
        took = time.perf_counter() - started
        texts = [c.text for c in memory.documents.chunks_of(result.doc_id)]
        started = time.perf_counter()
        embedder.embed(texts)
        bare = time.perf_counter() - started
        memory.close()
        db.close()
    report(
        f"ingest of a WhatsApp export, seed {seed}",
        [
            ("messages", f"{result.new_messages:,} in {len(texts)} chunks"),
            ("through ingest", f"{took:.1f} s ({result.new_messages / took:,.0f} messages/s)"),
            ("embedding the chunks alone", f"{bare:.1f} s ({bare / took:.0%} of ingest)"),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2", help="comma-separated generator seeds")
    parser.add_argument("--scale", type=int, default=2, help="export size multiplier")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    for seed in seeds:
        bench_formats(seed, args.scale, args.runs)
    bench_ingest(seeds[0])


if __name__ == "__main__":
    main()
