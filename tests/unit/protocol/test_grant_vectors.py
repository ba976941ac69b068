"""Every vector in smp-spec/vectors/grants.json holds: alice's node allows what it says is allowed,
in the scope and for the holder it names, and refuses the rest with the code it names.

The file is generated once and checked in (Biscuit tokens hold random keys, so a fresh run gives
other bytes); these tests check that the checked-in vectors hold, not that they equal a new run.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import biscuit_auth as biscuit
import pytest

from secondme.protocol.access import scope_from_wire, scope_to_wire
from secondme.protocol.grants import (
    ABILITIES,
    GRANT_ERRORS,
    MAX_DELEGATION_DEPTH,
    MAX_GRANT_BYTES,
    MAX_SCOPE_ITEMS,
    GrantError,
    GrantRateLimited,
    GrantVerifier,
    Permit,
)
from secondme.protocol.identity import Identity, PeerId

VECTORS = Path(__file__).resolve().parents[3] / "smp-spec" / "vectors"
FILE = json.loads((VECTORS / "grants.json").read_text(encoding="utf-8"))


def authorize(vector: dict[str, Any]) -> Permit:
    """Run one vector through a fresh verifier of its issuer; return the permit or raise."""
    issuer = Identity.from_seed(bytes.fromhex(vector["issuer"]["seed"]))
    revoked = frozenset(vector["revoked"])
    verifier = GrantVerifier(issuer, lambda ids: not revoked.isdisjoint(ids))
    token = vector["token"]
    requested = vector.get("requested_scope")
    return verifier.authorize(
        None if token is None else bytes.fromhex(token),
        peer=PeerId.from_base58(vector["peer"]),
        ability=vector["ability"],
        now_ms=vector["now_ms"],
        uses=vector["uses"],
        recent_ms=vector["recent_ms"],
        requested=None if requested is None else scope_from_wire(requested),
    )


@pytest.mark.parametrize("vector", FILE["vectors"], ids=lambda vector: vector["name"])
def test_vector_holds(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    if "error" in expected:
        with pytest.raises(GrantError) as caught:
            authorize(vector)
        assert caught.value.code == expected["error"]
        if isinstance(caught.value, GrantRateLimited):
            assert caught.value.retry_after_ms == expected["retry_after_ms"]
        else:
            assert "retry_after_ms" not in expected
        return
    permit = authorize(vector)
    assert expected["allowed"] is True
    assert permit.grant.grant_id == expected["grant_id"]
    assert str(permit.grant.holder) == expected["holder"] == vector["peer"]
    assert scope_to_wire(permit.scope) == expected["scope"]
    assert permit.use == expected["use"] == vector["uses"] + 1


@pytest.mark.parametrize(
    "vector",
    [vector for vector in FILE["vectors"] if "revocation_ids" in vector],
    ids=lambda vector: vector["name"],
)
def test_revocation_ids_are_the_tokens_and_the_grant_id_is_the_first(
    vector: dict[str, Any],
) -> None:
    token = bytes.fromhex(vector["token"])
    decoded = biscuit.UnverifiedBiscuit.from_base64(base64.urlsafe_b64encode(token).decode())
    ids = vector["revocation_ids"]
    assert list(decoded.revocation_ids) == ids
    assert len(ids) == len(vector["datalog"])
    assert all(len(rid) == 128 and rid == rid.lower() for rid in ids)
    assert bool(set(vector["revoked"]) & set(ids)) is (
        vector["expected"].get("error") == "grant_revoked"
    )
    if vector["expected"].get("allowed"):
        assert vector["expected"]["grant_id"] == ids[0]


def test_file_names_every_code_and_both_outcomes() -> None:
    vectors = FILE["vectors"]
    names = [vector["name"] for vector in vectors]
    assert len(names) == len(set(names))
    codes = {vector["expected"].get("error") for vector in vectors}
    assert {error.code for error in GRANT_ERRORS} <= codes
    assert None in codes, "no vector shows an allowed request"
    assert all(vector["description"] for vector in vectors)
    no_grant = [vector for vector in vectors if vector["token"] is None]
    assert [vector["expected"] for vector in no_grant] == [{"error": "no_grant"}]


def test_file_states_the_limits_of_the_code() -> None:
    assert FILE["limits"] == {
        "max_grant_bytes": MAX_GRANT_BYTES,
        "max_delegation_depth": MAX_DELEGATION_DEPTH,
        "max_scope_items": MAX_SCOPE_ITEMS,
        "abilities": list(ABILITIES),
    }
    for vector in FILE["vectors"]:
        assert vector["token"] is None or 0 < len(vector["token"]) // 2 <= MAX_GRANT_BYTES


def test_identities_are_the_smp_vector_peers() -> None:
    smp_peers = json.loads((VECTORS / "peer_ids.json").read_text(encoding="utf-8"))["vectors"]
    by_name = {vector["name"]: vector for vector in smp_peers}
    for name, identity in FILE["identities"].items():
        seed = bytes.fromhex(identity["seed"])
        assert identity["seed_label"] == f"smp test vector seed: {name}"
        assert seed == hashlib.sha256(identity["seed_label"].encode()).digest()
        assert identity["public_key"] == Identity.from_seed(seed).public_key.hex()
        assert identity["peer_id"] == str(Identity.from_seed(seed).peer_id)
        if name in by_name:
            assert (identity["seed"], identity["peer_id"]) == (
                by_name[name]["seed"],
                by_name[name]["peer_id"],
            )
    assert {"alice", "bob", "carol", "thief"} <= FILE["identities"].keys()
    alice = FILE["identities"]["alice"]
    for vector in FILE["vectors"]:
        assert vector["issuer"] == {"seed": alice["seed"], "peer_id": alice["peer_id"]}


def test_every_grant_code_is_in_both_error_tables() -> None:
    spec = VECTORS.parent
    for document in ("README.md", "access.md"):
        text = (spec / document).read_text(encoding="utf-8")
        for error in GRANT_ERRORS:
            assert f"| `{error.code}` |" in text, f"{error.code} is missing from {document}"
