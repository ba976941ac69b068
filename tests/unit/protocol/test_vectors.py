"""Every vector in smp-spec/vectors/ holds, read whole and one byte at a time, and the files are
exactly what smp-spec/vectors/generate.py writes today."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from secondme.protocol.clock import ManualClock
from secondme.protocol.envelope import Kind, Version, decode_envelope
from secondme.protocol.errors import RemoteError, RemoteProtocolError
from secondme.protocol.framing import FrameDecoder, encode_frame
from secondme.protocol.identity import Identity, PeerId
from secondme.protocol.messages import CORE_MESSAGES
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint
from secondme.protocol.wire import pack_canonical

VECTORS = Path(__file__).resolve().parents[3] / "smp-spec" / "vectors"
RECEIVER = Identity.from_seed(bytes(range(32)))


def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value


def to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value


def read_frame(frame: bytes, *, bytewise: bool) -> bytes:
    """What a transport does with one stream: feed bytes, then report its end."""
    decoder = FrameDecoder()
    for chunk in [frame[i : i + 1] for i in range(len(frame))] if bytewise else [frame]:
        decoder.receive_data(chunk)
    decoder.end_of_stream()
    payload = decoder.next_frame()
    assert payload is not None
    assert decoder.next_frame() is None
    return payload


def receive(vector: dict[str, Any], *, bytewise: bool) -> Any:
    """Run one vector through a fresh receiver; return what it parsed or raise what it raised."""
    clock = ManualClock(vector["now_ms"])
    peer = PeerId.from_base58(vector["session_peer_id"])
    endpoint = SmpEndpoint(
        RECEIVER,
        clock,
        ReplayWindow(clock, skew_ms=load_receiver()["skew_ms"]),
        [Version.parse(text) for text in load_receiver()["versions"]],
        random_bytes=lambda size: (vector.get("answers", {}).get("request_id", 0)).to_bytes(
            size, "big"
        ),
    )
    if vector["role"] == "responder":
        for prior in vector.get("preceded_by", []):
            # Accepted or refused, each prior frame is there for the nonce it leaves (un)used.
            with contextlib.suppress(RemoteProtocolError):
                endpoint.receive_request(peer, read_frame(bytes.fromhex(prior), bytewise=bytewise))
        payload = read_frame(bytes.fromhex(vector["frame"]), bytewise=bytewise)
        return endpoint.receive_request(peer, payload)
    answers = vector["answers"]
    assert Version.parse(answers["version"]) == endpoint.versions[0]
    outgoing = endpoint.request(CORE_MESSAGES.lookup(Kind.REQUEST, answers["type"]).from_body({}))
    assert outgoing.request_id == answers["request_id"]
    payload = read_frame(bytes.fromhex(vector["frame"]), bytewise=bytewise)
    return endpoint.receive_response(peer, outgoing, payload)


def load_receiver() -> dict[str, Any]:
    return load("valid.json")["receiver"]


VALID = load("valid.json")["vectors"]
INVALID = load("invalid.json")["vectors"]


def test_every_vector_has_a_unique_name() -> None:
    names = [vector["name"] for vector in VALID + INVALID]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
@pytest.mark.parametrize("vector", VALID, ids=[vector["name"] for vector in VALID])
def test_valid_vector(vector: dict[str, Any], bytewise: bool) -> None:
    payload = bytes.fromhex(vector["payload"])
    assert bytes.fromhex(vector["frame"]) == encode_frame(payload)
    envelope = decode_envelope(payload)
    assert to_json(envelope.to_wire()) == vector["envelope"]
    assert envelope.signing_bytes().hex() == vector["signing_bytes"]
    signer = vector["signer"]
    assert str(Identity.from_seed(bytes.fromhex(signer["seed"])).peer_id) == signer["peer_id"]
    envelope.verify(PeerId.from_base58(signer["peer_id"]))

    result = vector["result"]
    if "remote_error" in result:
        with pytest.raises(RemoteError) as caught:
            receive(vector, bytewise=bytewise)
        expected = from_json(result["remote_error"])
        assert caught.value.code == expected["code"]
        assert caught.value.message == expected["message"]
        assert caught.value.retry_after_ms == expected.get("retry_after_ms")
        return
    received = receive(vector, bytewise=bytewise)
    message = received.message if vector["role"] == "responder" else received
    assert {
        "type": message.TYPE,
        "kind": message.KIND.value,
        "body": to_json(message.to_body()),
    } == result["message"]
    if vector["role"] == "responder":
        assert str(received.version) == result["negotiated_version"]
        assert received.grant == envelope.grant
        assert received.request_id == envelope.request_id


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
@pytest.mark.parametrize("vector", INVALID, ids=[vector["name"] for vector in INVALID])
def test_invalid_vector(vector: dict[str, Any], bytewise: bool) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        receive(vector, bytewise=bytewise)
    assert caught.value.code == vector["error"]


def test_invalid_vectors_name_every_code_the_brief_asks_for() -> None:
    codes = {vector["error"] for vector in INVALID}
    assert codes >= {
        "frame_too_large",
        "malformed",
        "unsupported_version",
        "unknown_type",
        "bad_signature",
        "unexpected_message",
        "replayed",
        "stale",
    }


@pytest.mark.parametrize("vector", load("peer_ids.json")["vectors"], ids=lambda v: v["name"])
def test_peer_id_vector(vector: dict[str, str]) -> None:
    identity = Identity.from_seed(bytes.fromhex(vector["seed"]))
    assert identity.public_key.hex() == vector["public_key"]
    assert str(identity.peer_id) == vector["peer_id"]
    assert identity.peer_id.multihash[2:].hex() == vector["public_key_protobuf"]
    assert PeerId.from_base58(vector["peer_id"]).public_key() == identity.public_key


@pytest.mark.parametrize("vector", load("canonical.json")["vectors"], ids=lambda v: v["name"])
def test_canonical_vector(vector: dict[str, Any]) -> None:
    assert pack_canonical(from_json(vector["value"])).hex() == vector["encoding"]


def test_vector_files_match_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(VECTORS))  # the generators import vectorkit beside them
    spec = importlib.util.spec_from_file_location("smp_vectors_generate", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    for name, document in generate.documents().items():
        assert (VECTORS / name).read_text(encoding="utf-8") == generate.render(document), name
