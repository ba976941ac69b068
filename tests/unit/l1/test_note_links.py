"""A note's wikilinks become "links to" relations in the entity graph."""

from __future__ import annotations

import uuid

import pytest

from secondme.node.core.db import Database
from secondme.node.memory.documents import ChunkRecord, DocumentRecord, DocumentStore
from secondme.node.memory.imports import notes
from secondme.node.memory.l1.extract import (
    LINK_LABEL,
    ChunkText,
    extract_entities,
    group_relations,
    rule_kind,
    with_links,
)
from secondme.node.memory.l1.store import L1Store


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "node.db")
    yield database
    database.close()


def note_chunks(path: str, data: bytes) -> tuple[str, tuple[str, ...], list[ChunkText]]:
    doc = notes.read(path, data).documents[0]
    return (
        doc.title or path,
        doc.links,
        [ChunkText(f"c{i}", s.text) for i, s in enumerate(doc.segments)],
    )


def test_each_link_is_a_relation_supported_by_the_chunks_that_name_it() -> None:
    title, links, chunks = note_chunks(
        "Vault/Trip to Porto.md",
        "# Trip to Porto\n\nBooked with [[Inês Gonçalves]].\n\nAsk [[Budget 2024|the money note]]."
        "\n\nInês said yes. [[Trip to Porto]] again.".encode(),
    )
    findings, relations = extract_entities(chunks)
    findings, relations = with_links(findings, relations, title, links, chunks)
    grouped = group_relations(relations)
    assert grouped[("trip to porto", "inês gonçalves", LINK_LABEL)] == {"c1"}
    assert grouped[("trip to porto", "budget 2024", LINK_LABEL)] == {"c0"}  # shown by its alias
    assert not any(source == target for source, target, _ in grouped)  # no link to itself
    keys = [f.key for f in findings]
    assert len(keys) == len(set(keys))
    ines = next(f for f in findings if f.key == "inês gonçalves")
    assert "c1" in ines.mentions


def test_nothing_changes_without_links_and_a_daily_note_still_has_a_key() -> None:
    chunks = [ChunkText("c0", "Lunch with Ana.")]
    findings, relations = extract_entities(chunks)
    assert with_links(findings, relations, "Lunch", (), chunks) == (findings, relations)
    assert with_links(findings, relations, None, ("Ana",), chunks) == (findings, relations)
    _, daily = with_links([], [], "2024-03-05", ("Ana Silva",), chunks)
    assert [(r.source, r.target, r.label) for r in daily] == [
        ("2024-03-05", "ana silva", LINK_LABEL)
    ]


def test_links_are_stored_in_the_graph_and_go_with_their_chunks(db) -> None:
    title, links, chunks = note_chunks(
        "Garden plan.md", b"Plant beans with [[Alice Moore]].\n\nSee [[Seeds]] too."
    )
    doc_id = str(uuid.uuid4())
    records = [
        ChunkRecord(id=str(uuid.uuid4()), doc_id=doc_id, index=i, text=c.text, start=0, end=1)
        for i, c in enumerate(chunks)
    ]
    chunks = [ChunkText(r.id, r.text) for r in records]
    DocumentStore(db).commit_document(
        DocumentRecord(
            id=doc_id,
            path="/vault/Garden plan.md",
            name="Garden plan.md",
            kind="note",
            title=title,
            content_hash="h",
            size=1,
            tags=(),
            chunk_count=len(records),
            ingested_at=1.0,
        ),
        records,
    )
    findings, relations = with_links(*extract_entities(chunks), title, links, chunks)
    store = L1Store(db)
    store.entities.save(
        [c.id for c in chunks],
        [(f.key, f.name, rule_kind(f.kind_votes), f.mentions) for f in findings],
        group_relations(relations),
        "Maria",
    )
    (plan,) = [e for e in store.entities.list() if e["name"] == "Garden plan"]
    shown = {(r["label"], r["other"], r["direction"]) for r in plan["relations"]}
    assert {(LINK_LABEL, "Alice Moore", "out"), (LINK_LABEL, "Seeds", "out")} <= shown
    DocumentStore(db).remove_document(doc_id)
    store.prune()
    assert not [e for e in store.entities.list() if e["name"] in ("Garden plan", "Seeds")]
