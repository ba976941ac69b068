from secondme.node.chat.prompt import build_messages, persona_prompt
from secondme.node.memory.retrieval import L1Hit, SearchHit
from secondme.node.people.owner import OwnerProfile
from secondme.node.people.roles import Role


def words(text: str) -> int:
    return len(text.split())


def hit(n: int, text: str) -> SearchHit:
    return SearchHit(
        chunk_id=f"c{n}",
        text=text,
        score=1.0 / (n + 1),
        doc_id="d",
        path=f"/notes/{n}.md",
        name=f"{n}.md",
        title=None,
        kind="markdown",
        chunk_index=n,
        start=0,
        end=len(text),
        tags=(),
    )


OWNER = OwnerProfile(
    fields={"name": "Ada", "style": "dry humour", "description": "engineer"},
    public=frozenset({"name"}),
)


def test_persona_speaks_as_the_owner_with_role():
    role = Role(
        name="coach",
        description="",
        system_prompt="Be encouraging.",
        layers=("l0",),
        created_at=0.0,
    )
    text = persona_prompt(OWNER, role)
    assert "Second Me of Ada" in text
    assert "dry humour" in text and "engineer" in text
    assert "Be encouraging." in text


def test_memories_cite_their_source_and_history_is_kept():
    messages, used = build_messages(
        system="SYS",
        hits=[hit(0, "I was born in Lisbon"), hit(1, "I like tea")],
        history=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        question="Where was I born?",
        count_tokens=words,
        budget=1000,
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "[1] (L0, 0.md, part 1) I was born in Lisbon" in messages[0]["content"]
    assert messages[-1]["content"] == "Where was I born?"
    assert used == [hit(0, "I was born in Lisbon"), hit(1, "I like tea")]


def test_tight_budget_drops_history_before_memories_and_never_the_question():
    history = [
        {"role": "user", "content": "old " * 50},
        {"role": "assistant", "content": "x " * 50},
    ]
    big = hit(1, "filler " * 80)
    messages, used = build_messages(
        system="SYS",
        hits=[hit(0, "the key fact"), big],
        history=history,
        question="q?",
        count_tokens=words,
        budget=60,
    )
    assert used == [hit(0, "the key fact")]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[-1]["content"] == "q?"
    total = sum(words(m["content"]) + 8 for m in messages)
    assert total <= 60


def test_l1_memories_come_first_and_say_what_they_are():
    profile = L1Hit(point_id="", kind="profile", ref_id="3", text="My profile\nI hike.", score=1)
    topic = L1Hit(point_id="p", kind="topic", ref_id="t", text="Hiking\nMountain walks", score=1)
    messages, used = build_messages(
        system="SYS",
        hits=[profile, topic, hit(0, "I climbed Torre")],
        history=[],
        question="Do I hike?",
        count_tokens=words,
        budget=1000,
    )
    system = messages[0]["content"]
    assert used == [profile, topic, hit(0, "I climbed Torre")]
    assert "[1] (L1, my profile, version 3) My profile I hike." in system
    assert "[2] (L1, my topic 'Hiking') Hiking Mountain walks" in system
    assert "[3] (L0, 0.md, part 1) I climbed Torre" in system
    assert topic.to_json()["layer"] == "l1" and topic.to_json()["title"] == "Hiking"


def dated_hit(text: str, time_start: str | None, dates: list) -> SearchHit:
    import dataclasses

    base = hit(0, text)
    return dataclasses.replace(
        base, time_start=time_start, time_end=time_start, time_source="message", dates=tuple(dates)
    )


def test_grounded_prompt_puts_dated_memories_and_the_question_last():
    from secondme.node.chat.prompt import (
        dated_text,
        dates_of,
        grounded_messages,
        grounded_system,
        memory_date,
    )
    from secondme.node.memory.timeline import DateMention

    text = "Tom: I went to a support group yesterday, it helped.\nMaya: Glad to hear."
    start = text.index("yesterday")
    mention = DateMention(
        text="yesterday", start=start, end=start + 9, date="2026-05-13", granularity="day"
    )
    memory = dated_hit(text, "2026-05-14T18:00:00+01:00", [mention])
    assert "yesterday (2026-05-13)" in dated_text(memory)
    assert memory_date(memory) == "2026-05-14"
    assert [d.shown for d in dates_of(memory)] == ["2026-05-13", "2026-05-14"]
    assert "support group" in dates_of(memory)[0].context
    group = hit(2, "Notes: the support group meets on Thursdays in the old library.")
    messages, kept, shown = grounded_messages(
        system=grounded_system("Maya"),
        hits=[memory, hit(1, "Unrelated: the garden shed needs paint."), group],
        history=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        question="When did Tom go to the support group?",
        count_tokens=words,
        budget=500,
        max_chars=120,
    )
    # The shed shares no word with the question; the third memory would pass the budget. Of the
    # chat, only Tom's turn bears on it, with its date resolved.
    assert kept == [memory]
    assert shown == ["Tom: I went to a support group yesterday (2026-05-13), it helped."]
    _, fallback, _ = grounded_messages(
        system="s",
        hits=[hit(1, "Unrelated: the garden shed needs paint.")],
        history=[],
        question="Who is Kofi?",
        count_tokens=words,
        budget=500,
        max_chars=120,
    )
    assert len(fallback) == 1  # nothing bears on it: the closest memory is still shown
    assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
    assert messages[-1]["content"].endswith(
        "Question: When did Tom go to the support group?\nShort answer:"
    )
    assert "[1] (" in messages[-1]["content"] and "support group" in messages[-1]["content"]
    assert [m["role"] for m in messages[1:-1]] == ["user", "assistant"]
