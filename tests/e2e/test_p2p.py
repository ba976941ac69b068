"""Daemons talking SMP over real libp2p on loopback."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from secondme.protocol.clock import ManualClock, SystemClock
from secondme.protocol.envelope import Kind, decode_envelope
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import Ping
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint
from secondme.protocol.transport.host import SmpHost
from tests.e2e.harness import NodeProcess

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def p2p_addr(node: NodeProcess) -> str:
    return json.loads((node.data_dir / "daemon.json").read_text())["p2p"][0]


@pytest.fixture
def pair(tmp_path, start_node):
    alice = start_node(
        tmp_path / "alice", "--name", "Alice", "--description", "secret bio", "--public", "name"
    )
    bob = start_node(tmp_path / "bob", "--name", "Bob")
    return alice, bob


def test_two_nodes_add_ping_and_hello(pair):
    alice, bob = pair
    ident = alice.cli_json("id")
    assert ident["listen"][0] == f"{ident['listen'][0].split('/p2p/')[0]}/p2p/{alice.peer_id}"
    assert ident["listen"][0].startswith("/ip4/127.0.0.1/tcp/")
    added = bob.cli_json("peers", "add", p2p_addr(alice), "--name", "alice")
    assert added["peer_id"] == alice.peer_id and added["display_name"] == "Alice"
    result = bob.cli_json("ping", "alice", "--count", "3")
    assert len(result["rtt_ms"]) == 3 and all(r > 0 for r in result["rtt_ms"])
    hello = bob.cli_json("hello", alice.peer_id)
    assert hello["display_name"] == "Alice" and "1.0" in hello["versions"]
    assert hello["profile"] == {"name": "Alice"}  # the private description stays home
    known = bob.cli_json("peers")
    assert [p["peer_id"] for p in known] == [alice.peer_id]
    assert known[0]["protocol_version"] == "1.0" and known[0]["latency_ms"] > 0
    assert known[0]["last_seen"] is not None
    text = bob.cli("ping", "alice", "--count", "2").stdout
    assert "pong from" in text and "median" in text
    bob.cli("peers", "rm", "alice")
    assert bob.cli_json("peers") == []
    missing = bob.cli("ping", "alice", check=False)
    assert missing.returncode != 0 and "unknown peer 'alice'" in missing.stderr


def test_three_nodes_ping_each_other(tmp_path, start_node):
    nodes = [start_node(tmp_path / name, "--name", name) for name in ("a", "b", "c")]
    for node in nodes:
        for other in nodes:
            if other is not node:
                node.cli("peers", "add", p2p_addr(other))
    for node in nodes:
        for other in nodes:
            if other is not node:
                assert node.cli_json("ping", other.peer_id)["peer_id"] == other.peer_id


def test_restarted_peer_is_reached_again(tmp_path, start_node):
    port = free_port()
    listen = f"/ip4/127.0.0.1/tcp/{port}"
    alice = start_node(tmp_path / "alice", "--listen", listen)
    bob = start_node(tmp_path / "bob")
    bob.cli("peers", "add", p2p_addr(alice), "--name", "alice")
    assert alice.terminate() == 0
    down = bob.cli("ping", "alice", check=False)
    assert down.returncode != 0 and "cannot reach peer alice" in down.stderr
    alice = start_node(tmp_path / "alice", "--listen", listen)
    assert bob.cli_json("ping", "alice")["peer_id"] == alice.peer_id


def test_peer_with_another_key_than_its_address_is_refused(pair, tmp_path):
    alice, bob = pair
    impostor = str(Identity.generate().peer_id)
    forged = p2p_addr(alice).rsplit("/p2p/", 1)[0] + f"/p2p/{impostor}"
    result = bob.cli("peers", "add", forged, check=False)
    assert result.returncode != 0 and "cannot connect" in result.stderr
    assert bob.cli_json("peers") == []


async def _raw_requests(target: NodeProcess, payloads_for) -> list[bytes]:
    """Send hand-made payloads to ``target`` from a throwaway libp2p host."""
    identity = Identity.generate()
    host = SmpHost(identity.seed, ["/ip4/127.0.0.1/tcp/0"], _never_called)
    await host.start()
    try:
        peer = await host.connect(p2p_addr(target))
        return [await host.request(peer, p, timeout=30) for p in payloads_for(identity)]
    finally:
        await host.close()


async def _never_called(peer: PeerId, payload: bytes) -> bytes:
    raise AssertionError("the test host serves nothing")


def _codes(answers: list[bytes]) -> list[str | None]:
    envelopes = [decode_envelope(a) for a in answers]
    return [e.body.get("code") if e.kind == Kind.ERROR else None for e in envelopes]


def test_bad_frames_get_error_codes_and_the_node_keeps_serving(pair):
    alice, bob = pair
    bob.cli("peers", "add", p2p_addr(alice), "--name", "alice")

    def payloads(identity: Identity) -> list[bytes]:
        clock = SystemClock()
        endpoint = SmpEndpoint(identity, clock, ReplayWindow(clock))
        valid = endpoint.request(Ping(payload=b"x")).payload
        past = ManualClock(now_ms=clock.now_ms() - 3_600_000)
        stale = SmpEndpoint(identity, past, ReplayWindow(past)).request(Ping()).payload
        forged = SmpEndpoint(Identity.generate(), clock, ReplayWindow(clock))
        return [b"\xc1 not msgpack", valid, valid, stale, forged.request(Ping()).payload]

    answers = asyncio.run(_raw_requests(alice, payloads))
    assert _codes(answers) == ["malformed", None, "replayed", "stale", "bad_signature"]
    assert bob.cli_json("ping", "alice")["peer_id"] == alice.peer_id
    log = alice.stderr_text()
    assert "refused a request" in log and "(replayed)" in log


def test_a_flooding_peer_does_not_stall_another_peers_pings(pair):
    alice, bob = pair
    bob.cli("peers", "add", p2p_addr(alice), "--name", "alice")

    async def flood_and_measure() -> tuple[list[str | None], dict]:
        identity = Identity.generate()
        clock = SystemClock()
        endpoint = SmpEndpoint(identity, clock, ReplayWindow(clock))
        host = SmpHost(identity.seed, ["/ip4/127.0.0.1/tcp/0"], _never_called)
        await host.start()
        try:
            peer = await host.connect(p2p_addr(alice))
            flood = [
                host.request(peer, endpoint.request(Ping()).payload, timeout=60) for _ in range(400)
            ]
            pings = asyncio.to_thread(bob.cli_json, "ping", "alice", "--count", "5")
            results = await asyncio.gather(pings, *flood, return_exceptions=True)
            return [_codes([r])[0] if isinstance(r, bytes) else "reset" for r in results[1:]], (
                results[0]
            )
        finally:
            await host.close()

    flood_codes, bob_pings = asyncio.run(flood_and_measure())
    assert not isinstance(bob_pings, BaseException), bob_pings
    assert len(bob_pings["rtt_ms"]) == 5  # bob was served throughout
    assert "rate_limited" in flood_codes or "reset" in flood_codes  # the flooder was held back
    assert alice.process.poll() is None
