"""Facts in a real SQLite file: replay over documents, forgetting, queries, and peer scope."""

from __future__ import annotations

import uuid

import pytest

from secondme.node.core.db import Database
from secondme.node.memory.documents import ChunkRecord, DocumentRecord, DocumentStore
from secondme.node.memory.l1.facts import chunk_statements
from secondme.node.memory.l1.profile import peer_profile
from secondme.node.memory.l1.store import L1Store
from secondme.node.memory.vectors import ScopeFilter
from secondme.node.people.owner import OwnerProfile


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "node.db")
    yield database
    database.close()


def ingest(db: Database, name: str, text: str, when: str, tags=()) -> str:
    """A one-chunk document whose facts are stored as the L1 document job stores them."""
    doc_id = str(uuid.uuid4())
    chunk = ChunkRecord(id=str(uuid.uuid4()), doc_id=doc_id, index=0, text=text, start=0, end=1)
    doc = DocumentRecord(
        id=doc_id,
        path=f"/notes/{name}",
        name=name,
        kind="text",
        title=None,
        content_hash=name,
        size=1,
        tags=tuple(tags),
        chunk_count=1,
        ingested_at=1.0,
    )
    DocumentStore(db).commit_document(doc, [chunk])
    statements = chunk_statements(chunk.id, text, owner_name="Maria")
    L1Store(db).facts.replace_document(doc_id, statements, {chunk.id: when})
    return doc_id


def current(db: Database, **kwargs) -> list[tuple[str, str]]:
    return [(f.predicate, f.object) for f in L1Store(db).facts.facts(**kwargs)]


def test_a_later_move_closes_the_older_home_and_forgetting_it_reopens_it(db):
    ingest(db, "2025.md", "I live in Porto.", "2025-05-01")
    moved = ingest(db, "chat.md", "I moved to Lisbon.", "2026-03-20")
    assert current(db) == [("lives_in", "Lisbon")]
    everything = {f.object: f for f in L1Store(db).facts.facts(include_ended=True)}
    assert everything["Porto"].valid_to == "2026-03-20"
    assert everything["Porto"].closed_by == everything["Lisbon"].id
    DocumentStore(db).remove_document(moved)
    assert current(db) == [("lives_in", "Porto")]


def test_an_older_document_ingested_later_does_not_close_the_newer_fact(db):
    ingest(db, "chat.md", "I moved to Lisbon.", "2026-03-20")
    ingest(db, "old.md", "I live in Porto.", "2024-01-10")
    assert current(db) == [("lives_in", "Lisbon")]


def test_a_replaced_document_says_only_what_it_says_now(db):
    doc = ingest(db, "note.md", "I work at Acme.", "2025-01-01")
    chunk = DocumentStore(db).chunks_of(doc)[0]
    statements = chunk_statements(chunk.id, "I work at Quanto.", owner_name="Maria")
    L1Store(db).facts.replace_document(doc, statements, {chunk.id: "2025-02-01"})
    assert current(db) == [("works_at", "Quanto")]


def test_at_and_about_select_the_facts(db):
    ingest(db, "a.md", "I live in Porto. My sister Ana lives nearby.", "2025-05-01")
    ingest(db, "b.md", "I moved to Lisbon.", "2026-03-20")
    assert current(db, at="2025-09") == [("lives_in", "Porto"), ("sister", "Ana")]
    assert current(db, at="2024-12-31") == []
    assert current(db, about=["Ana"]) == [("sister", "Ana")]
    assert [f.sentence() for f in L1Store(db).facts.about(["me"])] == [
        "Ana is my sister (since 2025-05-01, until now)",
        "I live in Lisbon (since 2026-03-20, until now)",
    ]  # in time order


def test_facts_carry_their_documents_tags(db):
    ingest(db, "health.md", "I can't stand hospitals.", "2025-01-01", tags=("health",))
    assert [f.tags for f in L1Store(db).facts.facts()] == [("health",)]


def test_a_peer_profile_never_states_a_fact_from_outside_the_peers_scope(db):
    """The attack: a peer granted the "work" tag asks for the profile, hoping to learn where the
    owner lives and who their partner is from a private note."""
    ingest(db, "job.md", "I work at Quanto Labs.", "2025-01-01", tags=("work",))
    ingest(db, "home.md", "I live in Porto. I married Rui.", "2025-01-01", tags=("private",))
    owner = OwnerProfile(fields={"name": "Maria"}, public=frozenset())
    work = ScopeFilter(tags_any=("work",))
    seen = peer_profile(L1Store(db), DocumentStore(db), owner, work).text
    assert "Quanto Labs" in seen
    assert "Porto" not in seen and "Rui" not in seen
    layers = ScopeFilter(tags_any=("work",), layers=("l0",))  # no L1 records: no facts
    assert "Quanto" not in peer_profile(L1Store(db), DocumentStore(db), owner, layers).text
    assert "Quanto" not in peer_profile(L1Store(db), DocumentStore(db), owner, None).text
