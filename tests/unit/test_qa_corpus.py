"""The memory QA corpus must be seeded, varied across seeds, and right about its own answers.

Dates are checked with ``dateparser`` (what the node resolves message times with), not with the
generator's own arithmetic, so a generator that mislabels "two weeks ago" is caught.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import dateparser
import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "qa_corpus.py"
_SPEC = importlib.util.spec_from_file_location("qa_corpus", _PATH)
qa = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("qa_corpus", qa)
_SPEC.loader.exec_module(qa)

SEEDS = (1, 2, 7)
RELATIVE = re.compile(
    r"\b(yesterday|today|two days ago|three days ago|last week|two weeks ago|on saturday)\b",
    re.IGNORECASE,
)


@pytest.fixture(scope="module", params=SEEDS)
def corpus(request):
    return qa.generate(request.param)


_TURNS: dict[int, list[dict]] = {}


def turns(corpus) -> list[dict]:
    """Every turn of the corpus's files (read once per seed)."""
    if corpus.seed in _TURNS:
        return _TURNS[corpus.seed]
    rows = _TURNS[corpus.seed] = []
    for name, data in corpus.files.items():
        for line in data.decode().splitlines():
            if line.strip():
                rows.append({**json.loads(line), "file": name})
    return rows


def turn_of(corpus, text: str) -> dict:
    found = [t for t in turns(corpus) if t["text"] == text]
    assert len(found) == 1, f"evidence is not exactly one turn: {text!r}"
    return found[0]


def resolved(turn: dict) -> date:
    """The date a turn's relative time names, as dateparser reads it from the turn's time."""
    said = datetime.fromisoformat(turn["time"])
    phrase = RELATIVE.search(turn["text"])
    assert phrase, f"no relative time in {turn['text']!r}"
    when = dateparser.parse(
        phrase.group(1),
        settings={"RELATIVE_BASE": said.replace(tzinfo=None), "PREFER_DATES_FROM": "past"},
    )
    return when.date()


def test_same_seed_same_corpus():
    a, b = qa.generate(5), qa.generate(5)
    assert a.files == b.files
    assert a.questions == b.questions
    assert qa.generate(6).files != a.files


def test_seeds_share_few_names_and_places():
    a, b = qa.generate(1), qa.generate(2)

    def vocabulary(c) -> tuple[set[str], set[str]]:
        names = {c.owner, *c.people}
        things = set()
        for s in c.subjects.values():
            things |= {s.hometown, s.city0, s.employer0, s.food, s.instrument}
            things |= {s.city1, s.employer1} - {None}
        return names, things

    (names_a, things_a), (names_b, things_b) = vocabulary(a), vocabulary(b)
    assert len(names_a & names_b) <= 1
    assert len(things_a & things_b) <= len(things_a) // 4


def test_shape(corpus):
    assert 2 <= len(corpus.people) <= 4
    rows = turns(corpus)
    sessions = {t["session"] for t in rows}
    assert len(sessions) >= 20
    assert all(t["speaker"] in (corpus.owner, *corpus.people) for t in rows)
    per_file = Counter(t["file"] for t in rows)
    sessions_in = {f: {t["session"] for t in rows if t["file"] == f} for f in per_file}
    assert any(len(s) == 1 for s in sessions_in.values()), "no one-session files"
    assert any(len(s) > 1 for s in sessions_in.values()), "no many-session files"
    days = sorted(datetime.fromisoformat(t["time"]) for t in rows)
    assert (days[-1] - days[0]).days > 200
    assert all(q.asked_at > days[-1] for q in corpus.questions)
    kinds = Counter(q.kind for q in corpus.questions)
    assert len(corpus.questions) >= 200
    assert set(kinds) == set(qa.KINDS)
    assert min(kinds.values()) >= 0.7 * max(kinds.values())
    assert len({q.id for q in corpus.questions}) == len(corpus.questions)


def test_evidence_is_in_the_files(corpus):
    texts = "\n".join(data.decode() for data in corpus.files.values())
    for q in corpus.questions:
        assert bool(q.evidence) == bool(q.gold), q
        for evidence in q.evidence:
            assert evidence in texts
            turn_of(corpus, evidence)


def test_evidence_is_said_by_the_person_asked_about(corpus):
    names = [corpus.owner, *corpus.people]
    for q in corpus.questions:
        if q.kind in ("single", "temporal", "inference"):
            asked = [n for n in names if re.search(rf"\b{re.escape(n)}\b", q.text)]
            assert len(asked) == 1, q.text
            for evidence in q.evidence:
                assert turn_of(corpus, evidence)["speaker"] == asked[0], q


def test_fact_answers_are_stated_in_their_evidence(corpus):
    for q in corpus.questions:
        if q.kind in ("single", "multihop"):
            assert any(q.gold[0] in e for e in q.evidence), q
        if q.kind == "multihop":
            assert len(q.evidence) == 2


def test_dates_resolve_to_the_gold_answer(corpus):
    checked = 0
    for q in corpus.questions:
        if q.kind == "temporal" and q.text.startswith("When did"):
            assert q.gold[0] == resolved(turn_of(corpus, q.evidence[0])).isoformat(), q
            assert date.fromisoformat(q.gold[0]).strftime("%B") in q.gold[1]
            checked += 1
        elif q.kind == "temporal" and " before or after " in q.text:
            first, second = (resolved(turn_of(corpus, e)) for e in q.evidence)
            assert q.gold == ("before" if first < second else "after",), q
            checked += 1
    assert checked >= 20


def test_where_someone_was_in_a_month(corpus):
    pattern = re.compile(r"^Where did (.+) (live|work) in (\w+ \d{4})\?$")
    checked = 0
    for q in corpus.questions:
        match = pattern.match(q.text)
        if not match:
            continue
        s = corpus.subjects[match.group(1)]
        month = datetime.strptime(match.group(3), "%B %Y").date()
        change = resolved(turn_of(corpus, s.said["move" if match.group(2) == "live" else "job"]))
        old, new = (s.city0, s.city1) if match.group(2) == "live" else (s.employer0, s.employer1)
        assert q.gold == ((new,) if month > change else (old,)), q
        assert month.replace(day=28) < change or month > change
        checked += 1
    assert checked >= 2


def test_inference_answers_follow_what_was_said(corpus):
    likes = {s: qa.CATEGORIES[s] for s in qa.CATEGORIES}
    for q in corpus.questions:
        if q.kind != "inference":
            continue
        assert q.gold in (("yes",), ("no",))
        said = q.evidence[0]
        for category in likes.values():
            member = next((m for m in category["members"] if q.text.endswith(f" {m}?")), None)
            if member is None:
                continue
            cue_likes = any(c.lower() in said.lower() for c in category["like"])
            cue_dislikes = any(c.lower() in said.lower() for c in category["dislike"])
            assert cue_likes != cue_dislikes, q
            assert q.gold == (("yes",) if cue_likes else ("no",)), q
            assert member not in said  # inferred, not looked up


def test_unanswerable_questions_have_no_answer_in_the_files(corpus):
    texts = "\n".join(data.decode() for data in corpus.files.values())
    for q in corpus.questions:
        if q.kind != "unanswerable":
            continue
        assert q.gold == () and q.evidence == ()
        named = [n for n in (corpus.owner, *corpus.people) if re.search(rf"\b{n}\b", q.text)]
        if not named:  # a person never mentioned
            stranger = re.search(r"(?:does|is|did) (\S+?)(?:'s)? ", q.text).group(1)
            assert not re.search(rf"\b{stranger}\b", texts), q
        went = re.match(r"When did (.+) go to the (.+)\?$", q.text)
        if went:
            s = corpus.subjects[went.group(1)]
            assert went.group(2) not in {e.name for e in s.events}


def _bench():
    path = _PATH.parent / "bench_memory_qa.py"
    spec = importlib.util.spec_from_file_location("bench_memory_qa", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_memory_qa", module)
    spec.loader.exec_module(module)
    return module


def test_answers_are_scored_on_dates_yes_no_and_words():
    bench = _bench()
    asked = datetime.fromisoformat("2026-06-01T12:00:00+02:00")
    when = qa.Question("t", "temporal", "When?", qa.date_forms(date(2026, 5, 13)), ("x",), asked)
    assert bench.score("May 13, 2026", when).em == 1.0
    assert bench.score("13 May", when).em == 1.0
    assert bench.score("I went there on the 13th of May 2026.", when).hit == 1.0
    assert bench.score("On 14 May 2026.", when).hit == 0.0
    yes = qa.Question("y", "inference", "Would?", ("yes",), ("x",), asked)
    assert bench.score("Yes, I would love that.", yes).em == 1.0
    assert bench.score("I would not enjoy it.", yes).em == 0.0
    assert bench.score("I don't remember.", yes).em == 0.0
    order = qa.Question("o", "temporal", "Before or after?", ("after",), ("x",), asked)
    assert bench.score("It was after I moved.", order).em == 1.0
    fact = qa.Question("f", "single", "Where?", ("Kestrel Labs",), ("x",), asked)
    assert bench.score("kestrel labs.", fact).em == 1.0
    assert bench.score("I work at Kestrel Labs as a nurse.", fact).f1 == pytest.approx(4 / 9)
    assert bench.score("anything", qa.Question("u", "unanswerable", "?", (), (), asked)) is None


def test_unsupported_words_and_abstention():
    bench = _bench()
    asked = datetime.fromisoformat("2026-06-01T12:00:00+02:00")
    q = qa.Question("f", "single", "Where does Ana work?", ("Kestrel Labs",), ("x",), asked)

    class Hit:
        text = "Ana: I work as a nurse at Kestrel Labs."
        time_start = "2026-05-13T10:00:00+02:00"
        time_end = None

    assert bench.unsupported("Ana works at Kestrel Labs since May 2026.", q, [Hit()]) == []
    assert bench.unsupported("Ana works at a bakery in Lisbon.", q, [Hit()]) == [
        "bakery",
        "lisbon",
    ]
    assert bench.abstains("I don't remember that.")
    assert bench.unsupported("I don't remember anything about Lisbon.", q, [Hit()]) == []
    assert not bench.abstains("I remember it well: Kestrel Labs.")
