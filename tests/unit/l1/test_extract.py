"""Extractive insights and rule-found entities: what L1 knows without asking the model."""

from __future__ import annotations

import numpy as np

from secondme.node.memory.l1.extract import (
    OWNER_KEY,
    ChunkText,
    central_order,
    entity_key,
    extract_entities,
    extract_insight,
    group_relations,
    rule_kind,
)

NOTE = (
    "Yesterday I went hiking in the Serra da Estrela with my sister Ana. Ana lives in Porto. "
    "I work night shifts at Hospital de Santa Maria with Dr. Rui Costa. "
    "On Monday Tomás said the trail was hard."
)


def test_central_order_puts_the_typical_row_first():
    vectors = np.array([[1.0, 0.0], [0.7, 0.7], [0.0, 1.0]])
    assert central_order(vectors)[0] == 1
    assert central_order(np.zeros((0, 2))) == []


def test_insight_is_made_of_the_documents_own_sentences():
    chunks = [
        ChunkText("a", "I hiked the ridge trail above Manteigas with Tomás in the fog."),
        ChunkText("b", "The ridge trail climbs steeply. I hiked it twice; the trail is stony."),
        ChunkText("c", "Lunch was bread and cheese."),
    ]
    vectors = np.array([[1.0, 0.1], [0.9, 0.2], [0.1, 1.0]])
    insight = extract_insight(None, chunks, vectors)
    every_sentence = " ".join(c.text for c in chunks)
    assert insight.overview and insight.overview in every_sentence
    assert insight.overview_chunk in ("a", "b")
    assert all(point.text in every_sentence for point in insight.key_points)
    assert [p.chunk_id for p in insight.key_points] == sorted(
        p.chunk_id for p in insight.key_points
    )
    assert insight.title  # from the first sentence when the file has none


def test_insight_keeps_the_parsed_title():
    chunks = [ChunkText("a", "I baked pastel de nata at the highest heat my oven allows.")]
    assert extract_insight("Baking", chunks, np.ones((1, 2))).title == "Baking"


def test_entities_are_found_and_typed_by_the_words_around_them():
    findings, _ = extract_entities([ChunkText("c1", NOTE)])
    kinds = {f.key: rule_kind(f.kind_votes) for f in findings}
    assert kinds["ana"] == "person"  # "my sister Ana"
    assert kinds["rui costa"] == "person"  # "Dr."
    assert kinds["hospital de santa maria"] == "organization"
    assert kinds["serra da estrela"] == "place"
    assert kinds["porto"] == "place"  # "in Porto"
    assert "yesterday" not in kinds and "monday" not in kinds and "i" not in kinds
    names = {f.key: f.name for f in findings}
    assert names["rui costa"] == "Dr. Rui Costa"


def test_relations_join_mentions_and_the_owner():
    _, relations = extract_entities([ChunkText("c1", NOTE)])
    grouped = group_relations(relations)
    assert grouped[("ana", "porto", "lives in")] == {"c1"}
    assert (OWNER_KEY, "ana", "sister") in grouped
    assert any(s == OWNER_KEY and t == "hospital de santa maria" for s, t, _ in grouped)


def test_possessives_and_single_letters_are_not_entities():
    findings, _ = extract_entities([ChunkText("c", "I played Bach's prelude in C major for Ana.")])
    keys = {f.key for f in findings}
    assert "bach" in keys and "bach's" not in keys
    assert "c" not in keys


def test_chat_speakers_are_people():
    findings, _ = extract_entities([ChunkText("c", "see you at lunch")], speakers=["Marta"])
    assert rule_kind(next(f for f in findings if f.key == "marta").kind_votes) == "person"


def test_rules_without_evidence_leave_the_kind_open():
    findings, _ = extract_entities([ChunkText("c", "We talked about Zorblat for hours.")])
    assert rule_kind(next(f for f in findings if f.key == "zorblat").kind_votes) is None


def test_entity_key_ignores_titles_and_case():
    assert entity_key("Dr. Rui Costa") == entity_key("rui costa")


def test_a_capitalised_sentence_start_is_a_name_only_if_named_inside_a_sentence_too():
    text = "# Hiking log\nAna came along. Later I thanked Ana. Yesterday was long."
    keys = {f.key for f in extract_entities([ChunkText("c", text)])[0]}
    assert keys == {"ana"}
