"""Recall's re-ranking, session cap and budget on fabricated hits (the pure parts)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from secondme.node.core.config import load_config
from secondme.node.core.errors import ConfigError
from secondme.node.memory.query import QueryPlan, TimeRange
from secondme.node.memory.recall import (
    Weights,
    cap_per_session,
    entity_match,
    excerpt,
    fit_budget,
    keyword_scores,
    score,
    time_match,
    turn_spans,
)
from secondme.node.memory.retrieval import SearchHit
from secondme.node.memory.vectors import ScopeFilter

NOW = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)


def hit(n: int, text: str, *, doc: str = "d1", when: str | None = None, speakers=()) -> SearchHit:
    return SearchHit(
        chunk_id=f"c{n}",
        text=text,
        score=0.0,
        doc_id=doc,
        path=f"/{doc}.jsonl",
        name=f"{doc}.jsonl",
        title=None,
        kind="chat",
        chunk_index=n,
        start=0,
        end=len(text),
        tags=(),
        speakers=tuple(speakers),
        time_start=when,
        time_end=when,
    )


def test_keyword_scores_weigh_rare_terms_within_the_pool():
    texts = ["the group met", "support group tonight", "a group of friends", "nothing here"]
    scores = keyword_scores(texts, ["support", "group"])
    assert scores[1] == 1.0
    assert scores[3] == 0.0
    assert scores[0] < scores[1] and scores[2] < scores[1]
    assert keyword_scores(texts, []) == [0.0] * 4


def test_entity_match_reads_text_and_speakers():
    spoken = hit(1, "I went hiking.", speakers=("Ana Costa", "Owner"))
    named = hit(2, "Kofi said he moved.")
    assert entity_match(spoken, ["Ana"]) == 1.0
    assert entity_match(named, ["Ana", "Kofi"]) == 0.5
    assert entity_match(named, ["Kof"]) == 0.0  # whole words only
    assert entity_match(named, []) == 0.0


def test_time_match_uses_the_chunk_time_and_the_dates_it_mentions():
    may = TimeRange(date(2026, 5, 1), date(2026, 6, 1), "month")
    inside = hit(1, "x", when="2026-05-14T18:00:00+02:00")
    near = hit(2, "x", when="2026-06-03T09:00:00+00:00")
    far = hit(3, "x", when="2025-11-03T09:00:00+00:00")
    timeless = hit(4, "x")
    assert time_match(inside, may) == 1.0
    assert 0 < time_match(far, may) < time_match(near, may) < 1.0
    assert time_match(timeless, may) == 0.0
    assert time_match(inside, None) == 0.0

    class Mentioning:  # a hit whose text mentions a date in the range, sent after it
        text = "I went to a support group yesterday"
        time_start = time_end = "2026-06-01T08:00:00+00:00"
        dates = ({"text": "yesterday", "date": "2026-05-31", "granularity": "day"},)

    assert time_match(Mentioning(), may) == 1.0  # type: ignore[arg-type]


def test_rerank_puts_the_turn_of_the_month_asked_above_a_similar_one():
    plan = QueryPlan.parse("When did Ana go to the support group in May?", now=NOW, names=["Ana"])
    august = hit(1, "Ana: I went to a support group again, it helped.", when="2025-08-10T10:00")
    may = hit(2, "Ana: I went to a support group yesterday.", when="2026-05-14T18:00")
    other = hit(3, "Kofi: the football group met in May.", when="2026-05-02T18:00")
    pool = [august, other, may]
    cosines = {"c1": 0.62, "c2": 0.58, "c3": 0.40}
    scores = score(pool, cosines, plan, Weights())
    ranked = [h.chunk_id for _, h in sorted(zip(scores, pool, strict=True), key=lambda p: -p[0])]
    assert ranked[0] == "c2"
    # Without the time weight the lexically closer August turn wins: the time is what decides.
    flat = score(pool, cosines, plan, Weights(time=0.0))
    assert flat[0] > flat[2]


def test_cap_per_session_keeps_order_and_defers_the_rest():
    pool = [
        hit(1, "a", doc="s1"),
        hit(2, "b", doc="s1"),
        hit(3, "c", doc="s1"),
        hit(4, "d", doc="s2"),
    ]
    capped = cap_per_session(pool, 2)
    assert [h.chunk_id for h in capped] == ["c1", "c2", "c4", "c3"]


def test_fit_budget_stops_at_k_and_skips_what_does_not_fit():
    pool = [hit(1, "a" * 60), hit(2, "b" * 50), hit(3, "c" * 30), hit(4, "d" * 10)]
    chosen = fit_budget(pool, {}, k=3, budget_chars=100)
    assert [h.chunk_id for h in chosen] == ["c1", "c3", "c4"]
    assert sum(len(h.text) for h in chosen) <= 100
    assert [h.chunk_id for h in fit_budget(pool, {}, k=1, budget_chars=1000)] == ["c1"]


def test_fit_budget_adds_neighbours_after_their_hit_once():
    first, second = hit(1, "a" * 10), hit(5, "b" * 10)
    before, after = hit(0, "n" * 10), hit(2, "m" * 10)
    chosen = fit_budget([first, second, after], {"c1": [before, after]}, k=3, budget_chars=100)
    assert [h.chunk_id for h in chosen] == ["c1", "c0", "c2", "c5"]


def test_turn_spans_follow_speakers_and_keep_continuation_lines():
    text = "Ana: first\nSam: second\nstill second\nAna: third"
    spans = turn_spans(text, ("Ana", "Sam"))
    assert [text[a:b] for a, b in spans] == [
        "Ana: first",
        "Sam: second\nstill second",
        "Ana: third",
    ]


def test_excerpt_keeps_whole_turns_around_the_best_one_and_moves_spans():
    text = "Ana: one one\nSam: two two\nAna: three three\nSam: four four"
    base = replace(hit(1, text, speakers=("Ana", "Sam")), start=100, end=100 + len(text))
    base = replace(base, turn_first=20, turn_last=23)
    cut = excerpt(base, 2, 30)
    assert cut is not None
    assert cut.text == "Sam: two two\nAna: three three"
    assert base.text[cut.start - 100 : cut.end - 100] == cut.text
    assert (cut.turn_first, cut.turn_last) == (21, 22)
    assert excerpt(base, 2, 10) is None  # the turn itself does not fit


def test_fit_budget_uses_an_excerpt_for_what_does_not_fit():
    pool = [hit(1, "a" * 80), hit(2, "b" * 80)]
    chosen = fit_budget(
        pool, {}, k=2, budget_chars=100, shrink=lambda h, n: replace(h, text=h.text[:n])
    )
    assert [len(h.text) for h in chosen] == [80, 20]


def test_scope_allows_matches_the_engine_filter():
    scope = ScopeFilter(tags_any=("hiking",), layers=("l0",), point_ids=("p1",))
    assert scope.allows(point_id="p1", layer="l0", doc_id="d", tags=("hiking", "x"))
    assert not scope.allows(point_id="p2", layer="l0", doc_id="d", tags=("hiking",))
    assert not scope.allows(point_id="p1", layer="l0", doc_id="d", tags=("private",))
    assert not scope.allows(point_id="p1", layer="l1", doc_id="d", tags=("hiking",))
    assert ScopeFilter(doc_ids=("d",)).allows(point_id="p", layer="l0", doc_id="d", tags=())
    assert not ScopeFilter(point_ids=()).allows(point_id="p", layer="l0", doc_id="d", tags=())


@pytest.mark.parametrize(
    "text", ["[memory]\nrecall_budget_chars = 50\n", "[memory]\nrecall_pool = 0\n"]
)
def test_bad_recall_settings_are_refused_with_their_names(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"memory\.recall_budget_chars"):
        load_config(path)
