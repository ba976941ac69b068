"""A peer that restarted on another port is reached at its new address, even while its old,
dead address is still known (py-libp2p alone dials only one address per transport)."""

from __future__ import annotations

import os

from secondme.protocol.transport import SmpHost
from tests.integration.transport.conftest import HostFactory


async def test_peer_restarted_on_a_new_port_is_reached(make_host: HostFactory) -> None:
    asker = await make_host()
    seed = os.urandom(32)
    first = await make_host(seed=seed)
    asker.add_address(first.peer_id, first.addrs[:1])
    assert await asker.request(first.peer_id, b"before") == b"before"
    await first.close()

    moved: SmpHost = await make_host(seed=seed)
    assert moved.addrs[0] != first.addrs[0]
    asker.add_address(moved.peer_id, moved.addrs[:1])
    assert await asker.request(moved.peer_id, b"after", timeout=10) == b"after"
