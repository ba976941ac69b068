"""Scoped access between nodes, the owner's side of it.

The owner's node grants a peer abilities within a scope (the token goes to the peer at once),
hands a received grant on (delegation), revokes, asks a peer, fetches a context bundle from it,
reads its profile, and searches what peers shared for its own chat. The peer's side (accepting
grants and revocations, answering ``ask``, ``context`` and ``profile.read``) is a set of plain
handlers in :mod:`.peer_side`, run after the :class:`AccessGate` authorised each request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from secondme.node.access.bundles import open_context
from secondme.node.access.gate import AccessGate
from secondme.node.access.store import AUDIT_REFUSED, AccessStore, StoredGrant
from secondme.node.core.errors import InvalidRequest, NotFound, PeerRefused
from secondme.node.memory.retrieval import PeerHit
from secondme.node.memory.scope import bind_topics, held_topics, split_label
from secondme.node.memory.service import Memory
from secondme.node.models.llm import BASE, ModelChoice
from secondme.node.p2p.service import P2PService
from secondme.node.people.peers import PeerRecord, PeerStore
from secondme.protocol.access import (
    Answer,
    AnswerPart,
    Ask,
    ContextBundle,
    ContextRequest,
    GrantOffer,
    GrantRevoke,
    Profile,
    ProfileRead,
)
from secondme.protocol.errors import SmpError
from secondme.protocol.grants import (
    GrantTerms,
    Rate,
    Scope,
    delegate,
    issue_grant,
    narrowing_checks,
    read_grant,
    short_id,
)
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.sealed import BundleError

log = logging.getLogger(__name__)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


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
    """The owner's grants, requests to peers under them, and the audit log."""

    def __init__(
        self,
        *,
        identity: Identity,
        store: AccessStore,
        gate: AccessGate,
        p2p: P2PService,
        peers: PeerStore,
        memory: Memory,
    ) -> None:
        self._identity = identity
        self.store = store
        self.gate = gate
        self._p2p = p2p
        self._peers = peers
        self._memory = memory
        self.model_for: Callable[[Scope], ModelChoice] = lambda scope: BASE
        """Set by the daemon: the model that may answer within a scope (an L2 adapter only
        when the scope covers all it learned, else the base)."""

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
            items, created_ms = open_context(self._identity, response.bundle, sender=sender)
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
            created_ms=created_ms,
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
