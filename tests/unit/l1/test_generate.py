"""What the model writes is parsed, checked against its sources, retried, then refused."""

from __future__ import annotations

import json

import pytest

from secondme.node.memory.l1.generate import L1Writer, ModelOutputRejected
from secondme.node.models.llm import Finished

SOURCES = ["I hiked to the summit of Torre in the Serra da Estrela with Tomás."]


class ScriptedModel:
    """Answers from a script, recording what it was asked."""

    def __init__(self, *answers: tuple[str, str]) -> None:
        self.answers = list(answers)
        self.calls: list[dict] = []

    async def complete(self, messages, **options):
        self.calls.append({"messages": messages, **options})
        text, reason = self.answers.pop(0)
        return text, Finished(reason, 100, 20)


def answer(reason: str = "stop", **record) -> tuple[str, str]:
    return json.dumps(record), reason


async def test_a_grounded_answer_is_taken_first_time():
    model = ScriptedModel(answer(title="Torre summit", overview="I hiked to the Torre summit."))
    writer = L1Writer(model.complete)
    assert await writer.document_title("excerpt", SOURCES) == (
        "Torre summit",
        "I hiked to the Torre summit.",
    )
    assert len(model.calls) == 1
    options = model.calls[0]
    assert options["response_format"]["schema"]["properties"]["title"]["maxLength"] == 60
    assert options["requester"] == "l1"
    assert (writer.usage.calls, writer.usage.prompt_tokens) == (1, 100)


async def test_invalid_json_is_asked_again():
    model = ScriptedModel(
        ('{"title": "Torre', "stop"),
        answer(title="Torre summit", overview="Hiked to Torre."),
    )
    writer = L1Writer(model.complete, attempts=2)
    assert (await writer.document_title("x", SOURCES))[0] == "Torre summit"
    assert len(model.calls) == 2
    assert model.calls[1]["temperature"] > model.calls[0]["temperature"]


async def test_invented_words_are_refused_with_the_reason_after_bounded_tries():
    invented = answer(title="São José dos Santos", overview="A tourist destination.")
    model = ScriptedModel(invented, invented, invented)
    writer = L1Writer(model.complete, attempts=2)
    with pytest.raises(ModelOutputRejected) as caught:
        await writer.document_title("x", SOURCES)
    assert len(model.calls) == 2
    message = str(caught.value)
    assert "after 2 tries" in message and "josé" in message


async def test_cut_off_and_missing_fields_are_refused():
    model = ScriptedModel(
        answer("length", title="Torre", overview="I hiked"),
        answer(title="Torre"),
    )
    with pytest.raises(ModelOutputRejected) as caught:
        await L1Writer(model.complete, attempts=2).document_title("x", SOURCES)
    assert "cut off" in str(caught.value) and "'overview' is missing" in str(caught.value)


async def test_a_topic_is_not_named_after_a_person_or_a_date():
    model = ScriptedModel(
        answer(name="Tomás", description="I hiked with Tomás."),
        answer(name="On 14 June 2024", description="I hiked to the summit of Torre."),
        answer(name="Hiking", description="I hiked to the summit of Torre."),
    )
    writer = L1Writer(model.complete, attempts=3)
    dated = [*SOURCES, "On 14 June 2024 I hiked to Torre."]  # the date itself is grounded
    name, _ = await writer.topic_name(["summit", "hiked"], dated, people=["Tomás"])
    assert name == "Hiking"
    assert len(model.calls) == 3


async def test_a_biography_must_say_something():
    model = ScriptedModel(answer(first_person="Maria", third_person="Maria"))
    with pytest.raises(ModelOutputRejected, match="too short"):
        await L1Writer(model.complete, attempts=1).biography("Maria", SOURCES)


async def test_entity_kinds_are_fixed_by_the_schema():
    model = ScriptedModel(answer(**{"Tomás": "person", "Torre": "place"}))
    kinds = await L1Writer(model.complete).entity_kinds([("Tomás", "x"), ("Torre", "y")])
    assert kinds == {"Tomás": "person", "Torre": "place"}
    schema = model.calls[0]["response_format"]["schema"]
    assert schema["required"] == ["Tomás", "Torre"]
    assert schema["properties"]["Torre"]["enum"] == ["person", "place", "organization", "thing"]


async def test_a_kind_outside_the_enum_is_refused():
    model = ScriptedModel(answer(**{"Torre": "mountain"}))
    with pytest.raises(ModelOutputRejected, match="not one of"):
        await L1Writer(model.complete, attempts=1).entity_kinds([("Torre", "y")])
