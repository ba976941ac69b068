"""Sentences, dates and the grounding check that guards what the model writes."""

from __future__ import annotations

from secondme.node.memory.l1.text import (
    content_words,
    find_dates,
    is_grounded,
    sentences,
    shorten,
    stem,
    unsupported_words,
    vocabulary,
)


def test_sentences_drop_markup_and_keep_abbreviations_whole():
    text = "# Ward notes\n- I met Dr. Rui Costa. He was calm!\n2. Then I went home"
    assert sentences(text) == [
        "Ward notes",
        "I met Dr. Rui Costa.",
        "He was calm!",
        "Then I went home",
    ]


def test_dates_in_every_written_form_in_text_order():
    text = "On 14 June 2024 I hiked; on 2024-11-30 I baked; March 3, 2023 and in May 2022."
    assert find_dates(text) == ["2024-06-14", "2024-11-30", "2023-03-03", "2022-05"]


def test_impossible_iso_dates_are_ignored():
    assert find_dates("build 2024-13-45 failed") == []


def test_stems_join_word_forms():
    assert stem("hiking") == stem("hikes") == stem("hiked") == stem("hike")
    assert stem("nursing") == stem("nurse")


def test_content_words_skip_stopwords_and_short_words():
    assert content_words("I was at the summit of Torre") == ["summit", "torre"]


def test_grounded_claims_pass_and_invented_ones_fail():
    vocab = vocabulary(["I hiked to the summit of Torre in the Serra da Estrela."])
    assert is_grounded("Hiking to Torre summit", vocab)
    assert not is_grounded("São José dos Santos is a tourist destination", vocab)
    assert unsupported_words("Torre festival", vocab) == ["festival"]
    assert not is_grounded(",", vocab)  # says nothing


def test_shorten_cuts_at_a_word():
    assert shorten("one two three four", 12) == "one two…"
    assert shorten("short", 12) == "short"
