"""Noise is the only way in: clients offering plaintext or secio are refused."""

from __future__ import annotations

import asyncio

import multiaddr
import pytest
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport
from libp2p.security.secio.transport import ID as SECIO_PROTOCOL_ID
from libp2p.security.secio.transport import Transport as SecioTransport


def _dial_with(security: str, target: str) -> str:
    """Dial ``target`` from a fresh py-libp2p host that offers only ``security``."""

    async def main() -> str:
        keys = create_new_key_pair()
        transports = {
            "plaintext": {PLAINTEXT_PROTOCOL_ID: InsecureTransport(keys)},
            "secio": {SECIO_PROTOCOL_ID: SecioTransport(keys)},
            "library defaults": None,  # these include Noise
        }
        host = new_host(key_pair=keys, sec_opt=transports[security])
        async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
            try:
                with trio.fail_after(10):
                    await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(target)))
            except Exception as exc:  # any refusal is what we want; its type is the library's
                return f"refused: {type(exc).__name__}"
            finally:
                await host.close()
        return "connected"

    return trio.run(main)


@pytest.mark.parametrize("security", ["plaintext", "secio"])
async def test_non_noise_clients_cannot_connect(make_host, security):
    host = await make_host()
    outcome = await asyncio.to_thread(_dial_with, security, host.addrs[0])
    assert outcome.startswith("refused"), outcome
    assert host.connected_peers() == []


async def test_a_default_client_gets_in_through_noise(make_host):
    """The control: the refusals above are about security, not a bad address."""
    host = await make_host()
    assert await asyncio.to_thread(_dial_with, "library defaults", host.addrs[0]) == "connected"
