"""The peer's side of access: what this node answers when another node offers or ends a grant,
asks for context or reads the profile, as plain handlers; and :func:`serve_peers`, which
registers them (with the chat room's answer to ``ask``) on the SMP endpoint.

Every request reaches a handler here only after the access gate authorised it, with the permit
the gate issued; each handler takes the request, the permit and the few collaborators it needs
(bound at registration), answers with only what the permit's scope covers, and names in its
:class:`~secondme.node.p2p.handlers.Reply` what it shared, by reference, for the audit log.
"""

from __future__ import annotations

import asyncio
import functools
import time

from secondme.node.access.bundles import context_items, seal_context
from secondme.node.access.gate import AccessGate
from secondme.node.access.store import AccessStore
from secondme.node.chat.peer import ModelFor, answer_ask
from secondme.node.chat.service import ChatService
from secondme.node.core.config import AccessSettings
from secondme.node.memory.l1.profile import PeerProfile, peer_profile
from secondme.node.memory.scope import memory_filter
from secondme.node.memory.service import Memory
from secondme.node.memory.vectors import ScopeFilter
from secondme.node.p2p.handlers import Reply, fit, public_profile
from secondme.node.p2p.service import P2PService
from secondme.node.people.owner import OwnerStore
from secondme.protocol.access import (
    MAX_BIOGRAPHY,
    MAX_CONTEXT_ITEMS,
    Ask,
    ContextBundle,
    ContextRequest,
    GrantAccepted,
    GrantOffer,
    GrantRevoke,
    GrantRevoked,
    Profile,
    ProfileRead,
)
from secondme.protocol.errors import UnexpectedMessage
from secondme.protocol.grants import (
    GrantExpired,
    GrantForged,
    GrantWidened,
    OutOfScope,
    Permit,
    Scope,
    WrongAudience,
    read_grant,
    short_id,
)
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import MAX_DISPLAY_NAME
from secondme.protocol.session import IncomingRequest


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def serve_peers(
    p2p: P2PService,
    *,
    identity: Identity,
    store: AccessStore,
    gate: AccessGate,
    memory: Memory,
    chat: ChatService,
    owner: OwnerStore,
    settings: AccessSettings,
    model_for: ModelFor,
) -> None:
    """Register the access requests this node serves, each bound to what it needs."""
    bind = functools.partial
    p2p.register(GrantOffer, bind(accept_grant, identity=identity, store=store))
    p2p.register(GrantRevoke, bind(end_grant, gate=gate, store=store))
    scope_filter = bind(_memory_filter, memory=memory)
    p2p.register(Ask, bind(answer_ask, chat=chat, scope_filter=scope_filter, model_for=model_for))
    p2p.register(
        ContextRequest,
        bind(send_context, identity=identity, memory=memory, items=settings.context_items),
    )
    p2p.register(ProfileRead, bind(send_profile, owner=owner, memory=memory))


def _memory_filter(scope: Scope, *, memory: Memory) -> ScopeFilter | None:
    return memory_filter(scope, memory.l1)


# -- grants ------------------------------------------------------------------------------------


async def accept_grant(
    incoming: IncomingRequest, permit: Permit | None, *, identity: Identity, store: AccessStore
) -> Reply:
    """Keep a grant offered to this node, once it is shown to be the issuer's (or the
    previous holder's) for this node, unexpired and no wider than its chain."""
    offer = incoming.message
    assert isinstance(offer, GrantOffer)
    try:
        issuer = PeerId.from_base58(offer.issuer)
    except ValueError:
        raise GrantForged("the offer names an issuer that is not a peer id") from None
    info = read_grant(offer.token, issuer)
    if info.widened_at is not None:
        raise GrantWidened(f"block {info.widened_at} of the offered grant adds rights")
    if info.expires_ms < _now_ms():
        raise GrantExpired(f"the offered grant {short_id(info.grant_id)} has expired")
    if info.holder != identity.peer_id:
        raise WrongAudience(f"grant {short_id(info.grant_id)} is for {info.holder}")
    giver = info.holders[-2] if len(info.holders) > 1 else info.issuer
    if len(info.holders) == 1 and incoming.peer != info.issuer:
        raise WrongAudience("only the issuer hands over a grant it did not delegate")
    if len(info.holders) > 1 and incoming.peer != info.holders[-2]:
        raise WrongAudience("only the previous holder hands over a delegated grant")
    scope = offer.scope if offer.scope is not None else info.scope
    if not scope.within(info.scope):
        raise OutOfScope("the offer's scope is wider than the grant it carries")
    store.add_received(
        info,
        offer.token,
        from_peer=str(giver),
        scope=scope,
        abilities=info.abilities,
        expires_ms=info.expires_ms,
        received_ms=_now_ms(),
    )
    return Reply(
        GrantAccepted(grant_id=info.grant_id), note=f"grant {short_id(info.grant_id)} received"
    )


async def end_grant(
    incoming: IncomingRequest, permit: Permit | None, *, gate: AccessGate, store: AccessStore
) -> Reply:
    """From a holder, with the token: end a block of a grant this node issued. From an
    issuer or delegator, without it: a grant this node holds has ended. Idempotent."""
    message = incoming.message
    assert isinstance(message, GrantRevoke)
    if message.token is not None:
        info = gate.verifier.parse(message.token)  # GrantForged if not ours
        if info.grant_id != message.grant_id:
            raise UnexpectedMessage(
                f"the token is grant {short_id(info.grant_id)}, not {message.grant_id[:16]}"
            )
        if not info.may_revoke(incoming.peer, message.revocation_id):
            raise WrongAudience(
                f"{incoming.peer} may not end that part of grant {short_id(info.grant_id)}"
            )
        gate.revoke(message.revocation_id, info.grant_id, by_peer=str(incoming.peer))
        return Reply(GrantRevoked(grant_id=info.grant_id), note="revoked by a holder")
    matched = False
    for grant in store.received():
        if grant.root_id != message.grant_id or str(incoming.peer) not in (
            grant.issuer,
            grant.peer_id,
        ):
            continue
        chain = read_grant(grant.token, PeerId.from_base58(grant.issuer))
        if message.revocation_id in chain.revocation_ids:
            matched = True
            store.mark_received_revoked(grant.root_id, _now_ms(), grant.id)
    if not matched:
        raise WrongAudience("this node holds no such grant from that peer")
    return Reply(GrantRevoked(grant_id=message.grant_id), note="a held grant ended")


# -- answering within the permit ---------------------------------------------------------------


async def send_context(
    incoming: IncomingRequest,
    permit: Permit | None,
    *,
    identity: Identity,
    memory: Memory,
    items: int,
) -> Reply:
    """The memories nearest the query within the permit's scope (at most ``items``, or fewer
    if asked), as a bundle sealed to the asker."""
    message = incoming.message
    assert isinstance(message, ContextRequest) and permit is not None
    k = min(message.k or items, MAX_CONTEXT_ITEMS)
    scope = memory_filter(permit.scope, memory.l1)
    hits = (
        await memory.search(message.query, k=k, layers=scope.layers, scope=scope)
        if scope is not None
        else []
    )
    found = context_items(hits)
    bundle = seal_context(
        identity,
        incoming.peer,
        query=message.query,
        grant_id=permit.grant.grant_id,
        items=found,
        created_ms=_now_ms(),
    )
    response = ContextBundle(bundle=bundle, grant_id=permit.grant.grant_id, items=len(found))
    return Reply(response, shared=[item["ref"] for item in found])


async def send_profile(
    incoming: IncomingRequest,
    permit: Permit | None,
    *,
    owner: OwnerStore,
    memory: Memory,
) -> Reply:
    """Public fields to anyone allowed; with a scope that allows the profile, a biography
    made for that scope (public description, topics and sentences within it), never the
    owner's own profile."""
    public = public_profile(owner)
    shared = [f"profile:public:{k}" for k in sorted(public)]
    biography = None
    if permit is not None and permit.scope.profile:
        made = await asyncio.to_thread(_profile_for, permit.scope, owner, memory)
        if made.text:
            biography = fit(made.text, MAX_BIOGRAPHY)
            shared += made.refs
    response = Profile(
        display_name=fit(public.get("name", ""), MAX_DISPLAY_NAME),
        fields=public,
        biography=biography,
    )
    return Reply(response, shared=shared)


def _profile_for(scope: Scope, owner: OwnerStore, memory: Memory) -> PeerProfile:
    """The profile made for ``scope`` (in a worker thread: it reads SQLite)."""
    where = memory_filter(scope, memory.l1)
    return peer_profile(memory.l1, memory.documents, owner.get(), where)
