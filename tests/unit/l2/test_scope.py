"""Whether a grant's scope covers all that an adapter learned: the rule that decides if an
adapter may answer a peer."""

from __future__ import annotations

import pytest

from secondme.node.l2.scope import TrainingScope, why_not_covered
from secondme.protocol.grants import Scope

TRAVEL_DOCS = {"d1": ("travel",), "d2": ("travel", "public")}


def travel_adapter(**changes) -> TrainingScope:
    values = {"tags": ["travel"], "topics": [], "documents": TRAVEL_DOCS, "layers": ["l0"]}
    return TrainingScope.limited(**(values | changes))


def test_an_adapter_on_all_memory_never_answers_a_peer():
    everything = TrainingScope.limited(tags=[], topics=[], documents=TRAVEL_DOCS, layers=["l0"])
    assert everything.everything
    assert why_not_covered(Scope(), everything) is not None
    assert why_not_covered(Scope(tags=("travel",), profile=True), everything) is not None


@pytest.mark.parametrize(
    ("grant", "covered"),
    [
        (Scope(tags=("travel",)), True),
        (Scope(), True),  # no restriction: all memory
        (Scope(tags=("travel", "health")), True),
        (Scope(tags=("public",)), False),  # d1 has no public tag
        (Scope(tags=("health",)), False),
        (Scope(tags=("travel",), layers=("l1",)), False),  # it learned L0 text
        (Scope(profile_only=True), False),
        (Scope(topics=("3f2a",)), False),  # it was not limited to that topic
    ],
)
def test_a_grant_covers_an_adapter_only_if_it_covers_every_document(grant, covered):
    assert (why_not_covered(grant, travel_adapter()) is None) is covered


def test_topics_are_covered_by_id_and_only_when_all_of_them_are_granted():
    adapter = travel_adapter(tags=[], topics=["t1", "t2"])
    granted = Scope(topics=("sailing#t1", "boats#t2", "cooking#t3"))
    assert why_not_covered(granted, adapter) is None
    assert why_not_covered(Scope(topics=("sailing#t1",)), adapter) is not None
    # A bare name (a grant made before topics were bound to ids) never covers an adapter.
    assert why_not_covered(Scope(topics=("t1", "t2")), adapter) is not None


def test_l1_text_in_the_data_needs_the_l1_layer():
    adapter = travel_adapter(layers=["l0", "l1"])
    assert why_not_covered(Scope(tags=("travel",), layers=("l0",)), adapter) is not None
    assert why_not_covered(Scope(tags=("travel",)), adapter) is None


def test_a_forgotten_document_keeps_the_adapter_for_the_owner():
    assert why_not_covered(Scope(tags=("travel",)), travel_adapter(), present={"d1", "d2"}) is None
    reason = why_not_covered(Scope(tags=("travel",)), travel_adapter(), present={"d2"})
    assert reason is not None and "forgotten" in reason


def test_the_recorded_scope_round_trips_and_old_adapters_learned_everything():
    adapter = travel_adapter()
    assert TrainingScope.from_json(adapter.to_json()) == adapter
    assert TrainingScope.from_json({"all": True}).everything
