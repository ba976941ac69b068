"""Topic labels in scopes: "<name>#<topic id>", made to fit a scope item and read back."""

from __future__ import annotations

from secondme.node.memory.scope import held_topics, split_label, topic_label
from secondme.protocol.grants import Scope


def test_a_label_fits_a_scope_item_and_reads_back():
    topic_id = "0b6c3f0e-2a51-4c1e-9d57-1f1f6c2f7a10"
    label = topic_label('Kitchen & "Caldo" #1\\ verde' + "x" * 200, topic_id)
    assert len(label) <= 128 and label.endswith(f"#{topic_id}")
    Scope(topics=(label,))  # a valid scope item: no quote, backslash or control character
    name, read_id = split_label(label)
    assert read_id == topic_id and name.startswith("kitchen & caldo  1 verde")
    assert split_label("travel") == ("travel", None)  # a bare name, as older scopes hold


def test_a_holder_names_a_topic_of_its_grant_by_the_name_its_label_carries():
    held = Scope(topics=("travel#t1", "cooking#t2"))
    assert held_topics(Scope(topics=("Travel",)), held).topics == ("travel#t1",)
    assert held_topics(Scope(topics=("cooking#t2",)), held).topics == ("cooking#t2",)
    wider = held_topics(Scope(topics=("banking",)), held)
    assert wider.topics == ("banking",) and not wider.within(held)
    assert held_topics(Scope(tags=("x",)), held) == Scope(tags=("x",))
