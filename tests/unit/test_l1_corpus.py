"""The synthetic L1 corpus must be deterministic, single-topic per note, and answerable."""

from __future__ import annotations

import re
import time

import pytest

from tests.l1_corpus import (
    ALL_TOPICS,
    ENTITIES,
    QUESTIONS,
    TOPICS,
    Document,
    Question,
    make_corpus_bytes,
    make_documents,
    relevant,
)


def _pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


# One whole-word pattern per topic, so "ward" does not match "towards".
VOCABULARY = {key: _pattern(t.vocabulary) for key, t in ALL_TOPICS.items()}


def _hits(topic: str, text: str) -> set[str]:
    return {match.lower() for match in VOCABULARY[topic].findall(text)}


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return make_documents()


@pytest.fixture(scope="module")
def corpus() -> list[Document]:
    return make_corpus_bytes(400_000)


def test_same_seed_gives_same_documents(documents):
    assert make_documents() == documents
    assert make_documents(seed=8) != documents
    assert make_corpus_bytes(50_000, seed=3) == make_corpus_bytes(50_000, seed=3)


def test_documents_have_the_promised_shape(documents):
    assert len(documents) == 3 * len(TOPICS)
    assert len({d.name for d in documents}) == len(documents)
    assert len({d.text for d in documents}) == len(documents)
    for document in documents:
        assert document.name == f"{document.topic}-{document.name[-5:-3]}.md"
        assert document.text.startswith("# ")
        assert document.text.count("\n\n") >= 2
        for fact in document.facts:
            assert fact in document.text


def test_there_are_enough_topics_and_their_vocabularies_do_not_overlap():
    assert len(TOPICS) >= 4
    assert len(ALL_TOPICS) >= 8
    seen: dict[str, str] = {}
    for key, topic in ALL_TOPICS.items():
        for term in topic.vocabulary:
            assert term == term.lower()
            assert term not in seen, f"{term!r} is in both {seen.get(term)} and {key}"
            seen[term] = key


def test_each_document_uses_only_its_own_topic_vocabulary(documents, corpus):
    for document in documents + corpus:
        assert len(_hits(document.topic, document.text)) >= 3, document.name
        for other in ALL_TOPICS:
            if other != document.topic:
                assert not _hits(other, document.text), (document.name, other)


def test_notes_are_first_person_and_sometimes_dated(documents):
    body = " ".join(d.text.split("\n", 1)[1] for d in documents)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", body) if s]
    first_person = [s for s in sentences if re.search(r"\b(I|my|My|Our|our)\b", s)]
    assert len(first_person) >= 0.95 * len(sentences)
    assert re.search(r"\bOn \d{1,2} [A-Z][a-z]+ \d{4} I\b", body)
    assert re.search(r"\b20\d\d-\d\d-\d\d\b", body)


def test_every_question_is_answered_by_a_document_of_its_topic(documents):
    assert len(QUESTIONS) >= 20
    for question in QUESTIONS:
        assert question.topic in TOPICS
        assert all(term == term.lower() for term in question.answer_terms)
        assert any(d.topic == question.topic and relevant(question, d.text) for d in documents), (
            question.text
        )


def test_first_document_of_each_topic_states_all_its_facts(documents):
    for key, topic in TOPICS.items():
        first = next(d for d in documents if d.topic == key)
        assert first.facts == topic.facts


def test_only_planted_facts_answer_questions(documents, corpus):
    for document in documents + corpus:
        filler = document.text
        for fact in document.facts:
            filler = filler.replace(fact, "")
        answered = [q.text for q in QUESTIONS if relevant(q, filler)]
        assert answered == [], document.name


def test_relevant_needs_every_term_in_any_case():
    question = Question("Who taught me to swim?", "family", ("ana", "swim"))
    assert relevant(question, "ANA taught me to Swim.")
    assert not relevant(question, "Ana taught me to cook.")


def test_planted_entities_appear(documents):
    text = "\n".join(d.text for d in documents)
    for name in ENTITIES:
        assert re.search(rf"\b{re.escape(name)}(?!\w)", text), name
    family = "\n".join(d.text for d in documents if d.topic == "family")
    assert "My sister Ana lives in Porto" in family
    nursing = "\n".join(d.text for d in documents if d.topic == "nursing")
    assert "Dr. Rui Costa" in nursing and "Hospital de Santa Maria" in nursing


def test_corpus_bytes_reaches_its_size_quickly():
    started = time.perf_counter()
    documents = make_corpus_bytes(1_000_000)
    elapsed = time.perf_counter() - started
    sizes = [len(d.text.encode()) for d in documents]
    assert 1_000_000 <= sum(sizes) < 1_000_000 + 8_500
    assert all(4_000 <= size <= 8_500 for size in sizes)
    assert {d.topic for d in documents} == set(ALL_TOPICS)
    assert len({d.name for d in documents}) == len(documents)
    assert elapsed < 2.0
