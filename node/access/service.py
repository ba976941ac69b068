"""Scoped access between nodes, both sides of it.

As the **owner's** node: grant a peer abilities within a scope (the token goes to the peer at
once), hand a received grant on (delegation), revoke, ask a peer, fetch a context bundle from
it, read its profile. As the **peer's** node: accept grants and revocations, answer ``ask``,
``context`` and ``profile.read`` with only what the permit's scope covers. Every incoming
request was already authorised by the :class:`AccessGate`; the handlers here receive its
permit and report what they shared, by reference, for the audit log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from secondme.node.access.gate import AccessGate
from secondme.node.access.scope import bind_topics, held_topics, memory_filter, split_label
from secondme.node.access.store import AUDIT_REFUSED, AccessStore, StoredGrant
from secondme.node.chat.service import ChatService, Sources
from secondme.node.core.config import AccessSettings
from secondme.node.core.errors import InvalidRequest, NotFound, PeerRefused
from secondme.node.memory.l1.profile import PeerProfile, peer_profile
from secondme.node.memory.retrieval import L1Hit, PeerHit, SearchHit
from secondme.node.memory.service import Memory
from secondme.node.models.llm import BASE, Finished, ModelChoice, Piece
from secondme.node.p2p.handlers import Reply, fit, public_profile
from secondme.node.p2p.service import P2PService
from secondme.node.people.owner import OwnerStore
from secondme.node.people.peers import PeerRecord, PeerStore
from secondme.protocol.access import (
    MAX_ANSWER,
    MAX_ANSWER_PART,
    MAX_BIOGRAPHY,
    MAX_CONTEXT_ITEMS,
    Answer,
    AnswerPart,
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
from secondme.protocol.errors import SmpError, UnexpectedMessage
from secondme.protocol.grants import (
    GrantExpired,
    GrantForged,
    GrantTerms,
    GrantWidened,
    OutOfScope,
    Permit,
    Rate,
    Scope,
    WrongAudience,
    delegate,
    issue_grant,
    narrowing_checks,
    read_grant,
    short_id,
)
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import MAX_DISPLAY_NAME
from secondme.protocol.sealed import BundleError, open_sealed, seal
from secondme.protocol.session import IncomingRequest
from secondme.protocol.wire import pack_canonical, unpack_strict

log = logging.getLogger(__name__)

CONTEXT_CONTENT_TYPE = "secondme/context-1"
_SNIPPET_CHARS = 1200


class UnexpectedContentType(BundleError):
    """A bundle that opens fine but holds something other than the context asked for."""

    code = "unexpected_content_type"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def memory_ref(hit: SearchHit | L1Hit) -> str:
    """How the audit log names a memory that was shared: layer, kind and id, never text."""
    if isinstance(hit, SearchHit):
        return f"l0:chunk:{hit.chunk_id}"
    return f"l1:{hit.kind}:{hit.ref_id}"


@dataclass(frozen=True, slots=True)
class AskResult:
    answer: str
    grant_id: str | None
    sources: int
    peer_id: str
    elapsed_ms: float

    def to_json(self) -> dict:
        return {
            "answer": self.answer,
            "grant_id": short_id(self.grant_id) if self.grant_id else None,
            "sources": self.sources,
            "peer_id": self.peer_id,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


class AccessService:
    def __init__(
        self,
        *,
        identity: Identity,
        store: AccessStore,
        gate: AccessGate,
        p2p: P2PService,
        peers: PeerStore,
        memory: Memory,
        chat: ChatService,
        owner: OwnerStore,
        settings: AccessSettings,
    ) -> None:
        self._identity = identity
        self.store = store
        self.gate = gate
        self._p2p = p2p
        self._peers = peers
        self._memory = memory
        self._chat = chat
        self._owner = owner
        self._settings = settings
        self.model_for: Callable[[Scope], ModelChoice] = lambda scope: BASE
        """Set by the daemon: the model that may answer within a scope (an L2 adapter only
        when the scope covers all it learned, else the base)."""
        p2p.register(GrantOffer, self._on_grant_offer)
        p2p.register(GrantRevoke, self._on_grant_revoke)
        p2p.register(Ask, self._on_ask)
        p2p.register(ContextRequest, self._on_context)
        p2p.register(ProfileRead, self._on_profile)

    @property
    def me(self) -> str:
        return str(self._identity.peer_id)

    # -- the owner gives, hands on and ends grants ---------------------------------------------

    async def grant(
        self,
        peer_name: str,
        *,
        abilities: Sequence[str],
        scope: Scope,
        expires_in_s: float,
        max_uses: int | None = None,
        rate: str | None = None,
        delegable: bool = False,
    ) -> dict:
        """Issue a grant to a known peer, keep it, and send it to the peer (if reachable)."""
        peer = self._peers.resolve(peer_name)
        # Topics are bound to their ids, so that renaming one never moves the grant.
        scope = bind_topics(scope, self._memory.l1)
        now = _now_ms()
        try:
            terms = GrantTerms(
                audience=PeerId.from_base58(peer.peer_id),
                abilities=tuple(abilities),
                scope=scope,
                expires_ms=now + int(expires_in_s * 1000),
                max_uses=max_uses,
                rate=Rate.parse(rate) if rate else None,
                delegable=delegable,
            )
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        if expires_in_s <= 0:
            raise InvalidRequest("a grant must expire in the future")
        token = issue_grant(self._identity, terms, issued_ms=now)
        info = self.gate.verifier.parse(token)
        self.store.add_issued(
            info,
            token,
            grant_id=info.grant_id,
            holder=peer.peer_id,
            scope=scope,
            abilities=terms.abilities,
            expires_ms=terms.expires_ms,
            created_ms=now,
        )
        await self._deliver(
            info.grant_id, peer, GrantOffer(token=token, issuer=self.me, scope=scope)
        )
        return self._given_json(info.grant_id)

    async def delegate(
        self,
        grant_id: str,
        peer_name: str,
        *,
        abilities: Sequence[str] | None = None,
        scope: Scope | None = None,
        expires_in_s: float | None = None,
    ) -> dict:
        """Hand a received, delegable grant on to another peer, narrowed if asked."""
        held = self.store.find(grant_id)
        if held.direction != "received":
            raise InvalidRequest("only a grant this node received can be handed on")
        if held.revoked_ms is not None or held.expires_ms < _now_ms():
            raise InvalidRequest(f"grant {short_id(held.id)} is no longer usable")
        if not held.delegable:
            raise InvalidRequest(f"grant {short_id(held.id)} was not given as delegable")
        peer = self._peers.resolve(peer_name)
        abilities = tuple(abilities) if abilities else held.abilities
        if set(abilities) - set(held.abilities):
            raise InvalidRequest(f"the grant allows only {', '.join(held.abilities)}")
        narrowed = held_topics(scope, held.scope) if scope is not None else held.scope
        if not narrowed.within(held.scope):
            raise InvalidRequest(f"the grant covers only {held.scope.describe()}")
        now = _now_ms()
        expires_ms = held.expires_ms
        if expires_in_s is not None:
            expires_ms = min(expires_ms, now + int(expires_in_s * 1000))
        checks = narrowing_checks(abilities=abilities, expires_ms=expires_ms, scope=narrowed)
        issuer = PeerId.from_base58(held.issuer)
        token = delegate(
            held.token, issuer, self._identity, PeerId.from_base58(peer.peer_id), checks
        )
        info = read_grant(token, issuer)
        copy_id = info.revocation_ids[-1]
        self.store.add_issued(
            info,
            token,
            grant_id=copy_id,
            holder=peer.peer_id,
            scope=narrowed,
            abilities=abilities,
            expires_ms=expires_ms,
            created_ms=now,
            parent_id=held.id,
        )
        offer = GrantOffer(token=token, issuer=held.issuer, scope=narrowed)
        await self._deliver(copy_id, peer, offer)
        return self._given_json(copy_id)

    async def _deliver(self, grant_id: str, peer: PeerRecord, offer: GrantOffer) -> None:
        try:
            await self._p2p.request(peer, offer, timeout=15)
        except Exception as exc:
            log.warning("grant %s not delivered to %s: %s", short_id(grant_id), peer.peer_id, exc)
            self.store.set_delivery(grant_id, at_ms=None, error=str(exc))
        else:
            self.store.set_delivery(grant_id, at_ms=_now_ms(), error=None)

    def _given_json(self, grant_id: str) -> dict:
        return next(g for g in self.store.given() if g.id == grant_id).to_json(_now_ms())

    async def revoke(self, grant_id: str) -> dict:
        """End a grant at once: one this node gave (and every copy narrowed or handed on from
        it), one it handed on, or one it received (declined)."""
        grant = self.store.find(grant_id)
        now = _now_ms()
        notified: list[str] = []
        if grant.direction == "given" and grant.issuer == self.me:
            self.gate.revoke(grant.id, grant.root_id, by_peer=self.me)
            notified += await self._notify(
                grant.peer_id, GrantRevoke(grant_id=grant.root_id, revocation_id=grant.id)
            )
        else:
            if grant.direction == "received":
                self.store.mark_received_revoked(grant.root_id, now, copy_id=grant.id)
            else:
                self.store.revoke(grant.id, grant.root_id, at_ms=now, by_peer=self.me)
            # Only the issuer checks grants, so it is the one that must learn of this.
            message = GrantRevoke(grant_id=grant.root_id, revocation_id=grant.id, token=grant.token)
            notified += await self._notify(grant.issuer, message, required=True)
            if grant.direction == "given":
                notified += await self._notify(
                    grant.peer_id, GrantRevoke(grant_id=grant.root_id, revocation_id=grant.id)
                )
        return {"revoked": short_id(grant.id), "direction": grant.direction, "notified": notified}

    async def _notify(
        self, peer_id: str, message: GrantRevoke, *, required: bool = False
    ) -> list[str]:
        peer = self._peers.find(peer_id)
        try:
            if peer is None:
                raise PeerRefused(f"peer {peer_id} is not among the known peers")
            await self._p2p.request(peer, message, timeout=15)
        except Exception as exc:
            if required:
                raise PeerRefused(
                    f"revoked here, but the issuer {peer_id} could not be told ({exc}); "
                    "run `revoke` again when it is reachable"
                ) from exc
            log.info("could not tell %s of the revocation: %s", peer_id, exc)
            return []
        return [peer_id]

    def summary(self) -> dict:
        """For ``status``: active grants each way, the default policy, the audit's size."""
        now = _now_ms()
        return {
            "default_policy": self.gate.default_policy,
            "grants_given_active": sum(g.state(now) == "active" for g in self.store.given()),
            "grants_received_active": sum(g.state(now) == "active" for g in self.store.received()),
            "audit_entries": self.store.audit_count(),
        }

    def grants(self) -> dict:
        now = _now_ms()
        return {
            "given": [g.to_json(now) for g in self.store.given()],
            "received": [g.to_json(now) for g in self.store.received()],
        }

    # -- the owner asks peers ----------------------------------------------------------------

    def _grant_for(
        self, peer: PeerRecord, ability: str, grant_id: str | None
    ) -> StoredGrant | None:
        if grant_id:
            grant = self.store.find(grant_id)
            if grant.direction != "received" or grant.issuer != peer.peer_id:
                raise InvalidRequest(f"grant {short_id(grant.id)} is not one {peer.peer_id} gave")
            return grant
        return self.usable_grant(peer.peer_id, ability)

    def usable_grant(self, issuer: str, ability: str) -> StoredGrant | None:
        """A live grant ``issuer`` gave this node for ``ability``, if it holds one."""
        usable = self.store.usable_received(issuer, ability, _now_ms())
        return usable[0] if usable else None

    async def ask(self, peer_name: str, question: str, *, grant_id: str | None = None) -> AskResult:
        """Ask a peer's node; it answers as its owner within the grant it gave this node."""
        result = None
        async for event in self.ask_stream(peer_name, question, grant_id=grant_id):
            if isinstance(event, AskResult):
                result = event
        assert result is not None
        return result

    async def ask_stream(
        self, peer_name: str, question: str, *, grant_id: str | None = None
    ) -> AsyncIterator[str | AskResult]:
        """The peer's answer as it is written (text pieces), then the :class:`AskResult`."""
        peer = self._peers.resolve(peer_name)
        grant = self._grant_for(peer, "chat/ask", grant_id)
        started = time.perf_counter()
        try:
            request = Ask(question=question, scope=grant.scope if grant else None)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        stream = self._p2p.request_stream(peer, request, grant=grant.token if grant else None)
        async for message in stream:
            if isinstance(message, AnswerPart):
                yield message.text
            elif isinstance(message, Answer):
                yield AskResult(
                    answer=message.text,
                    grant_id=grant.id if grant else None,
                    sources=message.sources,
                    peer_id=peer.peer_id,
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                )

    async def fetch_context(
        self, peer_name: str, topic: str, *, k: int | None = None, grant_id: str | None = None
    ) -> dict:
        """Fetch what a peer shares on ``topic`` under its grant, check and keep it."""
        peer = self._peers.resolve(peer_name)
        grant = self._grant_for(peer, "memory/read", grant_id)
        scope = grant.scope if grant else None
        if scope is not None:
            # A topic the grant names (as its label does) narrows the request to that topic.
            wanted = topic.strip().lower()
            named = [t for t in scope.topics if wanted in (t, split_label(t)[0])]
            if len(named) == 1:
                scope = dataclasses.replace(scope, topics=tuple(named))
        try:
            request = ContextRequest(query=topic, k=k, scope=scope)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        response = await self._p2p.request(peer, request, grant=grant.token if grant else None)
        assert isinstance(response, ContextBundle)
        sender = PeerId.from_base58(peer.peer_id)
        try:
            opened = open_sealed(self._identity, response.bundle, expected_sender=sender)
            if opened.content_type != CONTEXT_CONTENT_TYPE:
                raise UnexpectedContentType(
                    f"a bundle of type {opened.content_type!r}, not {CONTEXT_CONTENT_TYPE!r}"
                )
            items = _read_items(unpack_strict(opened.plaintext))
        except (BundleError, SmpError, ValueError) as exc:
            code = exc.code if isinstance(exc, BundleError) else "malformed_bundle"
            self.store.audit(
                at_ms=_now_ms(),
                peer_id=peer.peer_id,
                request_type="context.bundle",
                decision=AUDIT_REFUSED,
                code=code,
                message=str(exc),
            )
            raise PeerRefused(
                f"{peer.peer_id} sent a context bundle this node refuses: {exc} ({code})"
            ) from exc
        vectors = (
            self._memory.embed([item["text"] for item in items])
            if items
            else np.zeros((0, self._memory.embedder.dimension), dtype=np.float32)
        )
        bundle_id = self.store.add_context(
            peer_id=peer.peer_id,
            grant_id=response.grant_id,
            query=topic,
            created_ms=opened.created_ms,
            received_ms=_now_ms(),
            bundle=response.bundle,
            items=items,
            vectors=vectors,
        )
        return {
            "id": bundle_id,
            "peer_id": peer.peer_id,
            "topic": topic,
            "grant_id": short_id(response.grant_id),
            "items": items,
        }

    async def read_profile(self, peer_name: str) -> dict:
        peer = self._peers.resolve(peer_name)
        grant = self._grant_for(peer, "profile/read", None)
        request = ProfileRead(scope=grant.scope if grant else None)
        response = await self._p2p.request(peer, request, grant=grant.token if grant else None)
        assert isinstance(response, Profile)
        return {
            "peer_id": peer.peer_id,
            "display_name": response.display_name,
            "fields": dict(response.fields),
            "biography": response.biography,
            "grant_id": short_id(grant.id) if grant else None,
        }

    # -- the peer's side: grants ---------------------------------------------------------------

    async def _on_grant_offer(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
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
        if info.holder != self._identity.peer_id:
            raise WrongAudience(f"grant {short_id(info.grant_id)} is for {info.holder}")
        giver = info.holders[-2] if len(info.holders) > 1 else info.issuer
        if len(info.holders) == 1 and incoming.peer != info.issuer:
            raise WrongAudience("only the issuer hands over a grant it did not delegate")
        if len(info.holders) > 1 and incoming.peer != info.holders[-2]:
            raise WrongAudience("only the previous holder hands over a delegated grant")
        scope = offer.scope if offer.scope is not None else info.scope
        if not scope.within(info.scope):
            raise OutOfScope("the offer's scope is wider than the grant it carries")
        self.store.add_received(
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

    async def _on_grant_revoke(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        """From a holder, with the token: end a block of a grant this node issued. From an
        issuer or delegator, without it: a grant this node holds has ended. Idempotent."""
        message = incoming.message
        assert isinstance(message, GrantRevoke)
        if message.token is not None:
            info = self.gate.verifier.parse(message.token)  # GrantForged if not ours
            if info.grant_id != message.grant_id:
                raise UnexpectedMessage(
                    f"the token is grant {short_id(info.grant_id)}, not {message.grant_id[:16]}"
                )
            if not info.may_revoke(incoming.peer, message.revocation_id):
                raise WrongAudience(
                    f"{incoming.peer} may not end that part of grant {short_id(info.grant_id)}"
                )
            self.gate.revoke(message.revocation_id, info.grant_id, by_peer=str(incoming.peer))
            return Reply(GrantRevoked(grant_id=info.grant_id), note="revoked by a holder")
        matched = False
        for grant in self.store.received():
            if grant.root_id != message.grant_id or str(incoming.peer) not in (
                grant.issuer,
                grant.peer_id,
            ):
                continue
            chain = read_grant(grant.token, PeerId.from_base58(grant.issuer))
            if message.revocation_id in chain.revocation_ids:
                matched = True
                self.store.mark_received_revoked(grant.root_id, _now_ms(), grant.id)
        if not matched:
            raise WrongAudience("this node holds no such grant from that peer")
        return Reply(GrantRevoked(grant_id=message.grant_id), note="a held grant ended")

    # -- the peer's side: answering within the permit -------------------------------------------

    def _scoped(self, permit: Permit | None):
        if permit is None:
            return None
        return memory_filter(permit.scope, self._memory.l1)

    async def _on_ask(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        """Answer as the owner, streamed: each piece as the model writes it, then the whole."""
        message = incoming.message
        assert isinstance(message, Ask) and permit is not None
        shared: list[str] = []
        model = self.model_for(permit.scope)

        async def answer() -> AsyncIterator[AnswerPart | Answer]:
            parts: list[str] = []
            async for event in self._chat.answer_peer(
                message.question,
                scope=self._scoped(permit),
                profile=permit.scope.profile,
                asker=str(incoming.peer),
                model=model,
            ):
                if isinstance(event, Sources):
                    shared[:] = [memory_ref(hit) for hit in event.hits]
                elif isinstance(event, Piece) and event.text:
                    parts.append(event.text)
                    yield AnswerPart(text=fit(event.text, MAX_ANSWER_PART))
                elif isinstance(event, Finished):
                    break
            text = fit("".join(parts).strip(), MAX_ANSWER)
            yield Answer(text=text, grant_id=permit.grant.grant_id, sources=len(shared))

        return Reply(shared=shared, parts=answer(), model=model.name)

    async def _on_context(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        message = incoming.message
        assert isinstance(message, ContextRequest) and permit is not None
        k = min(message.k or self._settings.context_items, MAX_CONTEXT_ITEMS)
        scope = self._scoped(permit)
        hits = (
            await self._memory.search(message.query, k=k, layers=scope.layers, scope=scope)
            if scope is not None
            else []
        )
        items = [
            {
                "ref": memory_ref(hit),
                "layer": hit.layer,
                "title": (hit.title if isinstance(hit, L1Hit) else hit.title or hit.name) or "",
                "text": hit.text[:_SNIPPET_CHARS],
            }
            for hit in hits
        ]
        plaintext = pack_canonical(
            {"query": message.query, "grant_id": permit.grant.grant_id, "items": items}
        )
        bundle = seal(
            self._identity,
            incoming.peer,
            plaintext,
            content_type=CONTEXT_CONTENT_TYPE,
            created_ms=_now_ms(),
        )
        response = ContextBundle(bundle=bundle, grant_id=permit.grant.grant_id, items=len(items))
        return Reply(response, shared=[item["ref"] for item in items])

    async def _on_profile(self, incoming: IncomingRequest, permit: Permit | None) -> Reply:
        """Public fields to anyone allowed; with a scope that allows the profile, a biography
        made for that scope (public description, topics and sentences within it), never the
        owner's own profile."""
        public = public_profile(self._owner)
        shared = [f"profile:public:{k}" for k in sorted(public)]
        biography = None
        if permit is not None and permit.scope.profile:
            made = await asyncio.to_thread(self._peer_profile, permit.scope)
            if made.text:
                biography = fit(made.text, MAX_BIOGRAPHY)
                shared += made.refs
        response = Profile(
            display_name=fit(public.get("name", ""), MAX_DISPLAY_NAME),
            fields=public,
            biography=biography,
        )
        return Reply(response, shared=shared)

    def _peer_profile(self, scope: Scope) -> PeerProfile:
        memory = self._memory
        where = memory_filter(scope, memory.l1)
        return peer_profile(memory.l1, memory.documents, self._owner.get(), where)

    # -- what peers shared, for the owner's chat ------------------------------------------------

    async def peer_notes(self, question: str, k: int = 2, min_score: float = 0.35) -> list[PeerHit]:
        """The kept context items nearest ``question``, each marked with the peer it came
        from (for the owner's chat)."""
        bundles = await asyncio.to_thread(self.store.contexts, vectors=True)
        bundles = [b for b in bundles if b["items"]]
        if not bundles:
            return []
        query = (await asyncio.to_thread(self._memory.embed, [question]))[0]
        scored: list[PeerHit] = []
        for bundle in bundles:
            vectors = np.frombuffer(bundle["vectors"], dtype=np.float32)
            vectors = vectors.reshape(len(bundle["items"]), -1)
            peer = self._peers.find(bundle["peer_id"])
            name = (peer.name or peer.display_name) if peer else None
            for item, score in zip(bundle["items"], vectors @ query, strict=True):
                if score >= min_score:
                    scored.append(
                        PeerHit(
                            peer_id=bundle["peer_id"],
                            peer_name=name or bundle["peer_id"],
                            bundle_id=bundle["id"],
                            ref=item["ref"],
                            title=item["title"] or bundle["query"],
                            text=item["text"],
                            score=round(float(score), 4),
                        )
                    )
        scored.sort(key=lambda hit: -hit.score)
        return scored[:k]

    def audit(
        self, *, peer: str | None = None, since_ms: int | None = None, limit: int = 200
    ) -> list[dict]:
        peer_id = None
        if peer:
            try:
                peer_id = self._peers.resolve(peer).peer_id
            except NotFound:
                peer_id = peer
        return self.store.audit_log(peer_id=peer_id, since_ms=since_ms, limit=limit)


def _read_items(value: object) -> list[dict]:
    if not isinstance(value, dict) or not isinstance(value.get("items"), list):
        raise ValueError("the bundle does not hold a list of items")
    if len(value["items"]) > MAX_CONTEXT_ITEMS:
        raise ValueError(f"the bundle holds more than {MAX_CONTEXT_ITEMS} items")
    items = []
    for item in value["items"]:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(key), str) for key in ("ref", "layer", "title", "text")
        ):
            raise ValueError("a bundle item lacks ref, layer, title or text")
        items.append({key: item[key] for key in ("ref", "layer", "title", "text")})
    return items
