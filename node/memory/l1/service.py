"""The L1 worker: turns new L0 documents into insights, topics, a profile and an entity graph.

Work is a queue in SQLite (:class:`.job_queue.JobQueue`), filled by :meth:`Memory.ingest` for each
new or changed document and by this worker, and taken in a fixed order: each changed document
first (extractive insight and entities, no model, seconds), then re-clustering, then the profile,
then what the model writes (topic names, representative documents' titles and overviews, entity
types). A killed daemon leaves its running job pending; the next start resumes there. A job that
raises is retried a bounded number of times, then marked failed with the reason; the rest goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from secondme.node.core.config import MemorySettings
from secondme.node.core.tasks import Supervisor
from secondme.node.core.testing_hooks import hold_async
from secondme.node.memory.documents import ChunkRecord, DocumentRecord
from secondme.node.memory.l1 import clustering
from secondme.node.memory.l1.entity_store import describe_entity
from secondme.node.memory.l1.extract import (
    ChunkText,
    best_sentence,
    extract_entities,
    extract_insight,
    group_relations,
    rule_kind,
    with_links,
)
from secondme.node.memory.l1.facts import (
    MODEL_PREDICATES,
    chunk_statements,
    day_of,
    model_candidates,
    model_statement,
)
from secondme.node.memory.l1.generate import L1Writer, ModelOutputRejected
from secondme.node.memory.l1.job_queue import Job
from secondme.node.memory.l1.profile import (
    PROFILE_TOPICS,
    ProfileTopic,
    extractive_biography,
    facts_text,
    interests,
    profile_facts,
    profile_topic,
)
from secondme.node.memory.l1.text import (
    find_dates,
    sentences,
    shorten,
    term_counts,
    words,
)
from secondme.node.memory.l1.topic_store import TopicDraft
from secondme.node.memory.service import Memory
from secondme.node.models.llm import ChatModel
from secondme.node.people.owner import OwnerStore

log = logging.getLogger(__name__)

NAMING_SAMPLES = 5
"""Chunks nearest a topic's centroid that the model reads to name it."""
ENTITY_BATCH = 8
NOT_TOPIC_NAMES = ("person", "thing")
"""Entities of these kinds do not name an interest: a topic about hikes with Tomás is not
"Tomás" (places and organisations may: "Lisbon", "Hospital de Santa Maria")."""
_MAX_EVENTS = 50
_FACT_CHARS = 220


class L1Service:
    def __init__(
        self,
        memory: Memory,
        model: ChatModel | None,
        owner: OwnerStore,
        settings: MemorySettings,
    ) -> None:
        self._memory = memory
        self.store = memory.l1
        self._documents = memory.documents
        self._owner = owner
        self._settings = settings
        self.writer = L1Writer(
            model.complete if model else _no_model, attempts=settings.l1_model_attempts
        )
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks = Supervisor("L1", log)
        self.current: Job | None = None
        memory.on_l1_work(self.wake)  # a document ingested: Memory queued its job

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        resumed = self.store.jobs.resume()
        if resumed:
            log.info("L1: resuming %d job(s) interrupted by the last stop", resumed)
        self._task = self._tasks.spawn(self._run(), name="worker")

    async def close(self) -> None:
        await self._tasks.close()
        self._task = None

    def wake(self) -> None:
        """There may be new work: the worker looks, and is not idle until it finds none."""
        self._idle.clear()
        self._wakeup.set()

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Until no L1 work is pending (True), or ``timeout`` seconds pass (False)."""
        if self._task is None:
            return self.store.jobs.next() is None
        self.wake()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- events from L0 -----------------------------------------------------------------------

    def documents_forgotten(self) -> None:
        if self._settings.l1_enabled:
            self.store.jobs.enqueue("topics", force=True)
            self.wake()

    def catch_up(self) -> int:
        """At start: drop records left without sources, and queue documents that have no
        insight for their current content (after an upgrade, or with L1 switched back on);
        returns how many were queued."""
        gone = self.store.prune()  # records a crash mid-forget left without sources
        if gone:
            self._memory.collect_garbage(gone)
        if not self._settings.l1_enabled:
            return 0
        queued = 0
        for doc in self._documents.list():
            insight = self.store.insights.get(doc.id)
            if insight is None or insight["content_hash"] != doc.content_hash:
                self.store.jobs.enqueue("document", doc.id, doc.content_hash)
                queued += 1
        return queued

    # -- the worker ---------------------------------------------------------------------------

    async def _run(self) -> None:
        handlers = {
            "document": self._document,
            "topics": self._topics,
            "topic": self._topic_name,
            "profile": self._profile,
            "summary": self._summary,
            "entity_types": self._entity_types,
        }
        while True:
            job = self.store.jobs.next()
            if job is None:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            self.current = job
            self.store.jobs.mark_running(job)
            started = time.perf_counter()
            try:
                await hold_async("l1.job")  # tests kill here: a job running, others waiting
                await handlers[job.kind](job)
            except asyncio.CancelledError:
                raise  # the daemon stops: the job stays running, resume() re-queues it
            except ModelOutputRejected as exc:
                log.warning("L1 %s: %s", job.label, exc)
                self.store.jobs.mark_failed(job, str(exc), final=True)  # the writer already retried
            except Exception as exc:
                log.exception("L1 %s failed", job.label)
                self.store.jobs.mark_failed(job, f"{type(exc).__name__}: {exc}")
            else:
                self.store.jobs.mark_done(job)
                log.debug("L1 %s done in %.2f s", job.label, time.perf_counter() - started)
            finally:
                self.current = None

    # -- document: extractive insight and entities --------------------------------------------

    async def _document(self, job: Job) -> None:
        doc = self._documents.get(job.target)
        if doc is None or doc.content_hash != job.version:
            return  # forgotten or replaced since: the newer job does the work
        chunks = self._documents.chunks_of(doc.id)
        await asyncio.to_thread(self._document_sync, doc, chunks)
        if self._settings.l1_model_facts > 0:
            await self._model_facts(doc, chunks)
        self.store.jobs.enqueue("topics", force=True)

    async def _model_facts(self, doc: DocumentRecord, chunks: list[ChunkRecord]) -> None:
        """The model reads a bounded number of first-person sentences the rules found nothing
        in; a fact is kept only if its object is words of the sentence and grounded in it."""
        owner = doc.me or self._owner.get().name
        budget = self._settings.l1_model_facts
        found, dates = [], {}
        for chunk in chunks:
            dates[chunk.id] = day_of(chunk.time_start) or day_of(doc.date) or _day(doc.ingested_at)
            for turn, sentence, position in model_candidates(
                chunk.id, chunk.text, speakers=chunk.speakers, owner_name=owner,
                exact=doc.me is not None,
                time=chunk.time_start,
            ):  # fmt: skip
                if budget == 0:
                    break
                budget -= 1
                try:
                    record = await self.writer.fact(sentence, MODEL_PREDICATES)
                except ModelOutputRejected as exc:
                    log.debug("L1 fact of %s: %s", doc.id, exc)
                    continue
                statement = model_statement(record, turn, sentence, chunk.id, position, chunk.dates)
                if statement is not None:
                    found.append(statement)
        if found:
            self.store.facts.add(doc.id, found, dates)

    def read_document(self, doc: DocumentRecord) -> None:
        """The part of a document's L1 job that needs no model (its insight, entities and
        facts by rules), now, in this thread: for tools that measure memory without a daemon."""
        self._document_sync(doc, self._documents.chunks_of(doc.id))

    def _document_sync(self, doc: DocumentRecord, chunks: list[ChunkRecord]) -> None:
        texts = [ChunkText(c.id, c.text) for c in chunks]
        current = self.store.insights.get(doc.id)
        if current is not None and current["content_hash"] != doc.content_hash:
            # Replaced: what the old chunks alone gave goes, and what they said with it.
            self._memory.collect_garbage(self.store.prune())
        if current is None or current["content_hash"] != doc.content_hash:
            # An insight of this very content (perhaps titled by the model) is kept.
            ids = [c.id for c in chunks]
            vectors = self._memory.chunk_vectors(ids, [c.text for c in chunks])
            insight = extract_insight(doc.title, texts, vectors)
            self.store.insights.save(
                doc.id,
                doc.content_hash,
                title=insight.title or doc.name,
                overview=insight.overview,
                key_points=[p.to_json() for p in insight.key_points],
                summary=insight.summary,
                method="extractive",
                sources=[p.chunk_id for p in insight.key_points],
            )
        self._index_insight(doc)
        speakers = sorted({s for c in chunks for s in c.speakers})
        findings, relations = extract_entities(texts, speakers)
        findings, relations = with_links(
            findings, relations, doc.title or doc.name, doc.links, texts
        )
        self.store.entities.save(
            [c.id for c in chunks],
            [(f.key, f.name, rule_kind(f.kind_votes), f.mentions) for f in findings],
            group_relations(relations),
            self._owner.get().name,
        )
        self._save_facts(doc, chunks)

    def _save_facts(self, doc: DocumentRecord, chunks: list[ChunkRecord]) -> None:
        """What the document states about its owner and the people in it, each statement dated
        by the date it names, else its turn's or chunk's time, else the document's."""
        owner = doc.me or self._owner.get().name
        fallback = day_of(doc.date) or _day(doc.ingested_at)
        statements, dates = [], {}
        for chunk in chunks:
            dates[chunk.id] = day_of(chunk.time_start) or fallback
            statements += chunk_statements(
                chunk.id,
                chunk.text,
                speakers=chunk.speakers,
                owner_name=owner,
                exact=doc.me is not None,
                time=chunk.time_start,
                mentions=chunk.dates,
            )
        self.store.facts.replace_document(doc.id, statements, dates)

    def _index_insight(self, doc: DocumentRecord) -> None:
        insight = self.store.insights.get(doc.id)
        if insight is None:
            return
        points = "\n".join(f"- {p['text']}" for p in insight["key_points"])
        text = f"{insight['title']}\n{insight['overview']}\n{points}".strip()
        self._memory.index_l1([("insight", doc.id, text, doc.tags)])

    # -- topics: cluster, carry names over, queue naming and summaries ------------------------

    async def _topics(self, job: Job) -> None:
        named = await asyncio.to_thread(self._topics_sync)
        for topic_id in named:
            self.store.jobs.enqueue("topic", topic_id, force=True)
        self.store.jobs.enqueue("profile", force=True)
        if self.store.entities.untyped(1) and self._settings.l1_model_entities:
            self.store.jobs.enqueue("entity_types", force=True)

    def _topics_sync(self) -> list[str]:
        """Re-cluster every chunk; returns the ids of topics that need a (new) name."""
        ids = self._documents.chunk_ids()
        found = self._documents.chunks_with_documents(ids)
        ids = [i for i in ids if i in found]
        texts = [found[i][0].text for i in ids]
        vectors = self._memory.chunk_vectors(ids, texts)
        clusters = clustering.cluster(vectors)
        members = [frozenset(ids[i] for i in c.members) for c in clusters]
        matches = clustering.match_clusters(members, self.store.topics.members())
        old = self.store.topics.names()
        titles = [
            sorted({found[ids[i]][1].title or found[ids[i]][1].name for i in c.members})
            for c in clusters
        ]
        terms = clustering.distinctive_terms(
            [[texts[i] for i in c.members] for c in clusters], titles
        )
        people = frozenset(
            " ".join(words(n)) for n in self.store.entities.names_of_kind(*NOT_TOPIC_NAMES)
        )
        drafts, to_name = [], []
        for index, c in enumerate(clusters):
            chunk_ids = tuple(ids[i] for i in c.members)
            topic_id = matches.get(index) or str(uuid.uuid4())
            kept = old.get(topic_id)
            tags = _shared_tags([found[i][1] for i in chunk_ids])
            if kept and kept["method"] != "stale" and _carry(kept["named_from"], tags, found):
                name, description, method = kept["name"], kept["description"], kept["method"]
                named_from = kept["named_from"]
            else:
                # Named from the words of all its chunks: they are all its name's sources.
                name, description = (
                    _name_from_terms(terms[index], people),
                    _description_from(texts[c.members[0]]),
                )
                method, named_from = "terms", chunk_ids
                to_name.append(topic_id)
            drafts.append(
                TopicDraft(
                    id=topic_id,
                    name=name,
                    description=description,
                    terms=tuple(terms[index]),
                    confidence=c.cohesion,
                    method=method,
                    named_from=tuple(named_from),
                    chunk_ids=chunk_ids,
                    events=_events([found[i][0] for i in chunk_ids]),
                )
            )
        gone = self.store.topics.replace(_unique_names(drafts))
        self._memory.collect_garbage(gone)
        self._index_topics()
        self._index_entities()
        self._queue_summaries(clusters, ids, found)
        return to_name

    def _index_topics(self) -> None:
        records = []
        for topic in self.store.topics.list():
            docs = [self._documents.get(d["doc_id"]) for d in topic["documents"]]
            text = (
                f"{topic['name']}\n{topic['description']}\nKey words: {', '.join(topic['terms'])}"
            )
            records.append(("topic", topic["id"], text, _shared_tags(docs)))
        self._memory.index_l1(records)

    def _index_entities(self) -> None:
        records, unlisted = [], []
        for entity in self.store.entities.list():
            if entity["owner"] or not (entity["relations"] or len(entity["chunks"]) > 1):
                unlisted.append(entity["id"])
                continue
            evidence = [c for r in entity["relations"] for c in r["chunks"]]
            found = self._documents.chunks_with_documents([*entity["chunks"], *evidence])
            tags = _shared_tags([found[c][1] for c in entity["chunks"] if c in found])
            shown = _relations_within(entity["relations"], tags, found)
            if not (shown or len(entity["chunks"]) > 1):
                unlisted.append(entity["id"])
                continue
            text = describe_entity({**entity, "relations": shown})
            records.append(("entity", entity["id"], text, tags))
        self._memory.collect_garbage(self.store.points.drop("entity", unlisted))
        self._memory.index_l1(records)

    def _queue_summaries(self, clusters, ids, found) -> None:
        """The documents nearest each topic's centre get a model-written title and overview."""
        per_topic = self._settings.l1_summaries_per_topic
        if per_topic == 0:
            return
        for c in clusters:
            order: list[str] = []
            for i in c.members:
                doc = found[ids[i]][1]
                if doc.id not in order:
                    order.append(doc.id)
            for doc_id in order if per_topic < 0 else order[:per_topic]:
                doc = self._documents.get(doc_id)
                if doc is not None:
                    self.store.jobs.enqueue("summary", doc.id, doc.content_hash)

    # -- what the model writes ----------------------------------------------------------------

    async def _topic_name(self, job: Job) -> None:
        topics = self.store.topics.list(job.target)
        if not topics:
            return
        topic = topics[0]
        found = self._documents.chunk_texts(topic["chunks"][:NAMING_SAMPLES])
        weights = term_counts(found.values())
        samples = [s for s in (_key_sentence(t, weights) for t in found.values()) if s]
        people = self.store.entities.names_of_kind(*NOT_TOPIC_NAMES)
        name, description = await self.writer.topic_name(topic["terms"], samples, people)
        self.store.topics.rename(
            topic["id"],
            name=name,
            description=description,
            method="model",
            named_from=topic["chunks"],  # the key words it was given come from all of them
        )
        await asyncio.to_thread(self._index_topics)
        self.store.jobs.enqueue("profile", force=True)

    async def _summary(self, job: Job) -> None:
        doc = self._documents.get(job.target)
        insight = self.store.insights.get(job.target)
        if doc is None or insight is None or doc.content_hash != job.version:
            return
        points = [p["text"] for p in insight["key_points"]]
        sources = list(self._documents.chunk_texts(insight["sources"]).values())
        title, overview = await self.writer.document_title("\n".join(points), sources)
        self.store.insights.set_text(doc.id, title=title, overview=overview, method="model")
        await asyncio.to_thread(self._index_insight, doc)

    async def _entity_types(self, job: Job) -> None:
        budget = self._settings.l1_model_entities
        typed = 0
        while budget < 0 or typed < budget:
            batch = self.store.entities.untyped(ENTITY_BATCH)
            if not batch:
                return
            kinds = await self.writer.entity_kinds([(e["name"], e["context"]) for e in batch])
            self.store.entities.set_kinds({e["id"]: kinds[e["name"]] for e in batch}, "model")
            typed += len(batch)

    # -- profile ------------------------------------------------------------------------------

    async def _profile(self, job: Job) -> None:
        if self.store.jobs.has_pending("document", "topics"):
            return  # the topics job queues the profile again when it is done
        owner = self._owner.get()
        topics, recent, sources = await asyncio.to_thread(self._profile_material)
        if not topics:
            return  # empty memory: an empty profile, nothing to store
        known = await asyncio.to_thread(lambda: profile_facts(self.store.facts.facts()))
        sources = list(dict.fromkeys([*sources, *(f.chunk_id for f in known)]))
        first, third = extractive_biography(
            owner.name, owner.fields.get("description", ""), topics, facts_text(known)
        )
        third = f"{facts_text(known, owner.name)} {third}".strip()
        status = _extractive_status(recent)
        method = "extractive"
        problems = []
        facts = [t.fact for t in topics if t.fact]
        try:
            model_first, model_third = await self.writer.biography(owner.name, facts)
            listed = interests(topics)
            # The current facts are stated as they are: a small model may not restate them.
            first = " ".join(
                f"{model_first} {facts_text(known)} I write most about: {listed}.".split()
            )
            third = " ".join(
                f"{model_third} {facts_text(known, owner.name)} "
                f"{owner.name} writes most about: {listed}.".split()
            )
            method = "model"
        except ModelOutputRejected as exc:
            problems.append(f"biography: {exc}")
        try:
            status = await self.writer.recently(owner.name, [text for _, text in recent])
        except ModelOutputRejected as exc:
            problems.append(f"recently: {exc}")
        self.store.profiles.add(
            first_person=first,
            third_person=third,
            recently=status,
            method=method,
            topics=[t.name for t in topics],
            sources=sources,
        )
        if problems:
            raise ModelOutputRejected("; ".join(problems) + " (the extractive text was kept)")

    def _profile_material(
        self,
    ) -> tuple[list[ProfileTopic], list[tuple[str, str]], list[str]]:
        """The biggest topics, the newest overviews, and every chunk the profile's text comes
        from: the topics' chunks (their names), the facts' and the overviews' (their insights'
        sources). A profile version goes when any of them is forgotten."""
        topics = [
            profile_topic(topic, self._documents)
            for topic in self.store.topics.list()[:PROFILE_TOPICS]
        ]
        recent, recent_sources = [], []
        for doc in sorted(self._documents.list(), key=lambda d: -d.ingested_at)[:3]:
            insight = self.store.insights.get(doc.id)
            if insight and insight["overview"]:
                recent.append(
                    (insight["sources"][0] if insight["sources"] else "", insight["overview"])
                )
                recent_sources += insight["sources"]
        sources = [c for t in topics for c in t.chunks] + recent_sources
        return topics, recent, list(dict.fromkeys(sources))

    # -- status -------------------------------------------------------------------------------

    def document_states(self) -> dict[str, dict]:
        """Each document's L1 state by document id, from its own jobs (its insight, and the
        model's summary where it sits near a topic's centre): the least finished one wins,
        with the reason where a job failed."""
        rank = {"running": 0, "pending": 1, "failed": 2, "done": 3}
        states: dict[str, dict] = {}
        for job in self.store.jobs.list():
            if job["kind"] not in ("document", "summary"):
                continue
            known = states.get(job["target"])
            if known is None or rank[job["state"]] < rank[known["state"]]:
                states[job["target"]] = {
                    "state": job["state"],
                    "kind": job["kind"],
                    "error": job["error"],
                }
        return states

    def status(self) -> dict:
        jobs = self.store.jobs.list()
        counts = Counter(j["state"] for j in jobs)
        by_kind: dict[str, Counter[str]] = {}
        for j in jobs:
            by_kind.setdefault(j["kind"], Counter())[j["state"]] += 1
        finished = counts["done"] + counts["failed"]
        return {
            "enabled": self._settings.l1_enabled,
            "state": "running" if self.current else ("pending" if counts["pending"] else "idle"),
            "running": None
            if self.current is None
            else {"kind": self.current.kind, "target": self.current.target},
            "counts": {s: counts[s] for s in ("pending", "running", "done", "failed")},
            "progress": {"done": finished, "total": len(jobs)},
            "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
            "failed": [
                {
                    "kind": j["kind"],
                    "target": j["target"],
                    "error": j["error"],
                    "attempts": j["attempts"],
                }
                for j in jobs
                if j["state"] == "failed"
            ],
            "pending": [
                {"kind": j["kind"], "target": j["target"]} for j in jobs if j["state"] == "pending"
            ][:50],
            "model_usage": {
                "calls": self.writer.usage.calls,
                "prompt_tokens": self.writer.usage.prompt_tokens,
                "completion_tokens": self.writer.usage.completion_tokens,
            },
            "records": self.store.counts(),
        }


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).date().isoformat()


async def _no_model(*args, **kwargs):
    raise ModelOutputRejected("no model is loaded")


def _key_sentence(text: str, weights: Counter[str]) -> str | None:
    found = best_sentence(text, weights)
    return shorten(found[0], _FACT_CHARS) if found else None


def _shared_tags(docs: Sequence[DocumentRecord | None]) -> list[str]:
    """The tags every source document carries: an L1 record is in a tag's scope only if all
    that it was made from is, so a grant on one tag never shows what came from another."""
    tag_sets = [set(d.tags) for d in docs if d is not None]
    return sorted(set.intersection(*tag_sets)) if tag_sets else []


def _carry(
    sources: Sequence[str],
    tags: Sequence[str],
    found: dict[str, tuple[ChunkRecord, DocumentRecord]],
) -> bool:
    """Do all ``sources`` still exist and carry every one of ``tags``? A text written from them
    may then stay in a record carrying ``tags``; otherwise it is written again."""
    return bool(sources) and all(c in found and set(tags) <= set(found[c][1].tags) for c in sources)


def _relations_within(
    relations: Sequence[dict],
    tags: Sequence[str],
    found: dict[str, tuple[ChunkRecord, DocumentRecord]],
) -> list[dict]:
    """The relations an entity's record carrying ``tags`` may show: those a chunk carrying all
    of ``tags`` supports, the other end named as that chunk writes it (the owner as "me", its
    name being a profile field the owner may keep private)."""
    shown = []
    for relation in relations:
        within = [c for c in relation["chunks"] if c in found and _carry([c], tags, found)]
        if not within:
            continue
        other = "me" if relation["other_owner"] else relation["named"].get(within[0])
        if other:
            shown.append({**relation, "other": other, "chunks": within})
    return shown


def _name_from_terms(terms: Sequence[str], people: frozenset[str] = frozenset()) -> str:
    """A name from distinctive words, not from the people in the notes ("Ana" is not an
    interest, though a topic about family names her most)."""
    usable = [t for t in terms if t not in people] or list(terms)
    return " & ".join(t.capitalize() for t in usable[:2]) or "Miscellaneous"


def _description_from(text: str) -> str:
    weights = term_counts([text])
    return _key_sentence(text, weights) or shorten(text, 160)


def _unique_names(drafts: list[TopicDraft]) -> list[TopicDraft]:
    """Two topics may not share a name: the smaller one gets its key words added."""
    seen: set[str] = set()
    result = []
    for d in drafts:
        name = d.name
        if name.lower() in seen:
            extra = [t for t in d.terms if t.lower() not in name.lower()][:1]
            name = f"{name} ({extra[0]})" if extra else f"{name} ({len(seen) + 1})"
        seen.add(name.lower())
        result.append(d if name == d.name else dataclasses.replace(d, name=name))
    return result


def _events(chunks: Sequence[ChunkRecord]) -> tuple[tuple[str, str, str], ...]:
    """Dated events of a topic: each dated sentence (or dated chat turn) of its chunks."""
    events: list[tuple[str, str, str]] = []
    for chunk in chunks:
        if chunk.time_start:
            events.append((chunk.time_start[:10], chunk.id, shorten(chunk.text, 200)))
            continue
        for sentence in sentences(chunk.text):
            for date in find_dates(sentence):
                events.append((date, chunk.id, shorten(sentence, 200)))
    events.sort()
    return tuple(events[:_MAX_EVENTS])


def _extractive_status(recent: Sequence[tuple[str, str]]) -> str:
    if not recent:
        return ""
    return "Lately: " + " ".join(text for _, text in recent[:2])
