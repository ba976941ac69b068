"""What a member's model reads for its turn, and how a turn is cut to its opening sentences."""

from __future__ import annotations

import pytest

from secondme.node.groups.prompts import LINE_CHARS, MEMORY_CHARS, first_sentences, turn_messages

SAID = [
    ("Alice", "We could go to the harbour, the fish there is fresh."),
    ("Bob", "I would rather   stay\nin town,\tnear the station."),
    ("Alice", "Then the market hall: it is in town and has fish."),
    ("Carol", "Either works for me if it is quiet."),
]


def messages(**changes) -> list[dict[str, str]]:
    base = dict(
        me="Carol",
        group="Friday dinner",
        topic="where to eat",
        question="Where shall we eat on Friday?",
        memories=["I like quiet places.", "Fish  makes\nme ill."],
        said=SAID,
        quote_turns=0,
    )
    return turn_messages(**{**base, **changes})


def test_a_system_then_a_user_message() -> None:
    shown = messages()
    assert [m["role"] for m in shown] == ["system", "user"]
    assert set(shown[0]) == set(shown[1]) == {"role", "content"}


def test_the_system_message_holds_persona_group_topic_and_memories() -> None:
    system = messages()[0]["content"].split("\n")
    assert system[0].startswith("You are Carol.")
    assert "first person" in system[0]
    assert system[1] == 'You are in a group discussion, "Friday dinner", about where to eat.'
    assert system[2] == "My memory:"
    assert system[3:] == ["- I like quiet places.", "- Fish makes me ill."]


def test_without_a_topic_or_memories_the_system_message_says_less() -> None:
    system = messages(topic="", memories=[])[0]["content"]
    assert system.split("\n")[1] == 'You are in a group discussion, "Friday dinner".'
    assert "about" not in system
    assert "My memory" not in system


def test_each_memory_is_cut_to_memory_chars() -> None:
    long = "word " * MEMORY_CHARS  # 5 × MEMORY_CHARS characters
    lines = messages(memories=[long, "short"])[0]["content"].split("\n")
    memory = lines[lines.index("My memory:") + 1 :]
    assert memory[0] == "- " + ("word " * MEMORY_CHARS)[:MEMORY_CHARS]
    assert len(memory[0]) == len("- ") + MEMORY_CHARS
    assert memory[1] == "- short"


def test_by_default_the_user_message_names_who_spoke_but_quotes_nothing() -> None:
    user = messages(quote_turns=0)[1]["content"]
    assert user.startswith("Where shall we eat on Friday?\n")
    assert "(Alice, Bob already spoke. Say what you, Carol, would suggest.)" in user
    for word in ("harbour", "station", "market", "quiet", "fish", "Either"):
        assert word not in user
    assert "Earlier in the discussion" not in user


def test_the_speaker_is_not_listed_among_those_who_spoke() -> None:
    user = messages(me="Alice")[1]["content"]
    assert "(Bob, Carol already spoke. Say what you, Alice, would suggest.)" in user
    assert "Alice," not in user.split("already spoke")[0]


def test_when_only_the_speaker_has_spoken_nobody_is_named() -> None:
    user = messages(said=[("Carol", "Quiet, please.")])[1]["content"]
    assert user.split("\n") == [
        "Where shall we eat on Friday?",
        "(Say what you, Carol, would suggest, from your own memory.)",
    ]


def test_with_quote_turns_the_last_turns_are_quoted_word_for_word() -> None:
    user = messages(quote_turns=2)[1]["content"].split("\n")
    assert user == [
        "Where shall we eat on Friday?",
        "Earlier in the discussion:",
        "Alice: Then the market hall: it is in town and has fish.",
        "Carol: Either works for me if it is quiet.",
        "(Say what you, Carol, would suggest, from your own memory.)",
    ]
    joined = "\n".join(user)
    assert "harbour" not in joined and "station" not in joined  # older turns are not quoted
    assert "already spoke" not in joined


def test_quoted_turns_are_cut_to_line_chars_with_whitespace_collapsed() -> None:
    said = [("Alice", "x" * 10), ("Bob", "a  b\n" + "y" * (2 * LINE_CHARS))]
    user = messages(said=said, quote_turns=1)[1]["content"].split("\n")
    quoted = [line for line in user if line.startswith("Bob: ")]
    assert quoted == ["Bob: " + ("a b " + "y" * (2 * LINE_CHARS))[:LINE_CHARS]]
    assert not any(line.startswith("Alice:") for line in user)


def test_more_quote_turns_than_turns_quotes_them_all() -> None:
    user = messages(quote_turns=10)[1]["content"]
    for name, text in SAID:
        assert f"{name}: {' '.join(text.split())}" in user


# -- first_sentences -----------------------------------------------------------------------


def test_first_sentences_keep_whole_sentences_that_fit() -> None:
    text = "We meet at six. Bring food! Is that fine? Yes."
    assert first_sentences(text, len(text)) == text
    assert first_sentences(text, 27) == "We meet at six. Bring food!"
    assert first_sentences(text, 26) == "We meet at six."
    assert first_sentences(text, 41) == "We meet at six. Bring food! Is that fine?"
    assert first_sentences(text, 15) == "We meet at six."


def test_a_first_sentence_too_long_is_cut_at_a_word_with_an_ellipsis() -> None:
    text = "The harbour restaurant is lovely in summer. Short one."
    cut = first_sentences(text, 20)
    assert cut == "The harbour…"
    assert len(cut) <= 20
    assert first_sentences(text, 23) == "The harbour restaurant…"


def test_first_sentences_collapse_whitespace() -> None:
    text = "  We   meet\n at six.\n\nBring\tfood.  "
    assert first_sentences(text, 100) == "We meet at six. Bring food."
    assert first_sentences(text, 16) == "We meet at six."


@pytest.mark.parametrize("limit", [12, 20, 30, 45, 80])
def test_first_sentences_never_exceed_a_limit_when_there_is_a_word_to_cut_at(limit) -> None:
    text = "One two three four five six seven eight nine ten. Eleven twelve."
    out = first_sentences(text, limit)
    assert 0 < len(out) <= limit
    assert text.startswith(out.removesuffix("…"))
