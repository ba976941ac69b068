"""Capability grants: Biscuit tokens rooted in the granting node's Ed25519 key.

A grant says "peer B may use ability X on this node, within scope S, until T, at most N times,
at most R per window". It is a Biscuit token (``biscuit-python``) whose root key is the
issuer's node identity, so only that node can mint one and any holder can check it offline.

Theory of operation
-------------------
**Issuing** (:func:`issue_grant`, in :mod:`.issue`). The **authority block** (signed by the
issuer's key) holds facts only:

    grant(1); issuer("<peer id>"); audience("<peer id>"); ability("chat/ask");
    scope_tag("travel"); scope_topic("cooking"); scope_layer("l0"); scope_profile(true);
    profile_only(true); delegable(true); expires(<time>); max_uses(100);
    rate(10, 60000); issued(<time>);

and one check, ``check if time($t), $t <= <expiry>``, so that a Biscuit-aware tool outside
this codebase sees the expiry too. The issuer offers the token to its audience
(``grant.offer``); the grant is live from the moment it is issued, whether or not the offer
arrived.

**Narrowing** (:mod:`.issue`). Later blocks may only *narrow*:

- a first-party **attenuation** block (:func:`attenuate`; anyone holding the token may add
  one) holds checks only; a block with facts or rules is refused (``grant_widened``);
- a third-party **delegation** block (:func:`delegate`), signed by the current holder's Ed25519
  key, holds one ``delegate("<peer id>")`` fact and checks; it moves the grant to that peer. It
  is allowed only when the authority says ``delegable(true)``, and only when signed by the
  current holder, so a stolen token is useless: the thief cannot sign as the holder, and the
  verifier compares the final holder with the peer of the Noise session.

Checks in narrowing blocks read the request facts the verifier supplies: ``time($t)``,
``peer($p)``, ``ability_requested($a)``, ``request_tag($t)``, ``request_topic($t)``,
``request_layer($l)``, ``request_profile(true)``, ``tags_restricted(true)``,
``topics_restricted(true)``, ``memory_unused(true)``. :func:`narrowing_checks` writes such
checks.

**Reading** (:func:`read_grant`, in :mod:`.read`) checks the signature chain against the
issuer's key and turns the facts into a :class:`GrantInfo`: its holder chain, its scope
(:class:`Scope`, in :mod:`.scope`), its limits, and the first narrowing block that tries to add
rights. Reading decides nothing about a request.

**Verifying** (:class:`GrantVerifier`, in :mod:`.verify`) runs in a fixed order, each failure
with its own code (:mod:`.errors`): bytes → signature chain against this node's key (parsed
tokens are cached, so a grant used again costs no signature checks) → revocation list →
narrowing blocks are checks only → holder chain ends at the requesting peer → ability known,
then granted → expiry → uses → rate → requested scope within the authority's → the narrowing
checks (Datalog). Uses and rate are state the node keeps; they are counted per *root* grant, so
a delegated copy shares its parent's budget.

**Revoking.** Every block has a revocation id (its signature); the authority block's is the
grant id. A block ends when its id is on the *issuer's* revocation list, and with it every copy
made from it: the issuer ends a grant, a delegator ends what it handed on, a holder declines its
own copy (:meth:`GrantInfo.may_revoke` says who may end which block). A grant's life cycle
(active, then used up, expired or revoked) is the table in :mod:`.lifecycle`.

Sans-IO: nothing here reads a clock or a file; times and counters are arguments. The Biscuit
plumbing the modules share (keys, dates, bounded Datalog) is :mod:`.biscuits`.
"""

from secondme.protocol.grants.biscuits import GRANT_FORMAT, MAX_GRANT_BYTES
from secondme.protocol.grants.errors import (
    GRANT_ERRORS,
    AbilityNotGranted,
    AuthorizerBusy,
    GrantError,
    GrantExpired,
    GrantForged,
    GrantMalformed,
    GrantRateLimited,
    GrantUsedUp,
    GrantWidened,
    NoGrant,
    OutOfScope,
    RevokedGrant,
    UnknownAbility,
    WrongAudience,
)
from secondme.protocol.grants.issue import attenuate, delegate, issue_grant, narrowing_checks
from secondme.protocol.grants.lifecycle import (
    GRANT_LIFECYCLE,
    GrantEvent,
    GrantState,
    grant_state,
)
from secondme.protocol.grants.read import MAX_DELEGATION_DEPTH, read_grant
from secondme.protocol.grants.scope import MAX_SCOPE_ITEMS, MEMORY_LAYERS, Scope
from secondme.protocol.grants.terms import ABILITIES, GrantInfo, GrantTerms, Rate, short_id
from secondme.protocol.grants.verify import GrantVerifier, Permit

__all__ = [
    "ABILITIES",
    "GRANT_ERRORS",
    "GRANT_FORMAT",
    "GRANT_LIFECYCLE",
    "MAX_DELEGATION_DEPTH",
    "MAX_GRANT_BYTES",
    "MAX_SCOPE_ITEMS",
    "MEMORY_LAYERS",
    "AbilityNotGranted",
    "AuthorizerBusy",
    "GrantError",
    "GrantEvent",
    "GrantExpired",
    "GrantForged",
    "GrantInfo",
    "GrantMalformed",
    "GrantRateLimited",
    "GrantState",
    "GrantTerms",
    "GrantUsedUp",
    "GrantVerifier",
    "GrantWidened",
    "NoGrant",
    "OutOfScope",
    "Permit",
    "Rate",
    "RevokedGrant",
    "Scope",
    "UnknownAbility",
    "WrongAudience",
    "attenuate",
    "delegate",
    "grant_state",
    "issue_grant",
    "narrowing_checks",
    "read_grant",
    "short_id",
]
