"""The local chat model: one llama.cpp instance, one generation at a time, fairly shared.

llama.cpp holds a single context, so two generations must never run on it at once. Requests go
into a :class:`FairQueue`; one worker task takes them in turn and runs each generation in a
dedicated thread, handing pieces of text back to the event loop as they are produced. A caller
that stops reading (a closed HTTP stream) cancels its job: a queued job is dropped, a running
one stops at the next token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secondme.node.core.errors import AdapterLoadFailed, ModelClosed
from secondme.node.core.tasks import Supervisor
from secondme.node.core.testing_hooks import record
from secondme.node.models.scheduler import FairQueue

log = logging.getLogger(__name__)

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class Piece:
    """A piece of generated text (usually one token)."""

    text: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The end of a generation, with what it cost."""

    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(eq=False, slots=True)
class _Job:
    messages: Sequence[Message]
    max_tokens: int
    temperature: float
    response_format: dict[str, Any] | None
    adapter: Path | None
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)


BASE_MODEL = "base"


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """Which weights write an answer: the base model alone (``adapter`` None) or the base with
    an L2 adapter. ``name`` is what the audit log records: ``base`` or the adapter's id."""

    name: str
    adapter: Path | None = None


BASE = ModelChoice(BASE_MODEL)


class ChatModel:
    """One llama.cpp model; each generation runs with the adapter its caller chose.

    The base weights are loaded once. L2 adapters are loaded beside them on demand (a few MB
    each, at most :data:`KEPT_ADAPTERS` kept) and switched per generation, so the owner's chat
    can run with the owner's adapter while a peer's answer runs on the base model or on an
    adapter the peer's grant covers. ``adapter`` is the owner's: what :meth:`owner_choice`
    names and the probe uses.
    """

    KEPT_ADAPTERS = 4

    def __init__(
        self,
        path: Path,
        *,
        context_tokens: int = 2048,
        threads: int = 0,
        adapter: Path | None = None,
    ) -> None:
        self.path = path
        self.adapter = adapter
        """The owner's L2 LoRA adapter (GGUF), or None for the base alone."""
        self.context_tokens = context_tokens
        self._threads = threads
        self._llama: Any = None
        self._handles: dict[Path, Any] = {}
        """Loaded adapters, least recently used first."""
        self._applied: Path | None = None
        """The adapter set on the llama context now."""
        self._queue: FairQueue[_Job] = FairQueue()
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self._worker: asyncio.Task[None] | None = None
        self._tasks = Supervisor("chat model", log)
        self._running: _Job | None = None
        self._closed = False

    @property
    def name(self) -> str:
        return self.path.stem

    def owner_choice(self) -> ModelChoice:
        """The model the owner's own chat runs on: the adapter in use, or the base."""
        if self.adapter is None:
            return BASE
        return ModelChoice(self.adapter.stem, self.adapter)

    async def start(self) -> None:
        """Load the weights (in the model thread) and start serving the queue."""
        loop = asyncio.get_running_loop()
        self._llama = await loop.run_in_executor(self._executor, self._load)
        if self.adapter is not None:
            try:
                await loop.run_in_executor(self._executor, self._handle, self.adapter)
            except AdapterLoadFailed:
                self.adapter = None
                raise
        self._worker = self._tasks.spawn(self._serve(), name="worker")

    def _load(self) -> Any:
        from llama_cpp import Llama

        # llama-cpp-python's default is half the cores for generation; the daemon is the only
        # heavy user of this machine while it generates, so it takes all of them.
        threads = self._threads or os.cpu_count() or 1
        return Llama(
            model_path=str(self.path),
            n_ctx=self.context_tokens,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )

    def _handle(self, adapter: Path) -> Any:
        """The loaded adapter (loading it now if need be); model thread only."""
        import llama_cpp

        handle = self._handles.pop(adapter, None)
        if handle is None:
            try:
                handle = llama_cpp.llama_adapter_lora_init(
                    self._llama.model, str(adapter).encode("utf-8")
                )
            except (ValueError, OSError) as exc:
                raise AdapterLoadFailed(
                    f"llama.cpp cannot load the adapter {adapter}: {exc}"
                ) from exc
            # A failed load is a NULL pointer object, not None; using it crashes the process.
            if not handle:
                raise AdapterLoadFailed(f"llama.cpp cannot load the adapter {adapter}")
            for stale in list(self._handles)[: max(0, len(self._handles) - self.KEPT_ADAPTERS + 1)]:
                if stale not in (self._applied, self.adapter):
                    llama_cpp.llama_adapter_lora_free(self._handles.pop(stale))
        self._handles[adapter] = handle
        return handle

    def _apply(self, adapter: Path | None) -> None:
        """Put ``adapter`` (None: none) on the context before a generation; model thread only.
        The prompt cache was evaluated with other weights, so it is dropped on a change."""
        import ctypes

        import llama_cpp

        if adapter == self._applied:
            return
        ctx = self._llama.ctx
        if adapter is None:
            failed = llama_cpp.llama_set_adapters_lora(ctx, None, 0, None)
        else:
            handles = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self._handle(adapter))
            failed = llama_cpp.llama_set_adapters_lora(ctx, handles, 1, (ctypes.c_float * 1)(1.0))
        if failed:
            raise AdapterLoadFailed(f"llama.cpp cannot apply the adapter {adapter}")
        self._llama.reset()
        self._applied = adapter

    async def use_adapter(self, adapter: Path | None) -> None:
        """Make ``adapter`` (None: the base alone) the owner's, from the next generation on.

        The adapter is loaded in the model thread, between generations, and becomes the owner's
        only once llama.cpp has loaded and applied it: a file llama.cpp refuses raises
        :class:`AdapterLoadFailed` and leaves the current one in use.
        """
        if self._closed or self._llama is None:
            raise ModelClosed("the chat model is not running")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._check, adapter)
        self.adapter = adapter

    def _check(self, adapter: Path | None) -> None:
        previous = self._applied
        self._apply(adapter)
        self._apply(previous)

    async def next_token_logprobs(self, prompt: str, top: int = 10) -> list[tuple[str, float]]:
        """The model's ``top`` most likely next tokens after ``prompt``, with log-probabilities:
        what an adapter changed, seen directly rather than through sampled text."""
        if self._closed or self._llama is None:
            raise ModelClosed("the chat model is not running")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._logprobs, prompt, top)

    def _logprobs(self, prompt: str, top: int) -> list[tuple[str, float]]:
        import llama_cpp
        import numpy as np

        llama = self._llama
        self._apply(self.adapter)
        tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        llama.reset()
        llama.eval(tokens)
        # Llama.scores keeps logits only with logits_all (a vocabulary-sized row per context
        # position); the context's own buffer holds the last position's.
        last = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
        logits = np.ctypeslib.as_array(last, shape=(llama.n_vocab(),)).astype(np.float64)
        shifted = logits - logits.max()
        logprobs = shifted - np.log(np.exp(shifted).sum())
        best = np.argsort(-logprobs)[:top]
        return [
            (llama.detokenize([int(i)]).decode("utf-8", "replace"), float(logprobs[i]))
            for i in best
        ]

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def stream(
        self,
        messages: Sequence[Message],
        *,
        requester: str = "owner",
        max_tokens: int = 256,
        temperature: float = 0.3,
        response_format: dict[str, Any] | None = None,
        model: ModelChoice = BASE,
    ) -> AsyncIterator[Piece | Finished]:
        """Yield pieces of the answer as they come, then one :class:`Finished`. ``model`` is
        the base unless the caller chose an adapter (the owner's, or one a grant covers)."""
        if self._closed or self._worker is None:
            raise ModelClosed("the chat model is not running")
        record(
            "model.prompt",
            {"requester": requester, "model": model.name, "messages": list(messages)},
        )
        job = _Job(
            messages,
            max_tokens,
            temperature,
            response_format,
            model.adapter,
            asyncio.get_running_loop(),
        )
        self._queue.push(requester, job)
        self._wakeup.set()
        try:
            while True:
                event = await job.events.get()
                if isinstance(event, BaseException):
                    raise event
                yield event
                if isinstance(event, Finished):
                    return
        finally:
            job.cancelled.set()
            self._queue.remove(requester, job)

    async def complete(self, messages: Sequence[Message], **kwargs: Any) -> tuple[str, Finished]:
        """The whole answer at once."""
        parts: list[str] = []
        async for event in self.stream(messages, **kwargs):
            if isinstance(event, Piece):
                parts.append(event.text)
            else:
                return "".join(parts), event
        raise AssertionError("stream ended without Finished")  # pragma: no cover

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not len(self._queue):
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            job = self._queue.pop()
            if job.cancelled.is_set():
                continue
            self._running = job
            try:
                await loop.run_in_executor(self._executor, self._generate, job)
            except Exception as exc:  # a failed generation fails its caller, not the worker
                log.exception("generation failed")
                job.events.put_nowait(exc)
            finally:
                self._running = None

    def _generate(self, job: _Job) -> None:
        """Runs in the model thread; the only place that touches the llama context."""

        def emit(event: object) -> None:
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                job.loop.call_soon_threadsafe(job.events.put_nowait, event)

        kwargs: dict[str, Any] = {
            "messages": list(job.messages),
            "max_tokens": job.max_tokens,
            "temperature": job.temperature,
            "stream": True,
        }
        if job.response_format is not None:
            kwargs["response_format"] = job.response_format
        self._apply(job.adapter)
        pieces = 0
        finish_reason = "stop"
        for chunk in self._llama.create_chat_completion(**kwargs):
            if job.cancelled.is_set():
                finish_reason = "cancelled"
                break
            choice = chunk["choices"][0]
            text = choice.get("delta", {}).get("content")
            if text:
                pieces += 1
                emit(Piece(text))
            if choice.get("finish_reason"):
                finish_reason = choice["finish_reason"]
        prompt_tokens = int(getattr(self._llama, "n_tokens", 0)) - pieces
        emit(Finished(finish_reason, max(prompt_tokens, 0), pieces))

    async def close(self) -> None:
        """Stop the worker and free the model; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._running is not None:
            self._running.cancelled.set()  # stop at the next token rather than run to the end
            self._running.events.put_nowait(ModelClosed("the chat model was shut down"))
        await self._tasks.close()
        while len(self._queue):
            self._queue.pop().events.put_nowait(ModelClosed("the chat model was shut down"))
        self._executor.shutdown(wait=True)
        self._llama = None
