"""Synthesis logic with a scripted model: what is kept, what is replaced by the owner's own words,
what is dropped, and the clear refusals for thin memory. The real model runs in the e2e test."""

from __future__ import annotations

import random

import numpy as np
import pytest

from secondme.node.l2 import synth
from secondme.node.l2.synth import (
    MIN_TRAIN,
    NotEnoughData,
    Passage,
    check_enough,
    clean_question,
    grounded_answer,
    in_proportion,
    key_fact,
    own_words,
    synthesize,
    ungrounded_answer,
    usable,
)

SAILING = Passage(
    "c1",
    "Sailing log",
    "I sailed the Albatross from Porto to Vigo in 14 hours. The wind dropped near Viana and "
    "I had to motor for two hours before the breeze came back from the north.",
    "sailing",
)
CELLO = Passage(
    "c2",
    "Cello practice",
    "My cello teacher Ingrid asked me to practise the Bach suite slowly every morning. I keep "
    "a metronome at sixty beats and record myself to hear the intonation.",
    "cello",
)
GARDEN = Passage(
    "c3",
    "Garden",
    "The tomatoes in the back garden ripened late this year because of the cold June. I "
    "planted basil between the rows and the aphids stayed away from the tomatoes.",
    "garden",
)
PASSAGES = [SAILING, CELLO, GARDEN]


@pytest.fixture(autouse=True)
def small_minimum(monkeypatch):
    """Three short passages are enough here; the real minimum is for real memories."""
    monkeypatch.setattr(synth, "MIN_WORDS", 30)


def embed(texts):
    """A bag-of-letters embedding: identical questions coincide, different ones do not."""
    out = np.zeros((len(texts), 26), dtype=np.float32)
    for row, text in enumerate(texts):
        for ch in text.lower():
            if "a" <= ch <= "z":
                out[row, ord(ch) - 97] += 1
    return out


class ScriptedModel:
    """Answers like the small model does: a question, a grounded answer, a made-up answer."""

    def __init__(self, *, questions: bool = True, grounded: bool = True) -> None:
        self.questions = questions
        self.grounded = grounded
        self.calls = 0

    async def __call__(self, messages, max_tokens, temperature):
        self.calls += 1
        user = messages[-1]["content"]
        if user.startswith("Note:"):
            note = user.split("\n", 2)[1]
            first = note.split()[2:5]
            return f"What about {' '.join(first)}?\nExtra line" if self.questions else "Sure."
        if user.startswith("My notes:"):
            note = user.split("\n", 2)[1]
            if self.grounded:
                return note.split(". ")[0] + "."
            return "I flew a spaceship to Jupiter with my friend Zorg yesterday evening."
        return "I think it was lovely weather and everybody was happy about it."


async def test_every_sample_keeps_its_provenance_and_kinds():
    model = ScriptedModel()
    report = await synthesize(
        PASSAGES, samples=6, heldout_share=0.5, system="You are Maria.", generate=model, embed=embed
    )
    kinds = {s.kind for s in report.samples}
    assert {"qa", "heldout"} <= kinds
    ids = {p.chunk_id for p in PASSAGES}
    for sample in report.samples:
        assert sample.sources and set(sample.sources) <= ids
    qa = [s for s in report.samples if s.kind == "qa"]
    assert all(s.method == "model" for s in qa)
    assert all(s.rejected and "lovely weather" in s.rejected for s in qa)
    assert report.counts()["pairs"] == len(qa)


async def test_ungrounded_model_answers_become_the_owners_words():
    model = ScriptedModel(grounded=False)
    report = await synthesize(
        PASSAGES, samples=6, heldout_share=0.0, system="s", generate=model, embed=embed
    )
    qa = [s for s in report.samples if s.kind == "qa"]
    assert qa and all(s.method == "own words" for s in qa)
    texts = {p.chunk_id: p.text for p in PASSAGES}
    for sample in qa:
        assert sample.answer in texts[sample.sources[0]].replace("\n", " ")
    assert "Zorg" not in " ".join(s.answer for s in report.samples)


async def test_unusable_questions_are_templated_and_duplicates_dropped():
    model = ScriptedModel(questions=False)
    report = await synthesize(
        PASSAGES, samples=9, heldout_share=0.0, system="s", generate=model, embed=embed
    )
    questions = [s.question for s in report.samples if s.kind == "qa"]
    assert len(questions) == len(set(questions))
    assert report.dropped.get("model question unusable or repeated (templated instead)", 0) >= 1


async def test_excluded_topics_never_reach_the_data():
    model = ScriptedModel()
    report = await synthesize(
        [
            *PASSAGES,
            Passage("c4", "More", SAILING.text.replace("Albatross", "Petrel"), "sailing"),
            Passage("c5", "Roses", GARDEN.text.replace("tomatoes", "roses"), "garden"),
        ],
        samples=8,
        heldout_share=0.3,
        system="s",
        generate=model,
        embed=embed,
        excluded_topics=["Sailing"],
    )
    assert all(s.topic != "sailing" for s in report.samples)
    assert not any("c1" in s.sources or "c4" in s.sources for s in report.samples)


async def test_context_examples_only_when_retrieval_finds_the_passage():
    async def retrieve(question):
        return "Memories: [1] ...", ("c2", "c3")

    report = await synthesize(
        PASSAGES,
        samples=6,
        heldout_share=0.0,
        system="s",
        generate=ScriptedModel(),
        embed=embed,
        retrieve=retrieve,
    )
    context = [s for s in report.samples if s.kind == "context"]
    assert context and all(s.sources[0] != "c1" and s.context for s in context)
    assert all(s.sources[0] != "c1" for s in context)


def test_empty_memory_says_ingest_first():
    with pytest.raises(NotEnoughData, match="ingest documents first"):
        check_enough([])


def test_thin_memory_says_how_much_more():
    with pytest.raises(NotEnoughData, match=r"1 more passage and about \d+ more words?"):
        check_enough([SAILING, CELLO])


async def test_too_few_examples_after_validation_is_refused():
    async def silent(messages, max_tokens, temperature):
        return ""

    with pytest.raises(NotEnoughData, match=f"needs {MIN_TRAIN}"):
        await synthesize(
            PASSAGES, samples=2, heldout_share=0.0, system="s", generate=silent, embed=embed
        )


def test_proportional_draw_covers_every_topic():
    many = [Passage(f"s{i}", "t", SAILING.text, "sailing") for i in range(6)]
    few = [Passage("g1", "t", GARDEN.text, "garden"), Passage("g2", "t", GARDEN.text, "garden")]
    chosen = in_proportion(many + few, 8, random.Random(0))
    topics = [p.topic for p in chosen]
    assert topics.count("sailing") == 6 and topics.count("garden") == 2


def test_short_passages_are_not_usable():
    short = Passage("x", "t", "Fine thanks.", None)
    assert usable([short, SAILING], []) == [SAILING]


def test_validators():
    assert clean_question("Q: Where did you sail to?\nmore") == "Where did you sail to?"
    assert clean_question("I sailed.") is None
    assert grounded_answer("I sailed the Albatross to Vigo.", SAILING, "Where?") is not None
    assert grounded_answer("Note: I sailed.", SAILING, "Where?") is None
    assert grounded_answer("I adopted three purple elephants in Madagascar.", SAILING, "?") is None
    grounded = "I sailed the Albatross to Vigo."
    assert ungrounded_answer(grounded, grounded, SAILING) is None
    assert ungrounded_answer("I went by train to Lisbon on Sunday.", grounded, SAILING)
    assert key_fact(SAILING.text) == "14"
    assert key_fact(CELLO.text) == "Ingrid"
    assert own_words("Who is your cello teacher?", CELLO).startswith("My cello teacher Ingrid")
