"""Memory QA: does the node find (and answer from) the evidence, beside a naive dense baseline?

The corpus is generated (bench/qa_corpus.py): the owner chatting with 2–4 people over a year,
facts that change, events told with relative times, small talk and near misses, and 200+
questions of five kinds (single fact, multi-hop, temporal, inference, unanswerable), each with the
exact turns that answer it. Every seed draws other names, places and things, so that no rule is
tuned to one corpus's words; two seeds are reported by default.

Both systems run in this process over the same real memory (MiniLM embedder, Qdrant Edge, SQLite),
filled by the real ingest from the generated JSON-lines chat exports:

- baseline: dense-only top-k over L0 chunks (cosine, no BM25, no re-ranking), k = 10, cut to
  the same character budget as the node (whole chunks, in rank order);
- node: ``Recall.recall(question, now=asked_at, k=10, budget_chars=6500)`` when recall exists,
  else the hybrid ``Memory.search``.

Retrieval: evidence recall@5/@10 (an evidence turn counts as found when its text lies inside a
retrieved chunk's text) and the characters of retrieved text. ``--retrieval-only`` stops there.

Answers (the shipped SmolLM2 GGUF through the node's ChatModel, greedy, the same answer tokens):

- baseline: the dense top-k above in the persona prompt as chat built it before grounding
  (``persona_prompt`` + ``build_messages``: persona, numbered memories, the question);
- node: ``ChatService.chat(question, now=asked_at)``, a fresh session per question: recall,
  the grounded prompt, the answer check, "I don't remember" when the memories do not say.

Per kind: token F1 and exact match after SQuAD-style normalisation (dates in answers and gold
rewritten as ISO with dateparser first, so "May 13, 2026" = "2026-05-13"; yes/no and before/after
questions compare that word only), and "hit": the gold answer appears in the answer. Abstention
on unanswerable questions and false abstention on answerable ones; the share of answers with
content words found neither in the memories given nor in the question; latency p50/p95 per answer
(retrieval included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import dateparser

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import percentiles
from qa_corpus import KINDS, QACorpus, Question, generate

from secondme.node.chat import service as chat_service
from secondme.node.chat.history import ChatHistory
from secondme.node.chat.prompt import build_messages, persona_prompt, prompt_budget
from secondme.node.chat.service import ChatService, Sources
from secondme.node.core.config import DataDir, MemorySettings, ModelSettings
from secondme.node.core.db import Database
from secondme.node.memory.l1.service import L1Service
from secondme.node.memory.l1.text import unsupported_words, vocabulary
from secondme.node.memory.retrieval import SearchHit
from secondme.node.memory.service import Memory
from secondme.node.memory.vectors import SparseVec
from secondme.node.models import locate
from secondme.node.models.embedder import Embedder
from secondme.node.models.llm import ChatModel, Piece
from secondme.node.people.owner import OwnerStore
from secondme.node.people.roles import RoleStore

K = 10
BUDGET_CHARS = 6500

try:  # the node's recall, where this checkout has it
    from secondme.node.memory.recall import Recall
except ImportError:  # pragma: no cover - older trees
    Recall = None  # type: ignore[assignment,misc]


# --- building the memory ------------------------------------------------------------------------


def file_times(corpus: QACorpus) -> dict[str, float]:
    """A plausible modification time per file: a little after its last message."""
    times = {}
    for name, data in corpus.files.items():
        last = max(
            datetime.fromisoformat(json.loads(line)["time"])
            for line in data.decode().splitlines()
            if line.strip()
        )
        times[name] = last.timestamp() + 3600
    return times


async def fill(memory: Memory, corpus: QACorpus) -> float:
    """Ingest every file of the corpus with a plausible mtime; seconds taken."""
    mtimes = file_times(corpus)
    started = time.perf_counter()
    for name, data in sorted(corpus.files.items()):
        result = await memory.ingest(f"/chats/{name}", data, ["chat"], mtime=mtimes[name])
        if result.status != "added":
            raise RuntimeError(f"{name}: ingest said {result.status}: {result.message}")
    return time.perf_counter() - started


def open_memory(root: Path, embedder: Embedder) -> tuple[Memory, Database]:
    data_dir = DataDir(root)
    data_dir.root.mkdir(parents=True, exist_ok=True)
    db = Database(data_dir.database)
    memory = Memory(data_dir, db, MemorySettings(), embedder)
    memory.open()
    return memory, db


# --- the two retrievers -------------------------------------------------------------------------


@dataclass
class Retrieved:
    texts: list[str]
    chars: int
    ms: float


def dense_hits(memory: Memory, question: str, k: int = K) -> list[SearchHit]:
    """The baseline's memories: the k L0 chunks nearest the question by cosine alone.

    The node's own search with an empty BM25 query: its fusion then ranks by the dense side
    only, and the hits are joined to their documents like any search's.
    """
    vector = memory.embed([question])[0]
    hits = memory.retriever._search(vector, SparseVec((), ()), k=k, tags=(), layers=("l0",))
    return within_budget([h for h in hits if isinstance(h, SearchHit)][:k])


def dense_top_k(memory: Memory, question: str, k: int = K) -> Retrieved:
    started = time.perf_counter()
    texts = [h.text for h in dense_hits(memory, question, k)]
    ms = (time.perf_counter() - started) * 1000
    return Retrieved(texts, sum(map(len, texts)), ms)


def within_budget(hits: Sequence, budget: int = BUDGET_CHARS) -> list:
    """The leading memories (hits or texts) whose texts fit the character budget together."""
    kept, used = [], 0
    for hit in hits:
        size = len(hit if isinstance(hit, str) else hit.text)
        if used + size > budget:
            break
        kept.append(hit)
        used += size
    return kept


class NodeRetriever:
    """What the node gives its answerer: recall within the budget, else hybrid search."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory
        self.recall = Recall(memory) if Recall is not None else None
        self.name = "Recall.recall" if self.recall else "Memory.search (hybrid)"

    async def __call__(self, question: Question) -> Retrieved:
        started = time.perf_counter()
        if self.recall is not None:
            got = await self.recall.recall(
                question.text, now=question.asked_at, k=K, budget_chars=BUDGET_CHARS
            )
            texts = [h.text for h in got.hits]
            chars = got.chars
        else:
            hits = await self.memory.search(question.text, k=K)
            texts = within_budget([h.text for h in hits if isinstance(h, SearchHit)])
            chars = sum(map(len, texts))
        return Retrieved(texts, chars, (time.perf_counter() - started) * 1000)


# --- scoring answers ---------------------------------------------------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATES = re.compile(
    r"\b\d{4}-\d{2}-\d{2}\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b,?(?:\s+\d{{4}})?"
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b,?(?:\s+\d{{4}})?",
    re.IGNORECASE,
)
_ABSTAINS = re.compile(
    r"\b(?:do not|don['’]?t|cannot|can['’]?t|can not) (?:remember|recall|know)\b"
    r"|\bno (?:memory|memories|record|information)\b|\bnot sure\b",
    re.IGNORECASE,
)
_YES, _NO = {"yes", "yeah", "yep", "definitely", "absolutely"}, {"no", "nope", "not", "never"}
_NEGATIONS = re.compile(r"\b\w+n't\b|\b(?:not|never|hate|hates|dislike|dislikes)\b", re.I)


def iso_dates(text: str, now: datetime) -> str:
    """``text`` with each written date replaced by its ISO form (a date without a year is read
    as the last such day before ``now``)."""
    settings = {"RELATIVE_BASE": now.replace(tzinfo=None), "PREFER_DATES_FROM": "past"}

    def iso(match: re.Match[str]) -> str:
        found = dateparser.parse(match.group(0).rstrip(","), languages=["en"], settings=settings)
        return found.date().isoformat() if found else match.group(0)

    return _DATES.sub(iso, text)


def normalise(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces (the
    hyphens of ISO dates kept)."""
    text = text.lower()
    text = "".join(" " if c in string.punctuation and c != "-" else c for c in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(answer: str, gold: str) -> float:
    ours, theirs = answer.split(), gold.split()
    common = sum(min(ours.count(w), theirs.count(w)) for w in set(ours))
    if not common:
        return 0.0
    precision, recall = common / len(ours), common / len(theirs)
    return 2 * precision * recall / (precision + recall)


def abstains(answer: str) -> bool:
    """The answer says it does not remember (or know)."""
    return bool(_ABSTAINS.search(answer))


def choice_of(answer: str, options: tuple[str, str]) -> str | None:
    """Which of two words (yes/no, before/after) the answer gives; None for neither."""
    tokens = normalise(answer).split()
    if options == ("yes", "no"):
        for token in tokens:
            if token in _YES:
                return "yes"
            if token in _NO:
                return "no"
        if not tokens or abstains(answer):
            return None
        return "no" if _NEGATIONS.search(answer) else "yes"
    return next((t for t in tokens if t in options), None)


@dataclass(frozen=True, slots=True)
class Score:
    em: float
    f1: float
    hit: float


def score(answer: str, question: Question) -> Score | None:
    """Exact match, token F1 and "hit" (gold inside the answer); None if nothing to compare."""
    if not question.gold:
        return None
    for options in (("yes", "no"), ("before", "after")):
        if question.gold[0] in options:
            right = float(choice_of(answer, options) == question.gold[0])
            return Score(right, right, right)
    ours = normalise(iso_dates(answer, question.asked_at))
    golds = {normalise(iso_dates(g, question.asked_at)) for g in question.gold}
    return Score(
        em=float(ours in golds),
        f1=max(token_f1(ours, g) for g in golds),
        hit=float(any(re.search(rf"(?<!\S){re.escape(g)}(?!\S)", ours) for g in golds)),
    )


def unsupported(answer: str, question: Question, hits: Sequence) -> list[str]:
    """Content words of the answer found neither in the memories given (their words and the
    dates they were said) nor in the question; an abstention asserts nothing."""
    if abstains(answer):
        return []
    texts = [question.text]
    for hit in hits:
        texts.append(hit.text)
        for key in ("time_start", "time_end"):
            when = getattr(hit, key, None)
            if when:
                day = datetime.fromisoformat(when).date()
                texts.append(f"{day:%B %d %Y} {day:%A} {day.isoformat()}")
    return unsupported_words(answer, vocabulary(texts))


# --- answering ----------------------------------------------------------------------------------


@dataclass
class Answer:
    text: str
    hits: list
    abstained: bool
    ms: float
    error: str = ""
    """Why the system failed on this question (it then counts as a wrong answer)."""


def answer_tokens(settings: ModelSettings) -> int:
    """The node's cap on a grounded answer; the baseline gets the same."""
    return min(settings.max_answer_tokens, getattr(chat_service, "_ANSWER_TOKENS", 64))


async def baseline_answer(
    model: ChatModel, memory: Memory, owner: OwnerStore, settings: ModelSettings, q: Question
) -> Answer:
    """Dense top-k in the persona prompt, as chat answered before grounding."""
    started = time.perf_counter()
    hits = await asyncio.to_thread(dense_hits, memory, q.text)
    # The same prompt budget as the node: as many characters of memories as its prompt holds.
    hits = within_budget(hits, chat_service._PROMPT_MEMORY_CHARS)
    tokens = answer_tokens(settings)
    messages, kept = build_messages(
        system=persona_prompt(owner.get()),
        hits=hits,
        history=[],
        question=q.text,
        count_tokens=model.count_tokens,
        budget=prompt_budget(settings.context_tokens, tokens),
    )
    text, _ = await model.complete(messages, max_tokens=tokens, temperature=settings.temperature)
    text = text.strip()
    return Answer(text, kept, abstains(text), (time.perf_counter() - started) * 1000)


async def node_answer(chat: ChatService, q: Question) -> Answer:
    """The node's chat turn, in a fresh session: its sources, its shown answer, whether it
    abstained (its own verdict, or an answer that says it does not remember)."""
    started = time.perf_counter()
    hits: list = []
    parts: list[str] = []
    abstained = False
    try:
        async for event in chat.chat(q.text, now=q.asked_at):
            if isinstance(event, Sources):
                hits = list(event.hits)
            elif isinstance(event, Piece):
                parts.append(event.text)
            elif getattr(event, "abstained", False):
                abstained = True
    except Exception as exc:  # a failure is a figure too: counted, shown, and the run goes on
        ms = (time.perf_counter() - started) * 1000
        return Answer("", hits, False, ms, error=f"{type(exc).__name__}: {exc}")
    text = "".join(parts).strip()
    return Answer(text, hits, abstained or abstains(text), (time.perf_counter() - started) * 1000)


# --- measuring ----------------------------------------------------------------------------------


def evidence_found(evidence: Sequence[str], texts: Sequence[str]) -> float:
    """The share of evidence turns lying inside one of ``texts``."""
    if not evidence:
        return 1.0
    return sum(any(e in t for t in texts) for e in evidence) / len(evidence)


@dataclass
class Row:
    question: Question
    system: str
    at5: float | None
    at10: float | None
    chars: int
    ms: float
    answer: Answer | None = None
    score: Score | None = None
    unsupported: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        q = self.question
        row = {
            "id": q.id,
            "kind": q.kind,
            "question": q.text,
            "gold": list(q.gold),
            "evidence": list(q.evidence),
            "system": self.system,
            "recall_at_5": self.at5,
            "recall_at_10": self.at10,
            "chars": self.chars,
            "retrieval_ms": round(self.ms, 2),
        }
        if self.answer is not None:
            row |= {
                "answer": self.answer.text,
                "abstained": self.answer.abstained,
                "answer_ms": round(self.answer.ms, 1),
                "em": self.score.em if self.score else None,
                "f1": self.score.f1 if self.score else None,
                "hit": self.score.hit if self.score else None,
                "unsupported": self.unsupported,
                "error": self.answer.error,
                "sources": [h.text[:120] for h in self.answer.hits],
            }
        return row


def measure(question: Question, system: str, got: Retrieved) -> Row:
    answerable = bool(question.evidence)
    return Row(
        question,
        system,
        evidence_found(question.evidence, got.texts[:5]) if answerable else None,
        evidence_found(question.evidence, got.texts[:K]) if answerable else None,
        got.chars,
        got.ms,
    )


def judge(row: Row, answer: Answer) -> None:
    row.answer = answer
    row.score = score(answer.text, row.question)
    row.unsupported = unsupported(answer.text, row.question, answer.hits)


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def retrieval_table(seed: int, rows: list[Row], systems: Sequence[str]) -> list[str]:
    """Per kind: recall@5/@10 and median characters, one column group per system."""
    head = f"{'kind':<13}{'n':>4}"
    for system in systems:
        head += f" | {system + ' R@5':>14}{'R@10':>7}{'chars':>7}"
    lines = [f"\n== seed {seed}: evidence recall (share of evidence turns found) and chars", head]
    for kind in (*KINDS, "all"):
        subset = [r for r in rows if kind in ("all", r.question.kind)]
        if not subset:
            continue
        line = f"{kind:<13}{len(subset) // len(systems):>4}"
        for system in systems:
            mine = [r for r in subset if r.system == system]
            scored = [r for r in mine if r.at5 is not None]
            at5 = mean([r.at5 for r in scored])  # type: ignore[misc]
            at10 = mean([r.at10 for r in scored])  # type: ignore[misc]
            chars = statistics.median(r.chars for r in mine)
            if scored:
                line += f" | {at5:>14.2f}{at10:>7.2f}{chars:>7.0f}"
            else:
                line += f" | {'-':>14}{'-':>7}{chars:>7.0f}"
        lines.append(line)
    for system in systems:
        p50, p95 = percentiles([r.ms for r in rows if r.system == system])
        lines.append(f"  {system}: retrieval p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    return lines


@dataclass(frozen=True, slots=True)
class Figures:
    """One system's answer figures over a set of rows."""

    n: int
    f1: float
    em: float
    hit: float
    abstain_unanswerable: float
    false_abstain: float
    unsupported: float
    p50_s: float
    p95_s: float

    @classmethod
    def of(cls, rows: Sequence[Row]) -> Figures:
        answered = [r for r in rows if r.answer is not None]
        scored = [r.score for r in answered if r.score is not None]
        unanswerable = [r for r in answered if not r.question.gold]
        answerable = [r for r in answered if r.question.gold]
        p50, p95 = percentiles([r.answer.ms / 1000 for r in answered]) if answered else (0, 0)
        return cls(
            n=len(answered),
            f1=mean([s.f1 for s in scored]),
            em=mean([s.em for s in scored]),
            hit=mean([s.hit for s in scored]),
            abstain_unanswerable=mean([float(r.answer.abstained) for r in unanswerable]),
            false_abstain=mean([float(r.answer.abstained) for r in answerable]),
            unsupported=mean([float(bool(r.unsupported)) for r in answered]),
            p50_s=p50,
            p95_s=p95,
        )


def answer_table(seed: int, rows: list[Row], systems: Sequence[str]) -> list[str]:
    """Per kind: F1, EM, hit (or abstention for the unanswerable) per system."""
    head = f"{'kind':<13}{'n':>4}"
    for system in systems:
        head += f" | {system + ' F1':>12}{'EM':>6}{'hit':>6}{'abst':>6}{'unsup':>6}"
    lines = [
        f"\n== seed {seed}: answers (F1/EM/hit on answerable; abst = share abstained; "
        "unsup = share with unsupported words)",
        head,
    ]
    for kind in (*KINDS, "all"):
        subset = [r for r in rows if r.answer and kind in ("all", r.question.kind)]
        if not subset:
            continue
        line = f"{kind:<13}{len({r.question.id for r in subset}):>4}"
        for system in systems:
            mine = [r for r in subset if r.system == system]
            scored = [r.score for r in mine if r.score is not None]
            abst = mean([float(r.answer.abstained) for r in mine])  # type: ignore[union-attr]
            unsup = mean([float(bool(r.unsupported)) for r in mine])
            if scored:
                f1, em, hit = (mean([getattr(s, a) for s in scored]) for a in ("f1", "em", "hit"))
                line += f" | {f1:>12.2f}{em:>6.2f}{hit:>6.2f}{abst:>6.2f}{unsup:>6.2f}"
            else:
                line += f" | {'-':>12}{'-':>6}{'-':>6}{abst:>6.2f}{unsup:>6.2f}"
        lines.append(line)
    for system in systems:
        mine = [r for r in rows if r.system == system]
        f = Figures.of(mine)
        errors = sum(bool(r.answer and r.answer.error) for r in mine)
        failed = f", {errors} failed (counted wrong)" if errors else ""
        lines.append(f"  {system}: answer latency p50 {f.p50_s:.2f} s, p95 {f.p95_s:.2f} s{failed}")
    return lines


def summary(by_seed: dict[int, list[Row]]) -> list[str]:
    """The headline figures per seed, baseline beside node, with node/baseline ratios."""
    lines = ["\n== summary (baseline -> node; ratio node/baseline)"]

    def pair(name: str, base: float, node: float, fmt: str = ".2f") -> str:
        ratio = f"{node / base:.2f}x" if base else "-"
        return f"  {name:<34}{base:>8{fmt}}  ->{node:>8{fmt}}   {ratio}"

    for seed, rows in by_seed.items():
        base = [r for r in rows if r.system == "baseline"]
        node = [r for r in rows if r.system == "node"]
        lines.append(f" seed {seed} ({len(node)} questions)")
        for label, attr in (("evidence recall@5", "at5"), ("evidence recall@10", "at10")):
            b = mean([getattr(r, attr) for r in base if r.at5 is not None])
            n = mean([getattr(r, attr) for r in node if r.at5 is not None])
            lines.append(pair(label, b, n))
        lines.append(
            pair(
                "retrieved chars (median)",
                statistics.median(r.chars for r in base),
                statistics.median(r.chars for r in node),
                ".0f",
            )
        )
        if any(r.answer for r in rows):
            fb, fn = Figures.of(base), Figures.of(node)
            lines += [
                pair("answer token F1 (answerable)", fb.f1, fn.f1),
                pair("answer exact match (answerable)", fb.em, fn.em),
                pair("gold in answer (answerable)", fb.hit, fn.hit),
                pair("abstained on unanswerable", fb.abstain_unanswerable, fn.abstain_unanswerable),
                pair("abstained on answerable", fb.false_abstain, fn.false_abstain),
                pair("answers with unsupported words", fb.unsupported, fn.unsupported),
                pair("answer latency p50 (s)", fb.p50_s, fn.p50_s),
                pair("answer latency p95 (s)", fb.p95_s, fn.p95_s),
            ]
    return lines


# --- the run ------------------------------------------------------------------------------------


async def answer_all(
    rows: list[Row],
    memory: Memory,
    db: Database,
    model: ChatModel,
    systems: Sequence[str] = ("baseline", "node"),
) -> None:
    """Answer every question with both systems (the model shared, one at a time)."""
    settings = ModelSettings(temperature=0.0)
    owner = OwnerStore(db)
    chat = ChatService(
        model=model,
        memory=memory,
        owner=owner,
        roles=RoleStore(db),
        history=ChatHistory(db),
        settings=settings,
        retrieve_k=K,
    )
    if Recall is not None:
        chat.recall = Recall(memory)
    for n, row in enumerate(rows, start=1):
        if row.system not in systems:
            continue
        if row.system == "baseline":
            got = await baseline_answer(model, memory, owner, settings, row.question)
        else:
            got = await node_answer(chat, row.question)
        judge(row, got)
        if got.error and not any(r.answer and r.answer.error for r in rows[: n - 1]):
            print(f"  {row.system} failed on {row.question.id}: {got.error}", flush=True)
        if n % 20 == 0:
            print(f"  answered {n // 2} of {len(rows) // 2}", flush=True)


async def run_seed(
    seed: int, embedder: Embedder, model: ChatModel | None, args: argparse.Namespace
) -> list[Row]:
    corpus = generate(seed)
    questions = corpus.questions
    if args.questions and args.questions < len(questions):
        questions = random.Random(seed).sample(questions, args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        memory, db = open_memory(Path(tmp) / "node", embedder)
        try:
            took = await fill(memory, corpus)
            # What the daemon's L1 document jobs do without the model: insights, entities and
            # the facts chat draws on, each statement dated.
            OwnerStore(db).update({"name": corpus.owner})
            l1 = L1Service(memory, None, OwnerStore(db), MemorySettings())
            for doc in memory.documents.list():
                await asyncio.to_thread(l1.read_document, doc)
            chunks = memory.documents.counts()["chunks"]
            turns = sum(d.count(b"\n") for d in corpus.files.values())
            print(
                f"seed {seed}: owner {corpus.owner}, people {', '.join(corpus.people)}; "
                f"{len(corpus.files)} files, {turns} turns, {chunks} chunks "
                f"ingested in {took:.1f} s; {len(questions)} questions",
                flush=True,
            )
            node = NodeRetriever(memory)
            print(f"  node retrieval: {node.name}")
            rows: list[Row] = []
            for question in questions:
                rows.append(measure(question, "baseline", dense_top_k(memory, question.text)))
                rows.append(measure(question, "node", await node(question)))
            if model is not None:
                systems = ("baseline", "node") if args.answer == "both" else (args.answer,)
                await answer_all(rows, memory, db, model, systems)
        finally:
            memory.close()
            db.close()
    return rows


async def run(args: argparse.Namespace) -> None:
    embedder = Embedder(locate.embedder_path(""))
    model = None
    if not args.retrieval_only:
        settings = ModelSettings()
        model = ChatModel(
            locate.chat_model_path(""),
            context_tokens=settings.context_tokens,
            threads=settings.threads,
        )
        await model.start()
    by_seed: dict[int, list[Row]] = {}
    started = time.perf_counter()
    try:
        for seed in args.seeds:
            rows = await run_seed(seed, embedder, model, args)
            by_seed[seed] = rows
            print("\n".join(retrieval_table(seed, rows, ("baseline", "node"))))
            if model is not None:
                print("\n".join(answer_table(seed, rows, ("baseline", "node"))))
    finally:
        if model is not None:
            await model.close()
    print("\n".join(summary(by_seed)))
    print(f"\nwhole run: {time.perf_counter() - started:.0f} s")
    if args.json:
        out = {str(seed): [r.to_json() for r in rows] for seed, rows in by_seed.items()}
        args.json.write_text(json.dumps(out, indent=1, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="corpus seeds")
    parser.add_argument(
        "--questions", type=int, default=0, help="sample this many questions per seed (0: all)"
    )
    parser.add_argument(
        "--retrieval-only",
        action="store_true",
        help="measure evidence recall and retrieved characters only (no model, no answers)",
    )
    parser.add_argument(
        "--answer",
        choices=("both", "baseline", "node"),
        default="both",
        help="which system answers (retrieval is measured for both either way)",
    )
    parser.add_argument("--json", type=Path, help="write every question's figures here")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
