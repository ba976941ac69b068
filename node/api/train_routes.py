"""The owner API for L2: training jobs, their data, and the adapters that serve."""

from __future__ import annotations

from aiohttp import web

from secondme.node.api.routes import services, string_list
from secondme.node.core.errors import InvalidRequest, NotFound
from secondme.node.http.body import field, json_body

routes = web.RouteTableDef()


@routes.post("/api/train")
async def train_start(request: web.Request) -> web.Response:
    """Start a job (``resume``: continue the newest interrupted or failed one). Answers at once
    with the job; ``GET /api/train/status`` follows it."""
    body = await json_body(request)
    l2 = services(request).l2
    if field(body, "resume", bool, False):
        job = await l2.resume(field(body, "job", str))
        return web.json_response(job, status=202)
    steps, epochs = field(body, "steps", int), field(body, "epochs", float)
    job = await l2.train(
        preset=field(body, "preset", str),
        steps=steps,
        epochs=epochs,
        samples=field(body, "samples", int),
        exclude_topics=string_list(body, "exclude_topics"),
        tags=string_list(body, "tags"),
        topics=string_list(body, "topics"),
        dry_run=bool(field(body, "dry_run", bool, False)),
    )
    return web.json_response(job, status=202)


@routes.get("/api/train/status")
async def train_status(request: web.Request) -> web.Response:
    """The newest job (or ``?job=ID``): state, stage, live progress, per-stage figures."""
    return web.json_response(services(request).l2.status(request.query.get("job")))


@routes.post("/api/train/cancel")
async def train_cancel(request: web.Request) -> web.Response:
    return web.json_response(await services(request).l2.cancel())


@routes.get("/api/train/data")
async def train_data(request: web.Request) -> web.Response:
    """A synthesized dataset (the newest, or ``?version=N``) with every sample's provenance."""
    store = services(request).l2.store
    raw = request.query.get("version")
    try:
        version = int(raw) if raw else None
    except ValueError:
        raise InvalidRequest("version must be a number") from None
    dataset = store.dataset(version)
    if dataset is None:
        raise NotFound("no training data yet: run `train --dry-run` or `train`")
    return web.json_response({**dataset, "samples": store.samples(dataset["version"])})


@routes.get("/api/models")
async def models_list(request: web.Request) -> web.Response:
    return web.json_response(services(request).l2.models())


@routes.post("/api/models/use")
async def models_use(request: web.Request) -> web.Response:
    """Serve an adapter (``adapter``: id or prefix, or ``base``) from the next answer on."""
    body = await json_body(request)
    wanted = field(body, "adapter", str)
    if not wanted:
        raise InvalidRequest("field 'adapter' is required (an adapter id, or 'base')")
    return web.json_response(await services(request).l2.use(wanted))


@routes.post("/api/models/rollback")
async def models_rollback(request: web.Request) -> web.Response:
    return web.json_response(await services(request).l2.rollback())


@routes.post("/api/models/probe")
async def models_probe(request: web.Request) -> web.Response:
    """The serving model's most likely next tokens after ``prompt``, with log-probabilities."""
    body = await json_body(request)
    prompt = field(body, "prompt", str)
    if not prompt:
        raise InvalidRequest("field 'prompt' is required")
    top = field(body, "top", int, 10)
    if not 1 <= top <= 100:
        raise InvalidRequest("field 'top' must be between 1 and 100")
    model = services(request).chat.model
    tokens = await model.next_token_logprobs(prompt, top)
    return web.json_response(
        {
            "adapter": str(model.adapter) if model.adapter else None,
            "tokens": [{"token": t, "logprob": p} for t, p in tokens],
        }
    )
