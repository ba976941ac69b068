"""Answering another node's ``ask`` as the owner: the SMP handler around
:meth:`ChatService.answer_peer <secondme.node.chat.service.ChatService.answer_peer>`.

It runs with the permit the access gate issued and is registered by the access room
(:func:`secondme.node.access.peer_side.serve_peers`), which binds what it needs: the chat
service, the translation of a grant's scope into a store filter (the one place:
:func:`secondme.node.memory.scope.memory_filter`) and the choice of model for that scope. The
answer streams as the model writes it; before its first piece it says what of memory it draws on
(a :class:`~secondme.node.p2p.handlers.Shared`), so the audit log records that however the
stream ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from secondme.node.chat.service import ChatService, Sources
from secondme.node.memory.retrieval import memory_ref
from secondme.node.memory.vectors import ScopeFilter
from secondme.node.models.llm import Finished, ModelChoice, Piece
from secondme.node.p2p.handlers import Reply, Shared, fit
from secondme.protocol.access import MAX_ANSWER, MAX_ANSWER_PART, Answer, AnswerPart, Ask
from secondme.protocol.grants import Permit, Scope
from secondme.protocol.session import IncomingRequest

ScopeFilterFor = Callable[[Scope], ScopeFilter | None]
"""A grant's scope → the store filter its memory searches run under (``None``: no memory)."""
ModelFor = Callable[[Scope], ModelChoice]
"""A grant's scope → the model that may answer within it (an adapter only when the scope
covers all it learned, else the base)."""


async def answer_ask(
    incoming: IncomingRequest,
    permit: Permit | None,
    *,
    chat: ChatService,
    scope_filter: ScopeFilterFor,
    model_for: ModelFor,
) -> Reply:
    """Answer as the owner, streamed: each piece as the model writes it, then the whole."""
    message = incoming.message
    assert isinstance(message, Ask) and permit is not None
    model = model_for(permit.scope)
    parts = _answer(
        message.question,
        permit,
        asker=str(incoming.peer),
        chat=chat,
        scope_filter=scope_filter,
        model=model,
    )
    return Reply(parts=parts, model=model.name)


async def _answer(
    question: str,
    permit: Permit,
    *,
    asker: str,
    chat: ChatService,
    scope_filter: ScopeFilterFor,
    model: ModelChoice,
) -> AsyncIterator[AnswerPart | Answer | Shared]:
    """What was shared, the answer's pieces, then the whole answer."""
    pieces: list[str] = []
    sources = 0
    async for event in chat.answer_peer(
        question,
        scope=scope_filter(permit.scope),
        profile=permit.scope.profile,
        asker=asker,
        model=model,
    ):
        if isinstance(event, Sources):
            shared = Shared(tuple(memory_ref(hit) for hit in event.hits))
            sources = len(shared.refs)
            yield shared
        elif isinstance(event, Piece) and event.text:
            pieces.append(event.text)
            yield AnswerPart(text=fit(event.text, MAX_ANSWER_PART))
        elif isinstance(event, Finished):
            break
    text = fit("".join(pieces).strip(), MAX_ANSWER)
    yield Answer(text=text, grant_id=permit.grant.grant_id, sources=sources)
