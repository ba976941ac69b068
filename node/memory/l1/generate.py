"""What the model writes for L1, and the checks that decide whether to believe it.

Every request has a JSON schema with bounded lengths, so even a 135M model returns parseable
records; every answer is then checked against the text it was written from (:func:`is_grounded`)
and refused if it introduces words its sources never use. A refused or unparseable answer is
asked again a bounded number of times, then :class:`ModelOutputRejected` says why and the caller
keeps the extractive version. A bigger model passes these checks more often; the code is the same.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from secondme.node.core.errors import ModelOutputRejected
from secondme.node.memory.l1.extract import ENTITY_KINDS
from secondme.node.memory.l1.text import (
    MONTHS,
    content_words,
    is_grounded,
    shorten,
    unsupported_words,
    vocabulary,
    words,
)

Complete = Callable[..., Awaitable[tuple[str, Any]]]
"""``ChatModel.complete``: messages and options in, (text, Finished) out."""

ATTEMPTS = 2
_TEMPERATURES = (0.0, 0.4, 0.7)
_GENERIC = frozenset(
    ["topic", "notes", "note", "frequent", "words", "summary", "title", "document", "text", "name"]
)


@dataclass(frozen=True, slots=True)
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.calls + other.calls,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


def _string(max_length: int) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": max_length}


class L1Writer:
    """Asks the local model for L1 records, validating each answer."""

    def __init__(self, complete: Complete, *, attempts: int = ATTEMPTS) -> None:
        self._complete = complete
        self._attempts = attempts
        self.usage = Usage()

    async def _ask(
        self,
        system: str,
        user: str,
        schema: dict,
        max_tokens: int,
        check: Callable[[dict], str | None],
    ) -> dict:
        """A record that parses, fits ``schema`` and passes ``check`` (None means fine)."""
        problems: list[str] = []
        for attempt in range(self._attempts):
            text, finished = await self._complete(
                [{"role": "system", "content": system}, {"role": "user", "content": user}],
                requester="l1",
                max_tokens=max_tokens,
                temperature=_TEMPERATURES[min(attempt, len(_TEMPERATURES) - 1)],
                response_format={"type": "json_object", "schema": schema},
            )
            self.usage += Usage(1, finished.prompt_tokens, finished.completion_tokens)
            problem = None
            if finished.finish_reason == "length":
                problem = "answer cut off at the token limit"
            else:
                try:
                    record = json.loads(text)
                except ValueError:
                    problem = "not valid JSON"
                else:
                    problem = _missing(record, schema) or check(record)
            if problem is None:
                return record
            problems.append(problem)
        raise ModelOutputRejected(
            f"model output rejected after {self._attempts} tries: {'; '.join(problems)}"
        )

    async def document_title(self, excerpt: str, sources: Sequence[str]) -> tuple[str, str]:
        """A short title and a one-sentence overview of a document, from its central passages."""
        vocab = vocabulary(sources)
        schema = {
            "type": "object",
            "properties": {"title": _string(60), "overview": _string(220)},
            "required": ["title", "overview"],
        }

        def check(record: dict) -> str | None:
            return _grounded("title", record["title"], vocab) or _grounded(
                "overview", record["overview"], vocab
            )

        record = await self._ask(
            "You give a note a short title and a one-sentence overview, using only its own "
            "words. Reply in JSON.",
            f"Note:\n{excerpt}",
            schema,
            160,
            check,
        )
        return record["title"].strip(), record["overview"].strip()

    async def topic_name(
        self, terms: Sequence[str], samples: Sequence[str], people: Sequence[str] = ()
    ) -> tuple[str, str]:
        """A 1-4 word name and a one-sentence description of what a cluster of notes is about;
        the name of a person (or thing) the notes mention is not a name for an interest."""
        person_keys = {" ".join(words(p)) for p in people}
        vocab = vocabulary([*samples, " ".join(terms)])
        schema = {
            "type": "object",
            "properties": {"name": _string(40), "description": _string(200)},
            "required": ["name", "description"],
        }

        def check(record: dict) -> str | None:
            name = record["name"]
            if not 1 <= len(name.split()) <= 4:
                return f"name {name!r} is not 1 to 4 words"
            if set(content_words(name)) <= _GENERIC:
                return f"name {name!r} says nothing"
            if any(ch.isdigit() for ch in name) or set(words(name)) & set(MONTHS):
                return f"name {name!r} is a date, not an interest"
            if " ".join(words(name)) in person_keys:
                return f"name {name!r} names someone or something, not an interest"
            return _grounded("name", name, vocab) or _grounded(
                "description", record["description"], vocab
            )

        lines = "\n".join(f"- {shorten(s, 200)}" for s in samples)
        record = await self._ask(
            "You name the interest that a person's notes share, in 1 to 4 words, and describe it "
            "in one sentence. Reply in JSON.",
            f"Key words: {', '.join(terms)}\nNotes:\n{lines}",
            schema,
            120,
            check,
        )
        return record["name"].strip(), record["description"].strip()

    async def biography(self, name: str, facts: Sequence[str]) -> tuple[str, str]:
        """A short biography in the first and third person, from sentences the owner wrote."""
        vocab = vocabulary([*facts, name, "I me my he she they their them is am was"])
        schema = {
            "type": "object",
            "properties": {"first_person": _string(400), "third_person": _string(400)},
            "required": ["first_person", "third_person"],
        }

        def check(record: dict) -> str | None:
            for key in ("first_person", "third_person"):
                if len(content_words(record[key])) < 4:
                    return f"{key} is too short to be a biography"
            return _grounded("first_person", record["first_person"], vocab) or _grounded(
                "third_person", record["third_person"], vocab
            )

        lines = "\n".join(f"- {f}" for f in facts)
        record = await self._ask(
            f"You write a three-sentence biography of {name} from their own notes: once as "
            f'{name} ("I ..."), once about {name} ("{name} ..."). Reply in JSON.',
            f"Notes by {name}:\n{lines}",
            schema,
            360,
            check,
        )
        return record["first_person"].strip(), record["third_person"].strip()

    async def recently(self, name: str, snippets: Sequence[str]) -> str:
        """One sentence on what the owner has been doing lately, from their newest notes."""
        vocab = vocabulary([*snippets, name, "I me my recently lately been have"])
        schema = {"type": "object", "properties": {"status": _string(200)}, "required": ["status"]}
        lines = "\n".join(f"- {shorten(s, 200)}" for s in snippets)
        record = await self._ask(
            f'You say in one sentence what {name} has been doing lately, as {name} ("Lately I '
            '..."). Reply in JSON.',
            f"Newest notes:\n{lines}",
            schema,
            100,
            lambda r: _grounded("status", r["status"], vocab),
        )
        return record["status"].strip()

    async def entity_kinds(self, candidates: Sequence[tuple[str, str]]) -> dict[str, str]:
        """The kind of each (name, context sentence); names are fixed by the schema."""
        names = [name for name, _ in candidates]
        schema = {
            "type": "object",
            "properties": {name: {"enum": list(ENTITY_KINDS)} for name in names},
            "required": names,
        }
        lines = "\n".join(f'- {name}: "{shorten(context, 160)}"' for name, context in candidates)
        record = await self._ask(
            "Say whether each name is a person, place, organization or thing. Reply in JSON.",
            lines,
            schema,
            20 + 12 * len(names),
            lambda r: None,
        )
        return {name: record[name] for name in names}

    async def fact(self, sentence: str, predicates: Sequence[str]) -> dict:
        """What a first-person sentence states about its speaker, as {predicate, object,
        negated}; the object must be words of the sentence and pass the grounding check."""
        schema = {
            "type": "object",
            "properties": {
                "predicate": {"enum": [*predicates, "none"]},
                "object": _string(80),
                "negated": {"type": "boolean"},
            },
            "required": ["predicate", "object"],
        }
        vocab = vocabulary([sentence])
        flat = " ".join(sentence.lower().split())

        def check(record: dict) -> str | None:
            said = " ".join(str(record["object"]).lower().split()).strip(" .")
            if record["predicate"] != "none" and said not in flat:
                return f"object {shorten(said, 40)!r} is not words of the sentence"
            return _grounded("object", record["object"], vocab)

        return await self._ask(
            "Say what the sentence states about the speaker (I): one predicate and its object, "
            "copied from the sentence, or predicate none. Reply in JSON.",
            f'Sentence: "{shorten(sentence, 300)}"',
            schema,
            60,
            check,
        )


def _missing(record: Any, schema: dict) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    for key in schema.get("required", ()):
        value = record.get(key)
        if value is None:
            return f"field {key!r} is missing"
        expected = schema["properties"][key]
        if expected.get("type") == "string" and (not isinstance(value, str) or not value.strip()):
            return f"field {key!r} is not a non-empty string"
        if "enum" in expected and value not in expected["enum"]:
            return f"field {key!r} is not one of {expected['enum']}"
    return None


def _grounded(what: str, text: str, vocab: frozenset[str]) -> str | None:
    if is_grounded(text, vocab):
        return None
    invented = ", ".join(sorted(set(unsupported_words(text, vocab)))[:5])
    return f"{what} {shorten(text, 60)!r} uses words its sources do not ({invented})"
