"""A member's turn says only what its memories (or the discussion itself) support."""

from __future__ import annotations

from secondme.node.groups.speaker import NOTHING_REMEMBERED, grounded_turn
from secondme.node.groups.store import Group

GROUP = Group(
    group_id="g",
    name="weekend plan",
    topic="hiking",
    moderator="m",
    created_ms=0,
    status="active",
    scope=None,
    grant_id=None,
)
MEMORIES = ["(2026-05-02) Last spring I hiked the ridge above Brambleton, steep but worth it."]
QUESTION = "Where should we hike on Saturday?"


def test_a_turn_from_memory_is_kept_and_an_invention_is_dropped():
    text = "I hiked the ridge above Brambleton, steep but worth it. We could camp at Lake Orvo."
    said = grounded_turn(text, MEMORIES, QUESTION, GROUP, [])
    assert said == "I hiked the ridge above Brambleton, steep but worth it."


def test_what_others_said_may_be_answered():
    others = [("Bob", "The Millbrook trail is flat and shaded.")]
    text = "The Millbrook trail sounds good to me."
    assert grounded_turn(text, MEMORIES, QUESTION, GROUP, others) == text


def test_a_turn_with_nothing_from_memory_says_so():
    text = "Let's fly to Reykjavik and see the geysers."
    said = grounded_turn(text, MEMORIES, QUESTION, GROUP, [])
    assert said.startswith("I don't remember") and "Reykjavik" not in said
    assert "“Last spring I hiked the ridge above Brambleton, steep but worth it.”" in said
    assert "(2026-05-02)" in said  # the closest memory, with its date
    assert grounded_turn(text, [], QUESTION, GROUP, []) == NOTHING_REMEMBERED
