"""Facts from first-person sentences: the rules, who "I" is, and replay into validity."""

from __future__ import annotations

import asyncio

import pytest

from secondme.node.memory.l1.extract import OWNER_KEY
from secondme.node.memory.l1.facts import (
    MODEL_PREDICATES,
    Fact,
    Turn,
    chunk_statements,
    is_owner_name,
    model_candidates,
    model_statement,
    parse_when,
    replay,
    sentence_statements,
    valid_at,
)
from secondme.node.memory.l1.generate import L1Writer
from secondme.node.memory.l1.profile import facts_text, profile_facts
from secondme.node.models.llm import Finished


def said(sentence: str, mentions=()) -> list[tuple[str, str, bool]]:
    found = sentence_statements(sentence, "Maria", OWNER_KEY, mentions)
    return [(s.predicate, s.object, s.negated) for s in found]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("I live in Porto.", ("lives_in", "Porto", False)),
        ("I moved to Lisbon in March.", ("lives_in", "Lisbon", False)),
        ("I've lived in Rio de Janeiro for years.", ("lives_in", "Rio de Janeiro", False)),
        ("We relocated to Berlin.", ("lives_in", "Berlin", False)),
        ("I no longer live in Porto.", ("lives_in", "Porto", True)),
        ("I work at Hospital de Santa Maria.", ("works_at", "Hospital de Santa Maria", False)),
        ("I started a new job at Quanto Labs last week.", ("works_at", "Quanto Labs", False)),
        ("I quit my job at Acme Corp.", ("works_at", "Acme Corp", True)),
        ("I work as a software engineer.", ("works_as", "software engineer", False)),
        ("I'm a pharmacist.", ("works_as", "pharmacist", False)),
        ("My sister Ana lives in Braga.", ("sister", "Ana", False)),
        ("Ana is my sister.", ("sister", "Ana", False)),
        ("Tomás, my best friend, called.", ("friend", "Tomás", False)),
        ("My husband's name is Rui.", ("partner", "Rui", False)),
        ("I married Rui in 2020.", ("partner", "Rui", False)),
        ("I broke up with Sam.", ("partner", "Sam", True)),
        ("I love hiking in the mountains.", ("likes", "hiking in the mountains", False)),
        ("I'm a big fan of jazz.", ("likes", "jazz", False)),
        ("My favourite food is sushi.", ("likes", "sushi", False)),
        ("I can't stand olives.", ("dislikes", "olives", False)),
        ("I don't like olives anymore.", ("likes", "olives", True)),
        ("I adopted a dog named Rex.", ("has", "dog named Rex", False)),
        ("I sold my car.", ("has", "car", True)),
    ],
)
def test_each_predicate_is_read_from_plain_first_person_sentences(sentence, expected):
    assert expected in said(sentence)


def test_a_job_with_an_employer_gives_both_facts():
    assert said("I'm a nurse at Saint Mary.") == [
        ("works_at", "Saint Mary", False),
        ("works_as", "nurse", False),
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Do you live in Paris?",
        "Where do I work these days?",
        "If I lived in Paris I would be happy.",
        "I wish I worked at Google.",
        "Maybe I'll move to Madrid.",
        'She said "I live in Madrid" and laughed.',
        "“My brother Joe is a pilot,” she told me.",
        "I love you.",
        "I'm a beginner.",
        "I'm a big fan.",
        "I think so.",
        "I left Porto for good.",
    ],
)
def test_questions_hypotheticals_quotes_and_vague_sentences_state_no_fact(sentence):
    found = [s for s in said(sentence) if s[0] != "did"]
    assert found == []


def test_an_event_needs_a_date_and_takes_the_resolved_one():
    mention = {"text": "yesterday", "date": "2023-05-07", "granularity": "day"}
    found = sentence_statements(
        "I went to a support group yesterday.", "Caroline", "caroline", [mention]
    )
    assert [(s.predicate, s.object, s.date) for s in found] == [
        ("did", "went to a support group", "2023-05-07")
    ]
    assert said("I went to a support group.") == []


def test_a_date_written_in_the_sentence_dates_the_statement():
    found = sentence_statements("I have lived in Porto since May 2025.", "M", OWNER_KEY)
    assert found[0].date == "2025-05"
    month = {"text": "in March", "date": "2026-03-01", "granularity": "month"}
    found = sentence_statements("I moved to Lisbon in March.", "M", OWNER_KEY, [month])
    assert found[0].date == "2026-03"


def test_in_a_chat_each_turn_speaks_for_its_speaker():
    text = "Maria Costa: I live in Porto.\nCaroline: I live in Lisbon.\nmy sister Ana too."
    found = chunk_statements(
        "c1",
        text,
        speakers=("Maria Costa", "Caroline"),
        owner_name="maria",
        time="2024-02-01T10:00",
    )
    assert [(s.subject_key, s.predicate, s.object, s.date) for s in found] == [
        (OWNER_KEY, "lives_in", "Porto", "2024-02-01"),
        ("caroline", "lives_in", "Lisbon", "2024-02-01"),
        ("caroline", "sister", "Ana", "2024-02-01"),
    ]


def test_outside_a_chat_i_is_the_owner():
    found = chunk_statements("c1", "I live in Porto.", owner_name="Maria")
    assert [(s.subject, s.subject_key) for s in found] == [("Maria", OWNER_KEY)]


def test_the_owner_is_recognised_by_full_or_first_name_in_any_case():
    assert is_owner_name("MARIA COSTA", "Maria Costa")
    assert is_owner_name("maria", "Maria Costa")
    assert not is_owner_name("Mariana", "Maria Costa")
    assert not is_owner_name("Caroline", "")


def fact(fid, predicate, obj, when, *, negated=False, subject=OWNER_KEY) -> Fact:
    return Fact(
        id=fid,
        subject="Maria" if subject == OWNER_KEY else subject,
        subject_key=subject,
        predicate=predicate,
        object=obj,
        sentence_text="",
        valid_from=when,
        negated=negated,
        chunk_id=f"chunk-{fid}",
        doc_id=f"doc-{fid}",
    )


def by_id(facts):
    return {f.id: f for f in facts}


def test_a_newer_fact_closes_the_older_one_of_a_single_valued_predicate():
    result = by_id(
        replay(
            [
                fact("b", "lives_in", "Lisbon", "2026-03-20"),
                fact("a", "lives_in", "Porto", "2025-05"),
            ]
        )
    )
    assert (result["a"].valid_to, result["a"].closed_by) == ("2026-03-20", "b")
    assert result["b"].current and not result["a"].current


def test_an_older_statement_arriving_later_does_not_close_the_newer():
    first = replay([fact("b", "lives_in", "Lisbon", "2026-03-20")])
    assert first[0].current
    later = by_id(
        replay(
            [
                fact("b", "lives_in", "Lisbon", "2026-03-20"),
                fact("a", "lives_in", "Porto", "2024-01"),
            ]
        )
    )
    assert later["b"].current
    assert later["a"].valid_to == "2026-03-20"


def test_forgetting_the_newer_statement_reopens_the_older():
    both = by_id(
        replay([fact("a", "lives_in", "Porto", "2025"), fact("b", "lives_in", "Lisbon", "2026")])
    )
    assert not both["a"].current
    alone = replay([fact("a", "lives_in", "Porto", "2025")])
    assert alone[0].current and alone[0].valid_to is None


def test_a_negation_closes_without_opening_and_multi_valued_facts_stay_open():
    result = by_id(
        replay(
            [
                fact("a", "likes", "olives", "2024"),
                fact("b", "likes", "jazz", "2024-02"),
                fact("c", "likes", "olives", "2025", negated=True),
                fact("d", "sister", "Ana", "2024"),
                fact("e", "friend", "Tomás", "2025"),
            ]
        )
    )
    assert result["a"].closed_by == "c" and not result["c"].current
    assert result["b"].current and result["d"].current and result["e"].current


def test_a_dislike_closes_the_like_of_the_same_thing_and_repeats_are_one_fact():
    result = by_id(
        replay(
            [
                fact("a", "likes", "olives", "2024"),
                fact("b", "likes", "Olives", "2024-06"),
                fact("c", "dislikes", "olives", "2025"),
            ]
        )
    )
    assert result["b"].repeats == "a"
    assert result["a"].closed_by == "c" and result["c"].current


def test_subjects_are_replayed_apart():
    result = by_id(
        replay(
            [
                fact("a", "lives_in", "Porto", "2025"),
                fact("b", "lives_in", "Lisbon", "2026", subject="caroline"),
            ]
        )
    )
    assert result["a"].current and result["b"].current


def test_valid_at_gives_the_fact_true_then():
    result = by_id(
        replay(
            [
                fact("a", "lives_in", "Porto", "2025-05"),
                fact("b", "lives_in", "Lisbon", "2026-03-20"),
            ]
        )
    )
    assert valid_at(result["a"], "2025-09-01") and not valid_at(result["b"], "2025-09-01")
    assert valid_at(result["b"], "2026-04") and not valid_at(result["a"], "2026-04")
    assert not valid_at(result["a"], "2025-01")


def test_a_fact_reads_as_a_dated_sentence():
    result = by_id(
        replay(
            [
                fact("a", "lives_in", "Porto", "2025-05"),
                fact("b", "lives_in", "Lisbon", "2026-03-20"),
            ]
        )
    )
    assert result["b"].sentence() == "I live in Lisbon (since 2026-03-20, until now)"
    assert result["a"].sentence("Maria") == "Maria lived in Porto (from 2025-05 until 2026-03-20)"
    sister = replay([fact("c", "sister", "Ana", "2024")])[0]
    assert sister.sentence() == "Ana is my sister (since 2024, until now)"


def test_dates_the_owner_types_are_read_or_refused_with_a_reason():
    assert parse_when("2025-06-01") == "2025-06-01"
    assert parse_when("June 2025") == "2025-06"
    with pytest.raises(ValueError, match="cannot read"):
        parse_when("the day the music died")
    with pytest.raises(ValueError, match="not a date"):
        parse_when("2025-13")


def test_the_model_reads_only_first_person_sentences_the_rules_leave():
    text = "I live in Porto. I drive a red Vespa to work. Do I like jazz? The sky is grey."
    found = model_candidates("c1", text, owner_name="Maria")
    assert [sentence for _, sentence, _ in found] == ["I drive a red Vespa to work."]


@pytest.mark.parametrize(
    ("record", "kept"),
    [
        ({"predicate": "has", "object": "red Vespa"}, ("has", "red Vespa", False)),
        ({"predicate": "has", "object": "blue Vespa"}, None),  # not the sentence's words
        ({"predicate": "daughter", "object": "Vespa"}, None),  # no "daughter" in it
        ({"predicate": "has", "object": "red Vespa", "negated": True}, None),  # no negation
        ({"predicate": "lives_in", "object": "work"}, None),  # a place is named
        ({"predicate": "did", "object": "drive a red Vespa"}, None),  # events are the rules'
        ({"predicate": "none", "object": "nothing"}, None),
    ],
)
def test_a_model_fact_is_kept_only_when_the_sentence_supports_it(record, kept):
    sentence = "I drive a red Vespa to work."
    turn = Turn("Maria", OWNER_KEY, sentence, "2025-01-02T10:00:00Z")
    found = model_statement(record, turn, sentence, "c1", 0)
    if kept is None:
        assert found is None
    else:
        assert (found.predicate, found.object, found.negated) == kept
        assert (found.method, found.date) == ("model", "2025-01-02")


def test_the_writer_refuses_an_object_the_sentence_does_not_hold():
    answers = iter(
        ['{"predicate": "has", "object": "yacht"}', '{"predicate": "has", "object": "red Vespa"}']
    )

    async def complete(messages, **kwargs):
        return next(answers), Finished(finish_reason="stop", prompt_tokens=1, completion_tokens=1)

    record = asyncio.run(L1Writer(complete).fact("I drive a red Vespa.", MODEL_PREDICATES))
    assert record["object"] == "red Vespa"


@pytest.mark.parametrize(
    "sentence", ["My friend I met at work is nice.", "My sister, I think, lives in Braga."]
)
def test_a_capitalised_pronoun_is_not_a_person(sentence):
    assert [s for s in said(sentence) if s[0] in ("friend", "sister")] == []


def test_the_profile_states_the_owners_current_facts_home_first():
    facts = replay(
        [
            fact("a", "likes", "jazz", "2024"),
            fact("b", "sister", "Ana", "2024"),
            fact("c", "lives_in", "Porto", "2024"),
            fact("d", "lives_in", "Lisbon", "2025"),
            fact("e", "did", "went to a support group", "2025"),
            fact("f", "lives_in", "Madrid", "2025", subject="caroline"),
        ]
    )
    assert facts_text(profile_facts(facts)) == (
        "I live in Lisbon (since 2025, until now). Ana is my sister (since 2024, until now). "
        "I like jazz (since 2024, until now)."
    )
