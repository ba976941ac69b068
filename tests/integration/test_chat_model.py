"""The real llama.cpp model behind its queue: one generation at a time, fair, cancellable."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from secondme.node.models import locate
from secondme.node.models.llm import AdapterLoadFailed, ChatModel, Finished, ModelClosed, Piece

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "Count from one to ten in words."}]


@pytest.fixture
async def model():
    chat_model = ChatModel(locate.chat_model_path(""), context_tokens=1024)
    await chat_model.start()
    yield chat_model
    await chat_model.close()


async def _collect(model: ChatModel, log: list, tag: str, requester: str, max_tokens: int = 12):
    async for event in model.stream(
        QUESTION, requester=requester, max_tokens=max_tokens, temperature=0.0
    ):
        log.append((tag, type(event).__name__))


async def test_streams_pieces_then_finished(model):
    events = [e async for e in model.stream(QUESTION, max_tokens=16, temperature=0.0)]
    assert all(isinstance(e, Piece) for e in events[:-1]) and len(events) > 2
    assert isinstance(events[-1], Finished)
    assert events[-1].completion_tokens == len(events) - 1
    assert events[-1].prompt_tokens > 0


async def test_concurrent_requests_never_interleave(model):
    log: list = []
    await asyncio.gather(*(_collect(model, log, f"job{n}", f"peer{n}") for n in range(3)))
    finished_at = {tag: i for i, (tag, kind) in enumerate(log) if kind == "Finished"}
    order = sorted(finished_at, key=finished_at.get)
    for earlier, later in itertools.pairwise(order):
        first_of_later = next(i for i, (tag, _) in enumerate(log) if tag == later)
        assert first_of_later > finished_at[earlier], "two generations ran at once"


async def test_a_chatty_requester_does_not_starve_others(model):
    log: list = []
    owner_jobs = [_collect(model, log, f"owner{n}", "owner", max_tokens=4) for n in range(4)]
    tasks = [asyncio.create_task(job) for job in owner_jobs]
    while model.pending < 3:  # the owner's jobs are queued (one may already run)
        await asyncio.sleep(0)
    peer = asyncio.create_task(_collect(model, log, "peer", "peer", max_tokens=4))
    await asyncio.gather(*tasks, peer)
    done_order = [tag for tag, kind in log if kind == "Finished"]
    assert done_order.index("peer") <= 2, done_order


async def test_abandoned_stream_frees_the_model(model):
    stream = model.stream(QUESTION, max_tokens=200, temperature=0.0)
    async for event in stream:
        assert isinstance(event, Piece)
        break
    await stream.aclose()
    text, finished = await model.complete(QUESTION, max_tokens=8, temperature=0.0)
    assert text and finished.completion_tokens > 0


async def test_closed_model_refuses_work(model):
    await model.close()
    with pytest.raises(ModelClosed):
        await model.complete(QUESTION, max_tokens=4)


async def test_probe_is_deterministic_and_a_refused_adapter_keeps_the_model_serving(
    model, tmp_path
):
    paris = await model.next_token_logprobs("The capital of France is", top=3)
    assert paris[0][0].strip() == "Paris" and paris[0][1] > -1.0  # a real distribution
    before = await model.next_token_logprobs("My favourite colour is", top=5)
    assert len(before) == 5
    assert all(p <= 0.0 for _, p in before)
    assert [p for _, p in before] == sorted((p for _, p in before), reverse=True)
    # Generation in between must not disturb the probe (the context is re-evaluated).
    await model.complete(QUESTION, max_tokens=8, temperature=0.0)
    assert await model.next_token_logprobs("My favourite colour is", top=5) == before

    corrupt = tmp_path / "adapter.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(AdapterLoadFailed, match=r"adapter\.gguf"):
        await model.use_adapter(corrupt)
    assert model.adapter is None
    assert await model.next_token_logprobs("My favourite colour is", top=5) == before
    text, finished = await model.complete(QUESTION, max_tokens=8, temperature=0.0)
    assert text and finished.completion_tokens > 0
