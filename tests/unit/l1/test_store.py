"""L1 records in a real SQLite file: forgetting what a document gave, across record kinds."""

from __future__ import annotations

import uuid

import pytest

from secondme.node.core.db import Database
from secondme.node.memory.documents import ChunkRecord, DocumentRecord, DocumentStore
from secondme.node.memory.l1.extract import OWNER_KEY
from secondme.node.memory.l1.point_store import PointRow
from secondme.node.memory.l1.store import L1Store
from secondme.node.memory.l1.topic_store import TopicDraft


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "node.db")
    yield database
    database.close()


def add_document(db: Database, name: str, texts: list[str]) -> tuple[str, list[str]]:
    doc_id = str(uuid.uuid4())
    chunks = [
        ChunkRecord(id=str(uuid.uuid4()), doc_id=doc_id, index=i, text=t, start=0, end=len(t))
        for i, t in enumerate(texts)
    ]
    doc = DocumentRecord(
        id=doc_id,
        path=f"/notes/{name}",
        name=name,
        kind="text",
        title=None,
        content_hash=name,
        size=1,
        tags=(),
        chunk_count=len(chunks),
        ingested_at=1.0,
    )
    DocumentStore(db).commit_document(doc, chunks)
    return doc_id, [c.id for c in chunks]


def test_forgetting_a_document_removes_only_what_was_derived_from_it(db):
    store, documents = L1Store(db), DocumentStore(db)
    hike, (h1, h2) = add_document(db, "hike.md", ["Ana and I hiked.", "Torre was cold."])
    _, (c1,) = add_document(db, "cook.md", ["Ana cooked bacalhau."])
    store.entities.save(
        [h1, h2],
        [
            ("ana", "Ana", "person", {h1: ("Ana", "Ana and I hiked.")}),
            ("torre", "Torre", "place", {h2: ("Torre", "Torre was cold.")}),
        ],
        {(OWNER_KEY, "torre", "hiked to"): {h2}},
        "Maria",
    )
    store.entities.save([c1], [("ana", "Ana", None, {c1: ("Ana", "Ana cooked.")})], {}, "Maria")
    store.topics.replace(
        [
            TopicDraft(
                id="t-hike",
                name="Hiking",
                description="",
                terms=(),
                confidence=0.9,
                method="model",
                named_from=(h1,),
                chunk_ids=(h1, h2),
                events=(("2024-06-14", h2, "Torre was cold."),),
            ),
            TopicDraft(
                id="t-cook",
                name="Cooking",
                description="",
                terms=(),
                confidence=0.9,
                method="model",
                named_from=(c1,),
                chunk_ids=(c1,),
                events=(),
            ),
        ]
    )
    old = store.profiles.add(
        first_person="I hike.", third_person="", recently="", method="x", topics=[], sources=[h1]
    )
    kept = store.profiles.add(
        first_person="I cook.", third_person="", recently="", method="x", topics=[], sources=[c1]
    )
    point = str(uuid.uuid4())
    store.points.commit(
        [PointRow(point_id=point, kind="topic", ref_id="t-hike", text="H", tags=())]
    )

    released = store.forget_chunks([h1, h2])
    documents.remove_document(hike)
    gone = store.prune()

    assert released == [point] and gone == []  # out of the index before its chunks go
    assert point in documents.pending_garbage()
    assert [t["id"] for t in store.topics.list()] == ["t-cook"]
    names = {e["name"]: e for e in store.entities.list()}
    assert set(names) == {"Ana"}
    assert [n for _, n in store.entities.names()] == ["Ana"]  # the owner is not a match target
    assert [e["name"] for e in store.entities.list(ids=[names["Ana"]["id"]])] == [
        "Ana"
    ]  # Torre and the owner's relation to it came only from hike.md
    assert names["Ana"]["chunks"] == [c1]
    assert names["Ana"]["context"] == "Ana cooked."  # not the sentence of the forgotten note
    assert store.profiles.versions() == [kept] and old != kept


def test_profile_versions_are_kept_and_unchanged_text_is_not_a_new_version(db):
    store = L1Store(db)
    assert store.profiles.get() is None
    first = store.profiles.add(
        first_person="a", third_person="b", recently="c", method="x", topics=[], sources=[]
    )
    same = store.profiles.add(
        first_person="a", third_person="b", recently="c", method="x", topics=[], sources=[]
    )
    second = store.profiles.add(
        first_person="a2", third_person="b", recently="c", method="x", topics=[], sources=[]
    )
    assert first == same and second == first + 1
    assert store.profiles.get(first)["first_person"] == "a"
    assert store.profiles.get()["version"] == second


def test_a_replaced_point_goes_to_garbage(db):
    store, documents = L1Store(db), DocumentStore(db)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    store.points.commit([PointRow(point_id=first, kind="insight", ref_id="d", text="a", tags=())])
    replaced = store.points.commit(
        [PointRow(point_id=second, kind="insight", ref_id="d", text="b", tags=())]
    )
    assert replaced == [first]
    assert documents.pending_garbage() == [first]
    assert store.points.get_many([second])[second].text == "b"


def test_an_entity_shows_only_what_its_remaining_mentions_say(db):
    store, documents = L1Store(db), DocumentStore(db)
    clinic, (h1,) = add_document(db, "clinic.md", ["Dr. Rui Costa changed my insulin dose."])
    _, (w1,) = add_document(db, "work.md", ["Rui Costa reviewed the budget."])
    store.entities.save(
        [h1], [("rui costa", "Dr. Rui Costa", "person", {h1: ("Dr. Rui Costa", "insulin")})], {}, ""
    )
    store.entities.save(
        [w1], [("rui costa", "Rui Costa", None, {w1: ("Rui Costa", "budget")})], {}, ""
    )
    [rui] = store.entities.list()
    assert (rui["name"], rui["context"]) == ("Dr. Rui Costa", "insulin")
    point = str(uuid.uuid4())
    store.points.commit(
        [PointRow(point_id=point, kind="entity", ref_id=rui["id"], text="x", tags=())]
    )

    assert store.forget_chunks([h1]) == [point]
    documents.remove_document(clinic)
    store.prune()
    [rui] = store.entities.list()
    assert (rui["name"], rui["context"], rui["chunks"]) == ("Rui Costa", "budget", [w1])
    assert store.points.get("entity", rui["id"]) is None  # indexed again from what remains


def test_a_profile_version_that_lost_a_source_is_pruned(db):
    store, documents = L1Store(db), DocumentStore(db)
    note, (n1,) = add_document(db, "note.md", ["I hike."])
    _, (k1,) = add_document(db, "kept.md", ["I cook."])
    store.profiles.add(
        first_person="I hike.", third_person="", recently="", method="x", topics=[], sources=[n1]
    )
    kept = store.profiles.add(
        first_person="I cook.", third_person="", recently="", method="x", topics=[], sources=[k1]
    )
    documents.remove_document(note)  # as a replaced file's chunks go, without forget_chunks
    store.prune()
    assert store.profiles.versions() == [kept]
