"""A context bundle a peer sends is checked before it is kept: another recipient's, a forged or
altered one, or one of another kind is refused with its own code and written to the audit."""

from __future__ import annotations

import numpy as np
import pytest

from secondme.node.access.bundles import CONTEXT_CONTENT_TYPE
from secondme.node.access.gate import AccessGate
from secondme.node.access.service import AccessService
from secondme.node.access.store import AccessStore
from secondme.node.core.db import Database
from secondme.node.core.errors import PeerRefused
from secondme.node.people.peers import PeerStore
from secondme.protocol.access import ContextBundle
from secondme.protocol.clock import ManualClock
from secondme.protocol.identity import Identity
from secondme.protocol.sealed import seal
from secondme.protocol.wire import pack_canonical, unpack_strict

ME = Identity.from_seed(bytes([1]) * 32)
PEER = Identity.from_seed(bytes([2]) * 32)
OTHER = Identity.from_seed(bytes([3]) * 32)
GRANT_ID = "ab" * 32
ITEMS = [{"ref": "l0:chunk:1", "layer": "l0", "title": "Lisbon", "text": "tram 28"}]


class FakeP2P:
    """Answers every request with one prepared context bundle (the transport is not under
    test here; real daemons exchange bundles in tests/e2e/test_access.py)."""

    def __init__(self) -> None:
        self.bundle = b""

    async def request(self, peer, message, *, grant=None, timeout=0):
        return ContextBundle(bundle=self.bundle, grant_id=GRANT_ID, items=len(ITEMS))


class FakeMemory:
    class embedder:
        dimension = 4

    def embed(self, texts):
        return np.ones((len(texts), 4), dtype=np.float32)


@pytest.fixture
def node(tmp_path):
    db = Database(tmp_path / "node.db")
    peers = PeerStore(db)
    peers.add(str(PEER.peer_id), [], "peer")
    store = AccessStore(db)
    p2p = FakeP2P()
    service = AccessService(
        identity=ME,
        store=store,
        gate=AccessGate(ME, store, ManualClock(1_700_000_000_000)),
        p2p=p2p,  # type: ignore[arg-type]
        peers=peers,
        memory=FakeMemory(),  # type: ignore[arg-type]
    )
    yield service, p2p, store
    db.close()


def sealed(sender=PEER, recipient=ME, content_type=CONTEXT_CONTENT_TYPE, items=ITEMS) -> bytes:
    plaintext = pack_canonical({"query": "lisbon", "grant_id": GRANT_ID, "items": items})
    return seal(
        sender, recipient.peer_id, plaintext, content_type=content_type, created_ms=1_700_000_000
    )


def with_bad_signature() -> bytes:
    fields = unpack_strict(sealed())
    signature = bytearray(fields["s"])
    signature[0] ^= 0x01
    return pack_canonical({**fields, "s": bytes(signature)})


CASES = [
    pytest.param(sealed(recipient=OTHER), "wrong_recipient", id="for-another-recipient"),
    pytest.param(sealed(sender=OTHER), "unexpected_sender", id="sealed-by-another-node"),
    pytest.param(with_bad_signature(), "bad_bundle_signature", id="bad-signature"),
    pytest.param(b"\x80not a bundle", "malformed_bundle", id="not-a-bundle"),
    pytest.param(
        sealed(content_type="secondme/other-1"), "unexpected_content_type", id="another-kind"
    ),
    pytest.param(sealed(items=[{"ref": 1}]), "malformed_bundle", id="items-malformed"),
]


@pytest.mark.parametrize(("bundle", "code"), CASES)
async def test_bad_bundles_are_refused_audited_and_not_kept(node, bundle, code):
    service, p2p, store = node
    p2p.bundle = bundle
    with pytest.raises(PeerRefused, match=code):
        await service.fetch_context("peer", "lisbon")
    assert store.contexts() == []
    (entry,) = store.audit_log()
    assert (entry["decision"], entry["code"], entry["peer_id"]) == (
        "refused",
        code,
        str(PEER.peer_id),
    )
    assert entry["request"] == "context.bundle" and entry["message"]


async def test_a_good_bundle_is_kept_sealed_and_opened(node):
    service, p2p, store = node
    p2p.bundle = sealed()
    kept = await service.fetch_context("peer", "lisbon")
    assert kept["items"] == ITEMS
    (bundle,) = store.contexts(sealed=True)
    assert bundle["bundle"] == p2p.bundle and bundle["items"] == ITEMS
    assert store.audit_log() == []
