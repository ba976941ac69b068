"""The answer check: what the memories support is shown, what they do not is not."""

from __future__ import annotations

from secondme.node.chat.grounded import (
    AnswerCheck,
    DatedWords,
    Evidence,
    answering_line,
    asked_names,
    asks_when,
    best_date,
    best_lines,
    check_sentence,
    closest_words,
    coverage,
    dont_remember,
)

MEMORIES = [
    "[1] (chat-tom.jsonl, turns 1–2, 14 May 2026) Tom: I went to a support group yesterday "
    "(13 May 2026), it helped a lot.",
    "[2] (chat-tom.jsonl, turns 4–5, 14 May 2026) Tom: I still work at the Riverside bakery.",
]
EVIDENCE = Evidence.of(MEMORIES, names=["Maya"])


def test_a_sentence_the_memories_say_is_supported_and_answers():
    verdict = check_sentence(
        "Tom works at the Riverside bakery [2].", EVIDENCE, "Where does Tom work?", memories=2
    )
    assert verdict.supported and verdict.answers and verdict.cited == (2,)


def test_an_invented_place_fails_even_among_supported_words():
    verdict = check_sentence(
        "Tom works at the Riverside bakery in Porto.", EVIDENCE, "Where does Tom work?"
    )
    assert not verdict.supported and "porto" in verdict.unsupported


def test_an_invented_date_fails():
    verdict = check_sentence("Tom went on 28 August 2026.", EVIDENCE, "When did Tom go?")
    assert not verdict.supported and "28" in verdict.unsupported
    assert check_sentence("Tom went on 13 May 2026.", EVIDENCE, "When did Tom go?").answers


def test_repeating_the_question_is_not_an_answer():
    question = "Did Tom go to the support group?"
    verdict = check_sentence("Tom went to the support group.", EVIDENCE, question)
    assert verdict.supported and not verdict.answers


def test_citation_numbers_outside_the_memories_are_not_taken():
    assert check_sentence("At the bakery [7].", EVIDENCE, "Where?", memories=2).cited == ()


def test_answer_check_streams_supported_sentences_and_drops_the_rest():
    check = AnswerCheck(evidence=EVIDENCE, question="Where does Tom work?", memories=2)
    shown = []
    for piece in [
        "The answer is: Tom works at the Riv",
        "erside bakery. He has",
        " a dog in Paris.",
    ]:
        shown += check.feed(piece)
    shown += check.finish()
    assert shown == ["Tom works at the Riverside bakery."]
    assert check.answered and check.used() == [2]
    assert [v.sentence for v in check.dropped] == ["He has a dog in Paris."]


def test_nothing_supported_means_not_answered():
    check = AnswerCheck(evidence=EVIDENCE, question="What is Tom's favourite band?", memories=2)
    assert check.feed("Tom loves the Rolling Stones.") == [] and check.finish() == []
    assert not check.answered and check.used() == []


def test_coverage_needs_the_names_and_most_keywords():
    assert coverage("Where does Tom work?", MEMORIES).enough()
    assert coverage("Who is Kofi?", MEMORIES).missing_names == ("kofi",)
    band = coverage("What is Tom's favourite band?", MEMORIES)
    assert not band.enough() and set(band.keywords) == {"favourite", "band"}
    # The owner's own name is not asked about: the memories are the owner's.
    assert coverage("Where does Maya work?", MEMORIES, free_names=["Maya"]).enough()


def test_asked_names_skip_the_first_word_and_question_words():
    assert asked_names("When did Tom meet Ana in Porto?") == ["tom", "ana", "porto"]
    assert asked_names("Where does mary jane live?", known=["Mary Jane"]) == ["mary jane"]


def test_asks_when():
    assert asks_when("When did Tom go?") and asks_when("On what date did she move?")
    assert not asks_when("Where does Tom work?")


def test_best_date_follows_the_words_of_the_question():
    dated = [
        DatedWords("13 May 2026", "I went to a support group yesterday"),
        DatedWords("14 May 2026", "Tom: I still work at the bakery"),
    ]
    assert best_date("When did Tom go to the support group?", dated).shown == "13 May 2026"
    assert best_date("x", []) is None


def test_closest_and_best_lines_pick_turns_that_share_words():
    text = "Maya: Hi! Tom: I went to a support group yesterday. Maya: Great.\nTom: Bakery again."
    assert closest_words("the support group", text) == ("Tom: I went to a support group yesterday.")
    assert best_lines("support group bakery", text) == [
        "Tom: I went to a support group yesterday.",
        "Tom: Bakery again.",
    ]


def test_dont_remember_quotes_the_closest_memory_with_its_source():
    text = dont_remember("Tom: I went to a support group.", "chat.jsonl, turns 1–2, 14 May 2026")
    assert text.startswith("I don't remember.") and "“Tom: I went to a support group.”" in text
    assert "14 May 2026" in text
    assert dont_remember(None, None) == "I don't remember anything about that."


def test_a_name_lifted_from_an_unrelated_memory_is_not_support():
    evidence = Evidence.of(
        [
            "[1] (kyoto.md) In Kyoto I stayed in a ryokan with my friend Tomas.",
            "[2] (lisbon.md) In Lisbon I ate sardines with my sister Ana.",
        ]
    )
    question = "Who was with me in Kyoto?"
    assert check_sentence("My friend Tomas was with me.", evidence, question).supported
    lifted = check_sentence("My friend Ana was with me.", evidence, question)
    assert not lifted.supported and "ana" in lifted.unsupported


def test_a_recited_memory_after_the_answer_is_cut_off():
    check = AnswerCheck(evidence=EVIDENCE, question="Where does Tom work?", memories=2)
    shown = check.feed("# Tom works at the Riverside bakery [2] (chat-tom.jsonl, turns 4–5) Tom: I")
    shown += check.finish()
    assert shown == ["Tom works at the Riverside bakery"]


def test_the_words_asked_must_meet_in_one_line():
    memories = [
        "Abena: We adopted a cat today, the name is Tofu.\nAbena: The middle of the week is busy."
    ]
    assert not coverage("What is Abena's middle name?", memories).enough()
    assert coverage("What is the name of Abena's cat?", memories).enough()


def test_a_line_holding_every_word_asked_answers_by_itself():
    texts = ["Burak: Hi!\nBurak: My sister, Aiko, just sent me the funniest video.", "x"]
    assert answering_line("What is the name of Burak's dog?", texts) is None  # no dog
    assert answering_line("Who is Burak's sister?", texts) == (
        0,
        "Burak: My sister, Aiko, just sent me the funniest video.",
    )
    assert answering_line("Who is Kofi?", texts) is None  # a name alone is not a question
    assert answering_line("Who is Ana's sister?", texts) is None  # not Ana's
