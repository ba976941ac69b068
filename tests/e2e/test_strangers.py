"""Strangers against a real daemon: fresh identities, each a real libp2p host on loopback with
its own Noise session, sending frames the node must refuse, and a flood that must not keep the
peer holding a grant out.

For the flood the victim runs with a replay window of 512 nonces (a 128th of the default, every
other limit at its default) so that the flood that used to fill it, and leave every peer
``busy`` for minutes, fits in a test. (``tests/unit/protocol/test_replay.py`` floods the default
window itself, with 400 identities.) The flood fills what strangers may hold for minutes, so it
runs last in this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from secondme.protocol.access import ACCESS_MESSAGES, Ask
from secondme.protocol.clock import SystemClock
from secondme.protocol.envelope import Kind, decode_envelope
from secondme.protocol.errors import RemoteError, SmpError
from secondme.protocol.framing import MAX_FRAME_SIZE, FrameDecoder, encode_frame, encode_uvarint
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import Ping
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint
from secondme.protocol.transport.host import SmpHost
from tests.e2e import harness
from tests.integration.transport.conftest import RawStream

pytestmark = pytest.mark.slow

WINDOW = 512
IDENTITIES = 72
"""Each sends ``REQUESTS``: 576 requests, more than the whole window holds, from more
identities than the strangers' share of it (a quarter, two nonces each) has room for."""
REQUESTS = 8
AT_ONCE = 8
"""Identities flooding at the same time (each on its own connection)."""
HELD = 24
"""Fresh identities that then connect and stay connected while the grant holder asks."""
LOOPBACK = "/ip4/127.0.0.1/tcp/0"


def p2p_addr(node: harness.NodeProcess) -> str:
    return json.loads((node.data_dir / "daemon.json").read_text())["p2p"][0]


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """Alice (the victim, her window shrunk) and Bob, who holds her ``chat/ask`` grant."""
    root = tmp_path_factory.mktemp("flood")
    launcher = (
        sys.executable,
        str(Path(__file__).with_name("small_replay_window.py")),
        str(WINDOW),
    )
    started = []
    try:
        harness.init_greedy(root / "alice", "--name", "Alice")
        alice = harness.start_node(root / "alice", launcher=launcher, wait=False)
        started.append(alice)
        bob = harness.start_node(root / "bob", "--name", "Bob", wait=False)
        started.append(bob)
        for node in started:
            harness.wait_until_ready(node)
        notes = root / "lisbon.md"
        notes.write_text("# Lisbon\nIn May I walked the Alfama hills and took tram 28.\n")
        alice.cli("ingest", str(notes), "--tag", "travel")
        alice.cli("peers", "add", p2p_addr(bob), "--name", "bob")
        bob.cli("peers", "add", p2p_addr(alice), "--name", "alice")
        grant = alice.cli_json("grant", "bob", "--ability", "chat/ask", "--expires", "1h")
        assert grant["delivered_ms"]
        yield alice, bob
    finally:
        for node in started:
            node.terminate()


class Stranger:
    """A fresh identity with its own libp2p host."""

    def __init__(self) -> None:
        self.identity = Identity.generate()
        clock = SystemClock()
        self.endpoint = SmpEndpoint(
            self.identity, clock, ReplayWindow(clock), registry=ACCESS_MESSAGES
        )
        self.host = SmpHost(self.identity.seed, [LOOPBACK], self._serves_nothing)

    @staticmethod
    async def _serves_nothing(peer: PeerId, payload: bytes) -> bytes:
        raise RuntimeError("a flooding host serves nothing")

    async def ping(self, victim: PeerId) -> str:
        """``accepted``, the error code the victim answered, or the transport failure."""
        outgoing = self.endpoint.request(Ping())
        try:
            payload = await self.host.request(victim, outgoing.payload, timeout=30)
            self.endpoint.receive_response(victim, outgoing, payload)
        except RemoteError as exc:
            return exc.code
        except SmpError as exc:
            return type(exc).__name__
        return "accepted"


async def flood(victim_addr: str, victim: PeerId) -> Counter[str]:
    """Every identity connects, sends its requests (four at a time) and leaves."""
    outcomes: Counter[str] = Counter()
    turns = asyncio.Semaphore(AT_ONCE)

    async def one() -> None:
        async with turns:
            stranger = Stranger()
            async with stranger.host:
                try:
                    await stranger.host.connect(victim_addr)
                except SmpError as exc:
                    outcomes[type(exc).__name__] += 1
                    return
                streams = asyncio.Semaphore(4)

                async def ask() -> None:
                    async with streams:
                        outcomes[await stranger.ping(victim)] += 1

                await asyncio.gather(*(ask() for _ in range(REQUESTS)))

    await asyncio.gather(*(one() for _ in range(IDENTITIES)))
    return outcomes


def refused_code(answer: bytes, signer: PeerId) -> tuple[str, int | None]:
    """The code and request id of the error frame ``answer``, checked to be signed by ``signer``."""
    envelope = decode_envelope(answer)
    envelope.verify(signer)
    assert envelope.kind is Kind.ERROR
    return envelope.body["code"], envelope.request_id


def test_a_frame_that_cannot_be_read_gets_the_nodes_signed_error_frame(nodes):
    alice, _ = nodes
    victim = PeerId.from_base58(alice.peer_id)

    async def send_bad_frames() -> dict[str, bytes]:
        stranger = Stranger()
        received = {}
        async with stranger.host:
            await stranger.host.connect(p2p_addr(alice))
            for name, data, then_close in [
                ("frame_too_large", encode_uvarint(MAX_FRAME_SIZE + 1), False),
                ("malformed", encode_frame(b"0123456789")[:-3], True),
            ]:
                stream = await RawStream.open(stranger.host, victim)
                await stream.write(data)
                if then_close:
                    await stream.close_write()  # the frame ends early: truncated
                received[name], _ = await stream.read_to_end()
        return received

    for code, frame in asyncio.run(send_bad_frames()).items():
        decoder = FrameDecoder()
        decoder.receive_data(frame)
        answer = decoder.next_frame()
        assert answer is not None, f"no error frame for {code}"
        assert refused_code(answer, victim) == (code, None)
    assert alice.process.poll() is None


def test_a_request_the_gate_refuses_keeps_its_nonce_used(nodes):
    """Refused after the replay step (here: an ``ask`` without a grant), a request is still
    remembered: the same frame again is ``replayed``, not asked again."""
    alice, _ = nodes
    victim = PeerId.from_base58(alice.peer_id)

    async def ask_twice() -> list[tuple[str, int | None]]:
        stranger = Stranger()
        outgoing = stranger.endpoint.request(Ask(question="What is in the blue box?"))
        async with stranger.host:
            await stranger.host.connect(p2p_addr(alice))
            return [
                refused_code(await stranger.host.request(victim, outgoing.payload), victim)
                for _ in range(2)
            ]

    first, again = asyncio.run(ask_twice())
    assert first[0] == "no_grant" and again[0] == "replayed"
    assert first[1] == again[1]  # both answer the one request id


def test_a_flood_of_fresh_identities_leaves_the_grant_holder_answered(nodes):
    alice, bob = nodes
    victim = PeerId.from_base58(alice.peer_id)

    async def attack_then_ask() -> tuple[Counter[str], str, object]:
        outcomes = await flood(p2p_addr(alice), victim)
        held = [Stranger() for _ in range(HELD)]
        try:
            for stranger in held:
                await stranger.host.start()
                # Past the strangers' connection caps the victim closes it: that is the point.
                with contextlib.suppress(SmpError):
                    await stranger.host.connect(p2p_addr(alice))
            latecomer = await held[-1].ping(victim)
            answer = await asyncio.to_thread(
                bob.cli, "ask", "alice", "Where did I walk in May?", "--json", check=False
            )
        finally:
            for stranger in held:
                await stranger.host.close()
        return outcomes, latecomer, answer

    outcomes, latecomer, answer = asyncio.run(attack_then_ask())

    assert sum(outcomes.values()) == IDENTITIES * REQUESTS
    assert outcomes["busy"] > 0, outcomes  # the flood filled what strangers may hold
    assert latecomer != "accepted"  # and another fresh identity still finds it full
    assert answer.returncode == 0, answer.stdout + answer.stderr
    reply = json.loads(answer.stdout)
    assert reply["peer_id"] == alice.peer_id and reply["answer"].strip()
    assert alice.process.poll() is None
