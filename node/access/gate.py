"""The single authorisation path: every SMP request a peer sends passes here first.

The gate knows which ability each request type needs (``ABILITY_OF``), asks the
:class:`~secondme.protocol.grants.GrantVerifier` whether the request's grant allows it, counts
the use, and writes the decision to the audit log, refused or allowed, with what was shared.
Handlers run only with the :class:`Permit` it returns, so a handler cannot forget a check.
It is the :class:`~secondme.node.p2p.authoriser.Authoriser` the node's SMP endpoint is given.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Collection, Sequence

from secondme.node.access.store import AUDIT_ALLOWED, AUDIT_REFUSED, AccessStore, StoredGrant
from secondme.protocol.access import ABILITY_OF
from secondme.protocol.clock import Clock
from secondme.protocol.errors import SmpError
from secondme.protocol.grants import GrantError, GrantVerifier, NoGrant, Permit
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.session import IncomingRequest

log = logging.getLogger(__name__)

POLICY_REFUSE = "refuse"
POLICY_PUBLIC_PROFILE = "public-profile"
_PUBLIC_ABILITY = "profile/read"


class AccessGate:
    def __init__(
        self,
        identity: Identity,
        store: AccessStore,
        clock: Clock,
        *,
        default_policy: str = POLICY_REFUSE,
    ) -> None:
        self._store = store
        self._clock = clock
        self.default_policy = default_policy
        self._revoked = store.revoked_ids()
        self.verifier = GrantVerifier(identity, self._is_revoked)
        self._recent: dict[str, deque[int]] = {}
        self._uses: dict[str, int] = {}
        """Uses per root grant, read once from SQLite and then kept in step with it."""
        self.on_revoke: list[Callable[[str, str], None]] = []
        """Called with (revocation id, root grant id) after each revocation: what was joined
        under a grant (a group) ends with it."""

    def _is_revoked(self, revocation_ids: Collection[str]) -> bool:
        return any(rid in self._revoked for rid in revocation_ids)

    def revoke(self, revocation_id: str, root_id: str, *, by_peer: str) -> None:
        """End every grant that holds this block, from the next request on."""
        self._store.revoke(revocation_id, root_id, at_ms=self._clock.now_ms(), by_peer=by_peer)
        self._revoked.add(revocation_id)
        for observer in self.on_revoke:
            observer(revocation_id, root_id)

    def authorize(self, incoming: IncomingRequest) -> Permit | None:
        """The permit for ``incoming``, ``None`` when its type needs no grant (or the default
        policy lets anyone read the public profile); raises :class:`GrantError` (the caller
        answers and audits it with :meth:`refused`)."""
        message = incoming.message
        ability = ABILITY_OF.get(type(message))
        if ability is None:
            return None
        return self.authorize_ability(incoming, ability)

    def authorize_ability(self, incoming: IncomingRequest, ability: str) -> Permit | None:
        """As :meth:`authorize`, for ``ability`` (a request whose grant is optional, such as a
        group invitation, asks for the ability its grant would give)."""
        message = incoming.message
        if (
            incoming.grant is None
            and ability == _PUBLIC_ABILITY
            and self.default_policy == POLICY_PUBLIC_PROFILE
        ):
            return None
        if incoming.grant is None:
            raise NoGrant(
                f"{ability} on this node needs a grant, and its policy for peers without"
                f" one is {self.default_policy!r}"
            )
        now_ms = self._clock.now_ms()
        info = self.verifier.parse(incoming.grant)
        recent = self._recent.setdefault(info.grant_id, deque())
        permit = self.verifier.authorize(
            incoming.grant,
            peer=incoming.peer,
            ability=ability,
            now_ms=now_ms,
            uses=self._uses_of(info.grant_id),
            recent_ms=recent,
            requested=getattr(message, "scope", None),
        )
        self._store.count_use(permit.grant.grant_id, now_ms)
        self._uses[permit.grant.grant_id] = permit.use
        if permit.grant.rate is not None:
            recent.append(now_ms)
            while recent and recent[0] <= now_ms - permit.grant.rate.window_ms:
                recent.popleft()
        return permit

    def issued(self, grant_id: str) -> StoredGrant | None:
        """This node's record of a grant it issued (its state: revoked, expired, used up), by
        its id; ``None`` when it keeps none. For a request that cannot carry the grant, such as
        a group's new moderator serving a member that joined by a grant to the old one."""
        return next((g for g in self._store.given() if g.id == grant_id), None)

    def _uses_of(self, grant_id: str) -> int:
        uses = self._uses.get(grant_id)
        if uses is None:
            uses = self._uses[grant_id] = self._store.uses(grant_id)
        return uses

    def refused(
        self,
        peer: PeerId,
        incoming: IncomingRequest | None,
        error: SmpError,
    ) -> None:
        """Audit a refused request: ``incoming`` when it was read, else what ``error`` knows."""
        grant_id = None
        if isinstance(error, GrantError) and incoming is not None and incoming.grant:
            try:
                grant_id = self.verifier.parse(incoming.grant).grant_id
            except GrantError:
                grant_id = None
        request_type = getattr(error, "message_type", None) or "?"
        ability = None
        if incoming is not None:
            request_type = incoming.message.TYPE
            ability = ABILITY_OF.get(type(incoming.message))
        self._store.audit(
            at_ms=self._clock.now_ms(),
            peer_id=str(peer),
            request_type=request_type,
            request_id=incoming.request_id if incoming else getattr(error, "request_id", None),
            ability=ability,
            grant_id=grant_id,
            decision=AUDIT_REFUSED,
            code=error.code,
            message=error.message,
        )
        log.info("refused %s from %s: %s (%s)", request_type, peer, error, error.code)

    def allowed(
        self,
        incoming: IncomingRequest,
        permit: Permit | None,
        shared: Sequence[str] = (),
        *,
        message: str = "",
        model: str | None = None,
    ) -> None:
        """Audit an answered request: what it shared and, where a model wrote the answer, which
        one (``base`` or an adapter id)."""
        self._store.audit(
            at_ms=self._clock.now_ms(),
            peer_id=str(incoming.peer),
            request_type=incoming.message.TYPE,
            request_id=incoming.request_id,
            ability=permit.ability if permit else ABILITY_OF.get(type(incoming.message)),
            grant_id=permit.grant.grant_id if permit else None,
            decision=AUDIT_ALLOWED,
            message=message,
            shared=shared,
            model=model,
        )
