"""L2 in the daemon: training jobs, the adapters they make, and which one serves.

A job's first stage, synthesis, runs here because it needs what the daemon holds (the model, the
vector store); the rest (base model, SFT, DPO, export, evaluation) runs in a worker process
(:mod:`secondme.node.l2.worker`) whose progress lines this service reads. The job's state is in
``node.db`` and its files in ``models/jobs/<id>/``, so a job interrupted by a stop, a kill or a
crash resumes from the last finished stage. When the worker finishes, the adapter is filed under
``models/adapters/`` and swapped into the running model; if llama.cpp refuses it, the model that
served before keeps serving. One job runs at a time.

A job may be limited to part of memory (``--tags``, ``--topics``): its data is then drawn only
from those documents, with the owner's public persona, and the adapter records that scope
(:mod:`secondme.node.l2.scope`). :meth:`TrainService.model_for` is how a peer's answer finds the
adapter it may be written by.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import shutil
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from secondme.node.chat.prompt import memory_block, persona_prompt
from secondme.node.core.config import DataDir, L2Settings
from secondme.node.core.errors import InvalidRequest, NotFound, TrainingBusy, TrainingError
from secondme.node.core.fsutil import atomic_write
from secondme.node.core.tasks import Supervisor
from secondme.node.l2 import resources
from secondme.node.l2.presets import settings_for
from secondme.node.l2.scope import OWNER_ONLY, TrainingScope, why_not_covered
from secondme.node.l2.store import L2Store
from secondme.node.l2.synth import NotEnoughData, Passage, check_enough, synthesize, usable
from secondme.node.memory.documents import ChunkRecord
from secondme.node.memory.l1.extract import OWNER_KEY
from secondme.node.memory.l1.facts import turns
from secondme.node.memory.retrieval import SearchHit
from secondme.node.memory.scope import bind_topics, split_label
from secondme.node.memory.service import Memory
from secondme.node.memory.vectors import ScopeFilter
from secondme.node.models.llm import BASE, AdapterLoadFailed, ChatModel, ModelChoice
from secondme.node.people.owner import OwnerStore
from secondme.protocol.grants import Scope

log = logging.getLogger(__name__)

MIN_SAMPLES, MAX_SAMPLES = 4, 20_000
STAGES = ("synth", "base", "sft", "dpo", "export", "eval", "swap")
_STOP_GRACE_S = 10.0


def own_words_of(chunk: ChunkRecord, owner_name: str, *, exact: bool = False) -> str:
    """What the owner wrote in a chunk: all of it outside a chat, their own turns in a chat
    (what the others said in it is not the owner's voice to learn). With ``exact`` only the
    speaker of exactly ``owner_name`` is the owner (the owner named themselves in the chat)."""
    if not chunk.speakers:
        return chunk.text
    said = turns(chunk.text, chunk.speakers, owner_name, chunk.time_start, exact=exact)
    return "\n".join(t.text for t in said if t.subject_key == OWNER_KEY and t.text.strip())


class TrainService:
    def __init__(
        self,
        *,
        data_dir: DataDir,
        store: L2Store,
        memory: Memory,
        model: ChatModel,
        owner: OwnerStore,
        settings: L2Settings,
    ) -> None:
        self._data_dir = data_dir
        self.store = store
        self._memory = memory
        self._model = model
        self._owner = owner
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self._tasks = Supervisor("L2", log)
        self._worker: asyncio.subprocess.Process | None = None
        self._progress: dict[str, Any] = {}
        self._losses: dict[str, list[list[float]]] = {}
        """Each training stage's logged [step, loss] points, for the owner's loss curve."""
        self._stopping = False

    # -- paths --------------------------------------------------------------------------------

    @property
    def _jobs(self) -> Path:
        return self._data_dir.models / "jobs"

    @property
    def _adapters(self) -> Path:
        return self._data_dir.models / "adapters"

    @property
    def base_cache(self) -> Path:
        """Where the base model made from the chat GGUF is kept, one folder per GGUF."""
        return self._data_dir.models / "base" / self._model.path.stem

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Mark jobs a dead daemon left running as interrupted; serve the active adapter."""
        for job_id in self.store.interrupt_running():
            log.info("L2: training job %s was interrupted; `train --resume` continues it", job_id)
        active = self.store.active_adapter()
        if active is None:
            return
        adapter = self.store.adapter(active)
        path = Path(adapter["path"]) if adapter else None
        if path is None or not path.is_file():
            log.error("L2: adapter %s is missing; serving the base model", active)
            return
        try:
            await self._model.use_adapter(path)
            log.info("L2: serving adapter %s", active)
        except AdapterLoadFailed as exc:
            log.error("L2: %s; serving the base model", exc)

    async def close(self) -> None:
        """Stop a running worker; its job stays resumable."""
        self._stopping = True
        await self._stop_job()
        await self._tasks.close()

    async def _stop_job(self) -> None:
        """End the worker (SIGTERM, then SIGKILL after a grace period) and the job's task; the
        job is left 'interrupted' because ``_stopping`` is set."""
        worker = self._worker
        if worker is not None and worker.returncode is None:
            worker.terminate()
            try:
                await asyncio.wait_for(worker.wait(), _STOP_GRACE_S)
            except TimeoutError:
                worker.kill()
                await worker.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- starting jobs ------------------------------------------------------------------------

    def _refuse_if_running(self) -> None:
        running = self.store.running_job()
        if running is not None:
            raise TrainingBusy(
                f"training job {running['id']} is running (stage {running['stage']}); "
                "watch it with `train status`, or stop it with `train cancel`",
                job_id=running["id"],
            )

    async def train(
        self,
        *,
        preset: str | None = None,
        steps: int | None = None,
        epochs: float | None = None,
        samples: int | None = None,
        exclude_topics: list[str] | None = None,
        tags: list[str] | None = None,
        topics: list[str] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Check everything that can be checked up front, then start a job in the background.
        ``tags`` and ``topics`` limit what the adapter learns (and so whom it may answer)."""
        self._refuse_if_running()
        try:
            settings = settings_for(preset or self._settings.preset, steps=steps, epochs=epochs)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        if samples is not None:
            if not MIN_SAMPLES <= samples <= MAX_SAMPLES:
                raise InvalidRequest(f"samples must be between {MIN_SAMPLES} and {MAX_SAMPLES}")
            settings = dataclasses.replace(settings, samples=samples)
        excluded = [t.strip() for t in exclude_topics or [] if t.strip()]
        limit = {
            "tags": sorted({t.strip().lower() for t in tags or [] if t.strip()}),
            "topics": self._topic_ids(topics or []),
        }
        passages, _ = await asyncio.to_thread(self._passages, limit)
        where = _describe_limit(limit)
        if where and not passages:
            raise TrainingError(
                f"nothing in memory is within {where}: `memory documents` shows the tags of each"
                " document, `memory topics` the topics"
            )
        try:
            check_enough(usable(passages, excluded))
        except NotEnoughData as exc:
            raise TrainingError(f"{exc}{f' (within {where})' if where else ''}") from None
        if not dry_run:
            needs = resources.estimate(self._model.path, self._base_folder())
            resources.check(needs, self._data_dir.models)
        job_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        params = {
            "settings": settings.to_json(),
            "exclude_topics": excluded,
            "limit": limit,
            "dry_run": dry_run,
        }
        self.store.create_job(job_id, params)
        self._launch(job_id)
        return self.status(job_id)

    async def resume(self, job_id: str | None = None) -> dict[str, Any]:
        """Continue an interrupted or failed job from its last finished stage."""
        self._refuse_if_running()
        job = self.store.job(job_id)
        if job is None:
            raise NotFound("no training job to resume" + (f" named {job_id}" if job_id else ""))
        if job["state"] not in ("interrupted", "failed"):
            raise InvalidRequest(
                f"training job {job['id']} is {job['state']}; only an interrupted or failed job "
                "can be resumed"
            )
        self.store.update_job(job["id"], state="running", error=None)
        self._launch(job["id"])
        return self.status(job["id"])

    async def cancel(self) -> dict[str, Any]:
        running = self.store.running_job()
        if running is None:
            raise NotFound("no training job is running")
        self._stopping = True
        try:
            await self._stop_job()
        finally:
            self._stopping = False
        self.store.update_job(running["id"], state="cancelled")
        return self.status(running["id"])

    def _launch(self, job_id: str) -> None:
        self._progress, self._losses = {}, {}
        self._task = self._tasks.spawn(self._run(job_id), name=f"job {job_id}")

    # -- status -------------------------------------------------------------------------------

    def status(self, job_id: str | None = None) -> dict[str, Any]:
        job = self.store.job(job_id)
        if job is None:
            if job_id:
                raise NotFound(f"no training job {job_id}")
            return {"job": None, "stages": list(STAGES)}
        if job["state"] == "running":
            job["progress"] = {
                **self._progress,
                "losses": {k: list(v) for k, v in self._losses.items()},
            }
        return {"job": job, "stages": list(STAGES)}

    def summary(self) -> dict[str, Any]:
        """For the node's status: the adapter that serves and the job that runs, if any."""
        running = self.store.running_job()
        return {
            "adapter": self.store.active_adapter(),
            "training": {"job": running["id"], "stage": running["stage"]} if running else None,
        }

    # -- the job ------------------------------------------------------------------------------

    async def _run(self, job_id: str) -> None:
        job = self.store.job(job_id)
        assert job is not None
        stages: dict[str, Any] = job["stages"]
        try:
            if job["dataset"] is None:
                version = await self._synthesize(job_id, job["params"], stages)
                job["dataset"] = version
            if job["params"].get("dry_run"):
                self.store.update_job(job_id, state="done", stage="synth")
                return
            result = await self._train(job_id, job, stages)
            await self._swap_in(job_id, job, result, stages)
            self.store.update_job(job_id, state="done", stage="swap", adapter_id=job_id)
            log.info("L2: job %s done", job_id)
        except asyncio.CancelledError:
            if self._stopping:
                self.store.update_job(job_id, state="interrupted")
            raise
        except (TrainingError, NotEnoughData) as exc:
            log.error("L2: job %s failed: %s", job_id, exc)
            self.store.update_job(job_id, state="failed", error=str(exc))
        except Exception as exc:
            log.exception("L2: job %s failed", job_id)
            self.store.update_job(job_id, state="failed", error=f"{type(exc).__name__}: {exc}")

    def _enter(self, job_id: str, stage: str) -> None:
        self._progress = {"stage": stage}
        self.store.update_job(job_id, stage=stage)

    async def _synthesize(self, job_id: str, params: dict[str, Any], stages: dict) -> int:
        self._enter(job_id, "synth")
        started = time.perf_counter()
        settings = params["settings"]
        limit = params.get("limit") or {}
        system = self._persona(limit)
        passages, scope = await asyncio.to_thread(self._passages, limit)
        # A limited job retrieves only among its own passages (nothing else reaches its data).
        within = (
            None
            if scope.everything
            else ScopeFilter(layers=("l0",), point_ids=tuple(p.chunk_id for p in passages))
        )

        async def generate(messages, max_tokens: int, temperature: float) -> str:
            # The base model writes the data: an adapter would carry what it learned elsewhere.
            text, _ = await self._model.complete(
                messages, requester="l2", max_tokens=max_tokens, temperature=temperature
            )
            return text

        async def retrieve(question: str) -> tuple[str, tuple[str, ...]]:
            k = self._memory.settings.retrieve_k
            if within is None:
                hits = await self._memory.search(question, k=k)
            else:
                hits = await self._memory.search(question, k=k, layers=within.layers, scope=within)
            return memory_block(hits), tuple(h.chunk_id for h in hits if isinstance(h, SearchHit))

        def progress(done: int, total: int) -> None:
            self._progress = {"stage": "synth", "step": done, "total": total}

        report = await synthesize(
            passages,
            samples=settings["samples"],
            heldout_share=settings["heldout_share"],
            system=system,
            generate=generate,
            embed=self._memory.embed,
            retrieve=retrieve,
            progress=progress,
            excluded_topics=params["exclude_topics"],
            seed=settings["seed"],
        )
        version = self.store.add_dataset(job_id, params["exclude_topics"], report)
        seconds = time.perf_counter() - started
        stages["synth"] = {
            "seconds": round(seconds, 2),
            "dataset": version,
            "counts": report.counts(),
            "samples_per_s": round(len(report.samples) / seconds, 3) if seconds else None,
            "scope": scope.to_json(),
        }
        self.store.update_job(job_id, dataset=version, stages=stages)
        log.info("L2: job %s synthesized dataset %d: %s", job_id, version, report.counts())
        return version

    def _passages(self, limit: dict[str, Any]) -> tuple[list[Passage], TrainingScope]:
        """The chunks a job may learn from (every chunk, or those within ``limit``), each with
        its topic (L1) when it has one, and the scope they make up.

        Within a limit, a passage is labelled with its topic only when the whole topic lies
        within the limit: a topic's name is written from its members, and members outside the
        limit must not reach the data.
        """
        l1 = self._memory.l1
        tags, topics = set(limit.get("tags", ())), set(limit.get("topics", ()))
        members = l1.topics.members()
        allowed_chunks = (
            frozenset().union(*(members.get(t, frozenset()) for t in topics)) if topics else None
        )
        found, documents = [], {}
        owner = self._owner.get().name
        for batch in self._memory.documents.iter_chunks():
            for chunk, doc in batch:
                if tags and not tags & set(doc.tags):
                    continue
                if allowed_chunks is not None and chunk.id not in allowed_chunks:
                    continue
                text = own_words_of(chunk, doc.me or owner, exact=doc.me is not None)
                if not text:
                    continue  # a stretch of chat where only others speak
                documents[doc.id] = tuple(doc.tags)
                found.append(Passage(chunk.id, doc.title or doc.name, text, None))
        chosen = {p.chunk_id for p in found}
        names = l1.topics.names()
        topic_of = {
            chunk: names[topic]["name"]
            for topic, chunks in members.items()
            if topic in names and (not (tags or topics) or chunks <= chosen)
            for chunk in chunks
        }
        found = [dataclasses.replace(p, topic=topic_of.get(p.chunk_id)) for p in found]
        scope = TrainingScope.limited(
            tags=sorted(tags),
            topics=sorted(topics),
            documents=documents,
            layers=("l0", "l1") if any(p.topic for p in found) else ("l0",),
        )
        return found, scope

    def _topic_ids(self, wanted: list[str]) -> list[str]:
        """Topic names, ids or labels as ids; an unknown one is a clear error."""
        try:
            bound = bind_topics(Scope(topics=tuple(wanted)), self._memory.l1)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        return sorted({topic_id for _, topic_id in map(split_label, bound.topics) if topic_id})

    def _persona(self, limit: dict[str, Any]) -> str:
        """The system prompt of the training data: the owner's full persona for a job on all
        of memory, the public one for a limited job (whose adapter may answer peers)."""
        owner = self._owner.get()
        limited = limit.get("tags") or limit.get("topics")
        return persona_prompt(owner.public_only() if limited else owner)

    def _base_folder(self) -> Path | None:
        if self._settings.base_model:
            return Path(self._settings.base_model).expanduser()
        return self.base_cache if (self.base_cache / "config.json").is_file() else None

    def _job_files(self, job_id: str, job: dict[str, Any]) -> Path:
        """The job folder with ``job.json`` and ``data.json``, written once per job."""
        folder = self._jobs / job_id
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "data.json").is_file():
            return folder
        system = self._persona(job["params"].get("limit") or {})
        samples = self.store.samples(job["dataset"])
        sft, pairs, heldout = [], [], []
        for s in samples:
            if s["kind"] == "heldout":
                heldout.append(
                    {
                        "question": s["question"],
                        "answer": s["answer"],
                        "fact": s["fact"],
                        "system": system,
                    }
                )
                continue
            context = f"{system}\n\n{s['context']}" if s["kind"] == "context" else system
            prompt = [
                {"role": "system", "content": context},
                {"role": "user", "content": s["question"]},
            ]
            sft.append({"messages": [*prompt, {"role": "assistant", "content": s["answer"]}]})
            if s["rejected"]:
                pairs.append(
                    {
                        "prompt": prompt,
                        "chosen": [{"role": "assistant", "content": s["answer"]}],
                        "rejected": [{"role": "assistant", "content": s["rejected"]}],
                    }
                )
        spec = {
            "job_id": job_id,
            "settings": job["params"]["settings"],
            "base_gguf": str(self._model.path),
            "base_hf": str(Path(self._settings.base_model).expanduser())
            if self._settings.base_model
            else "",
            "base_cache": str(self.base_cache),
        }
        atomic_write(folder / "job.json", json.dumps(spec, indent=1).encode())
        data = {"sft": sft, "pairs": pairs, "heldout": heldout}
        atomic_write(folder / "data.json", json.dumps(data).encode())
        return folder

    async def _train(self, job_id: str, job: dict[str, Any], stages: dict) -> dict[str, Any]:
        folder = await asyncio.to_thread(self._job_files, job_id, job)
        result_file = folder / "result.json"
        if result_file.is_file():
            return json.loads(result_file.read_text())
        env = dict(os.environ)
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        env["HF_DATASETS_CACHE"] = str(folder / "datasets-cache")
        if self._settings.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        errors: deque[str] = deque(maxlen=1)
        with open(folder / "worker.log", "ab") as log_file:
            self._worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "secondme.node.l2.worker",
                str(folder),
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                env=env,
            )
            assert self._worker.stdout is not None
            async for line in self._worker.stdout:
                self._worker_event(job_id, line, stages, errors)
            code = await self._worker.wait()
        self._worker = None
        if code != 0:
            if self._stopping:
                raise asyncio.CancelledError
            detail = errors[0] if errors else f"the training worker exited with status {code}"
            raise TrainingError(
                f"stage {self._progress.get('stage', '?')} failed: {detail} "
                f"(details in {folder / 'worker.log'}); `train --resume` retries it"
            )
        return json.loads(result_file.read_text())

    def _worker_event(self, job_id: str, line: bytes, stages: dict, errors: deque[str]) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return  # not ours: a library printed to stdout
        kind = event.pop("event", None)
        if kind == "stage":
            self._enter(job_id, event["stage"])
        elif kind == "progress":
            self._progress = {**self._progress, **event}
            if "loss" in event:
                points = self._losses.setdefault(event["stage"], [])
                points.append([event["step"], round(event["loss"], 5)])
        elif kind == "stage_done":
            stage = event.pop("stage")
            if stage in self._losses:  # kept with the stage's figures: the curve outlives the job
                event["losses"] = self._losses[stage]
            stages[stage] = event
            self.store.update_job(job_id, stages=stages)
        elif kind == "error":
            errors.append(event.get("message", "unknown error"))

    async def _swap_in(self, job_id: str, job: dict[str, Any], result: dict, stages: dict) -> None:
        """File the exported adapter, record it, and serve it; a refused adapter fails the job
        and the model that served before keeps serving."""
        self._enter(job_id, "swap")
        started = time.perf_counter()
        target = self._adapters / f"{job_id}.gguf"
        if self.store.adapter(job_id) is None:
            self._adapters.mkdir(parents=True, exist_ok=True)
            source = Path(result["adapter"])
            if source.is_file():
                await asyncio.to_thread(shutil.copyfile, source, target.with_suffix(".tmp"))
                os.replace(target.with_suffix(".tmp"), target)
            if not target.is_file():
                raise TrainingError(
                    f"the exported adapter is missing ({source}); run `train` again"
                )
            self.store.add_adapter(
                adapter_id=job_id,
                base_model=self._model.path.name,
                dataset=job["dataset"],
                job_id=job_id,
                path=str(target),
                size=target.stat().st_size,
                metrics=result["metrics"],
                settings=job["params"]["settings"],
                scope=stages.get("synth", {}).get("scope") or {"all": True},
            )
        try:
            await self._model.use_adapter(target)
        except AdapterLoadFailed as exc:
            raise TrainingError(f"{exc}; the previous model keeps serving") from None
        self.store.activate(job_id)
        stages["swap"] = {"seconds": round(time.perf_counter() - started, 2)}
        self.store.update_job(job_id, stages=stages)

    # -- models -------------------------------------------------------------------------------

    def models(self) -> dict[str, Any]:
        active = self.store.active_adapter()
        base_hf = self._base_folder()
        return {
            "base_models": [
                {
                    "name": self._model.path.name,
                    "format": "gguf",
                    "path": str(self._model.path),
                    "serving": True,
                },
                *(
                    [{"name": base_hf.name, "format": "hf", "path": str(base_hf), "serving": False}]
                    if base_hf is not None
                    else []
                ),
            ],
            "adapters": [
                {
                    **adapter,
                    "active": adapter["id"] == active,
                    "learned_from": TrainingScope.from_json(adapter["scope"]).describe(),
                    "serves": self._serves(adapter),
                }
                for adapter in self.store.adapters()
            ],
            "active": active,
            "serving": str(self._model.adapter) if self._model.adapter else None,
        }

    def _serves(self, adapter: dict[str, Any]) -> str:
        """Whom ``adapter`` may answer: the owner only, or peers whose scope covers it."""
        training = TrainingScope.from_json(adapter["scope"])
        if training.everything:
            return OWNER_ONLY
        gone = set(training.documents) - self._memory.documents.ids()
        if gone:
            return f"{OWNER_ONLY} (it learned {len(gone)} forgotten document(s): train again)"
        if adapter["base_model"] != self._model.path.name:
            return f"{OWNER_ONLY} (made for {adapter['base_model']})"
        return f"you, and peers whose grant covers all of it ({training.describe()})"

    def model_for(self, scope: Scope) -> ModelChoice:
        """The model that may answer a peer within ``scope``: the owner's adapter if ``scope``
        covers all it learned, else the newest adapter that ``scope`` covers, else the base.
        An adapter made for another base model, or whose file is gone, never answers."""
        active = self.store.active_adapter()
        candidates = sorted(
            self.store.adapters(), key=lambda a: (a["id"] == active, a["created_at"]), reverse=True
        )
        present: set[str] | None = None
        for adapter in candidates:
            if adapter["base_model"] != self._model.path.name:
                continue
            training = TrainingScope.from_json(adapter["scope"])
            if training.everything:
                continue
            if present is None:
                present = self._memory.documents.ids()
            if why_not_covered(scope, training, present=present) is None:
                path = Path(adapter["path"])
                if path.is_file():
                    return ModelChoice(adapter["id"], path)
        return BASE

    async def use(self, wanted: str) -> dict[str, Any]:
        """Serve an adapter by id (or prefix), or ``base`` for the base model alone."""
        if wanted == "base":
            adapter_id, path = None, None
        else:
            adapter = self.store.adapter(wanted)
            if adapter is None:
                raise NotFound(f"no adapter {wanted!r}; `model list` shows them")
            adapter_id, path = adapter["id"], Path(adapter["path"])
        await self._serve(path)
        self.store.activate(adapter_id)
        return self.models()

    async def rollback(self) -> dict[str, Any]:
        """Serve what served before the current adapter."""
        anything, previous = self.store.previous_adapter()
        if not anything:
            raise InvalidRequest("nothing to roll back: the base model serves and always has")
        path = None
        if previous is not None:
            adapter = self.store.adapter(previous)
            if adapter is None:
                raise NotFound(f"the previous adapter {previous} is gone")
            path = Path(adapter["path"])
        await self._serve(path)
        self.store.undo_active()
        return self.models()

    async def _serve(self, path: Path | None) -> None:
        if path is not None and not path.is_file():
            raise NotFound(f"the adapter file {path} is missing")
        try:
            await self._model.use_adapter(path)
        except AdapterLoadFailed as exc:
            raise TrainingError(f"{exc}; the current model keeps serving") from None


def _describe_limit(limit: dict[str, Any]) -> str:
    parts = []
    if limit.get("tags"):
        parts.append("tags " + ", ".join(limit["tags"]))
    if limit.get("topics"):
        parts.append(f"{len(limit['topics'])} topic(s)")
    return " and ".join(parts)
