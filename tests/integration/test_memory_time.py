"""Time on L0 memories through the real embedder, vector store and SQLite."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from secondme.node.core import db as db_module
from secondme.node.core.config import DataDir, MemorySettings
from secondme.node.core.db import Database
from secondme.node.core.migrations import MIGRATIONS
from secondme.node.memory.ingest import point_payload
from secondme.node.memory.retrieval import SearchHit
from secondme.node.memory.service import Memory
from secondme.node.memory.timeline import file_time
from secondme.node.models import locate
from secondme.node.models.embedder import Embedder

pytestmark = pytest.mark.slow

CHAT = [
    {"speaker": "Ana", "text": "How was your week?", "time": "2026-05-14T17:58:00"},
    {"speaker": "me", "text": "Hard. I went to a support group yesterday.", "time": 1778781600},
    {"speaker": "Ana", "text": "I am glad you went.", "time": "2026-05-14T18:01:00"},
    {"speaker": "Ana", "text": "Back from the trip, the sea was cold.", "time": "2026-06-20T09:00"},
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(locate.embedder_path(""))


def open_memory(tmp_path: Path, embedder: Embedder) -> tuple[Memory, Database]:
    data_dir = DataDir(tmp_path)
    data_dir.root.mkdir(exist_ok=True)
    db = Database(data_dir.database)
    memory = Memory(data_dir, db, MemorySettings(), embedder)
    memory.open()
    return memory, db


def chat_bytes(turns: list[dict]) -> bytes:
    return "\n".join(json.dumps(t) for t in turns).encode()


async def test_chat_memory_knows_its_turns_sessions_and_resolved_dates(tmp_path, embedder):
    memory, db = open_memory(tmp_path, embedder)
    try:
        await memory.ingest("/chats/chat-with-ana.jsonl", chat_bytes(CHAT), [], mtime=1.8e9)
        hits = await memory.search("when did I go to the support group", k=3)
        hit = next(h for h in hits if "support group" in h.text)
        assert isinstance(hit, SearchHit)
        assert hit.time_source == "message" and hit.session == "1"
        assert (hit.turn_first, hit.turn_last) == (1, 3)
        assert [(d.text, d.date, d.granularity) for d in hit.dates] == [
            ("yesterday", "2026-05-13", "day")
        ]
        assert hit.text[hit.dates[0].start : hit.dates[0].end] == "yesterday"
        assert hit.citation() == "chat-with-ana.jsonl, turns 1\u20133, 2026-05-14"
        assert "support group yesterday (2026-05-13)." in hit.dated_text()
        source = hit.to_json()["source"]
        assert source["when"] == "2026-05-14" and source["turns"] == [1, 3]
        assert source["dates"][0]["date"] == "2026-05-13"
        # a month later is another session, in a chunk of its own
        later = [c for c in memory.documents.chunks_of(hit.doc_id) if c.session == "2"]
        assert [(c.turn_first, c.turn_last) for c in later] == [(4, 4)]
        payload = point_payload(later[0], memory.documents.get(hit.doc_id))
        assert payload["when_start"] == payload["when_end"] == 1781946000.0
    finally:
        memory.close()
        db.close()


async def test_notes_take_their_time_from_text_then_document_then_file(tmp_path, embedder):
    memory, db = open_memory(tmp_path, embedder)
    mtime = 1767225600.0  # 2026-01-01T00:00:00Z
    try:
        await memory.ingest("/n/a.md", b"We signed the lease on 3 May 2025.", [], mtime=mtime)
        await memory.ingest("/n/b.md", b"---\ndate: 2024-02-10\n---\nA cold day.", [], mtime)
        await memory.ingest("/n/c.txt", b"The plants need water.", [], mtime=mtime)
        await memory.ingest("/n/d.txt", b"No time at all here.", [])
        found = {}
        for path in ("/n/a.md", "/n/b.md", "/n/c.txt", "/n/d.txt"):
            doc = memory.documents.by_path(path)
            chunk = memory.documents.chunks_of(doc.id)[0]
            found[path] = (chunk.time_source, chunk.time_start)
        assert found == {
            "/n/a.md": ("text", "2025-05-03"),
            "/n/b.md": ("document", "2024-02-10"),
            "/n/c.txt": ("file", "2026-01-01T00:00:00+00:00"),
            "/n/d.txt": ("file", found["/n/d.txt"][1]),
        }
        # Sent without a file time: the time the node received it is the last resort.
        received = memory.documents.by_path("/n/d.txt").ingested_at
        assert found["/n/d.txt"][1] == file_time(received)
        assert memory.documents.by_path("/n/c.txt").mtime == mtime
        hit = next(h for h in await memory.search("lease", k=4) if h.path == "/n/a.md")
        assert hit.citation() == "a.md, part 1, 2025-05-03"
    finally:
        memory.close()
        db.close()


async def test_a_data_dir_from_before_keeps_working_and_reindexes_unchanged_files(
    tmp_path, embedder, monkeypatch
):
    """Rows written before chunks knew their time: still searchable, and sending the same
    bytes again indexes them anew instead of answering "unchanged"."""
    older = [m for m in MIGRATIONS if m[0] < "0012_memory_time"]
    monkeypatch.setattr(db_module, "MIGRATIONS", tuple(older))
    data_dir = DataDir(tmp_path)
    data_dir.root.mkdir(exist_ok=True)
    Database(data_dir.database).close()
    text = "me: Hard. I went to a support group yesterday."
    conn = sqlite3.connect(data_dir.database)
    with conn:  # what the previous release wrote for one chat document
        conn.execute(
            "INSERT INTO documents (id, path, name, kind, title, content_hash, size, tags, "
            "chunk_count, ingested_at) VALUES ('d1', '/c/old.jsonl', 'old.jsonl', 'chat', NULL, "
            "?, ?, '[]', 1, 1.0)",
            (__import__("hashlib").sha256(chat_bytes(CHAT[1:2])).hexdigest(), 60),
        )
        conn.execute(
            "INSERT INTO chunks (id, doc_id, idx, text, start, end, speakers, time_start, "
            "time_end) VALUES ('00000000-0000-4000-8000-0000000000c1', 'd1', 0, ?, 0, ?, "
            "'[\"me\"]', '1778781600', '1778781600')",
            (text, len(text)),
        )
    conn.close()
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS)
    memory, db = open_memory(tmp_path, embedder)
    try:
        old = (await memory.search("support group", k=1))[0]
        assert old.text == text and old.time_source is None and old.dates == ()
        assert old.citation() == "old.jsonl, part 1"  # its time was never normalised: not shown
        result = await memory.ingest("/c/old.jsonl", chat_bytes(CHAT[1:2]), [])
        assert result.status == "replaced"
        new = (await memory.search("support group", k=1))[0]
        assert new.time_source == "message" and new.dates[0].date == "2026-05-13"
        again = await memory.ingest("/c/old.jsonl", chat_bytes(CHAT[1:2]), [])
        assert again.status == "unchanged"
    finally:
        memory.close()
        db.close()
