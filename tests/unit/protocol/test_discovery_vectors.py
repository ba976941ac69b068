"""Every vector in smp-spec/vectors/discovery.json holds, and the file is exactly what
smp-spec/vectors/generate_discovery.py writes today.

Records and tokens decode (or are refused) as stated, and the valid ones re-encode to the same
bytes; envelopes are read by a discovery endpoint as the messages they state; and every scenario,
run step by step against a fresh server on SQLite, gets the stated answer at each step.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from secondme.discovery.service import DiscoveryLimits, DiscoveryService
from secondme.discovery.store.sqlite import SqliteStore
from secondme.protocol.clock import ManualClock
from secondme.protocol.discovery import DISCOVERY_MESSAGES, DISCOVERY_PROTOCOL_ID
from secondme.protocol.envelope import SMP_1_0, Envelope, Kind, decode_envelope
from secondme.protocol.errors import RemoteError, RemoteProtocolError
from secondme.protocol.framing import encode_frame
from secondme.protocol.identity import Identity, PeerId, verify
from secondme.protocol.invites import (
    INVITE_CONTEXT,
    TOKEN_PREFIX,
    InviteForged,
    InviteMalformed,
    InviteToken,
    Role,
)
from secondme.protocol.messages import ErrorCode
from secondme.protocol.records import RECORD_CONTEXT, PeerRecord, RecordInvalid
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint
from secondme.protocol.wire import pack_canonical, unpack_strict

VECTORS = Path(__file__).resolve().parents[3] / "smp-spec" / "vectors"
FILE = json.loads((VECTORS / "discovery.json").read_text(encoding="utf-8"))
IDENTITIES = {
    name: Identity.from_seed(bytes.fromhex(identity["seed"]))
    for name, identity in FILE["identities"].items()
}


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


def by_name(vectors: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {vector["name"]: vector for vector in vectors}


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [vector["name"] for vector in vectors]


# -- the file -------------------------------------------------------------------------------


def test_vector_file_matches_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(VECTORS))  # the generators import vectorkit beside them
    spec = importlib.util.spec_from_file_location(
        "smp_discovery_vectors_generate", VECTORS / "generate_discovery.py"
    )
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    assert (VECTORS / "discovery.json").read_text(encoding="utf-8") == generate.render(
        generate.document()
    )


def test_constants_are_the_codes() -> None:
    assert FILE["protocol_id"] == DISCOVERY_PROTOCOL_ID == "/secondme/discovery/1.0.0"
    assert bytes.fromhex(FILE["contexts"]["peer_record"]) == RECORD_CONTEXT
    assert bytes.fromhex(FILE["contexts"]["invite"]) == INVITE_CONTEXT
    assert RECORD_CONTEXT == b"secondme/discovery/1 peer-record\x00"
    assert INVITE_CONTEXT == b"secondme/discovery/1 invite\x00"
    assert FILE["token_prefix"] == TOKEN_PREFIX == "smi1"
    defaults = DiscoveryLimits()
    for key, value in FILE["server_defaults"].items():
        assert getattr(defaults, key) == value
    assert FILE["server_defaults"]["min_ttl_ms"] == 3_600_000
    assert FILE["server_defaults"]["max_ttl_ms"] == 72 * 3_600_000


def test_identities_are_the_smp_vector_peers() -> None:
    smp_peers = by_name(json.loads((VECTORS / "peer_ids.json").read_text("utf-8"))["vectors"])
    for name, identity in FILE["identities"].items():
        assert str(IDENTITIES[name].peer_id) == identity["peer_id"]
        assert IDENTITIES[name].public_key.hex() == identity["public_key"]
        if name in smp_peers:
            assert identity["seed"] == smp_peers[name]["seed"]
    assert {"alice", "bob", "carol"} <= set(FILE["identities"])


def test_names_are_unique_and_every_code_is_covered() -> None:
    groups = [
        FILE["records"]["valid"],
        FILE["records"]["invalid"],
        FILE["tokens"]["valid"] + FILE["tokens"]["equivalent"] + FILE["tokens"]["invalid"],
        FILE["envelopes"]["requests"],
        FILE["envelopes"]["responses"],
        FILE["scenarios"],
    ]
    for group in groups:
        assert len(ids(group)) == len(set(ids(group)))
    codes = {vector["error"] for vector in FILE["records"]["invalid"]}
    codes |= {vector["error"] for vector in FILE["tokens"]["invalid"]}
    codes |= {
        step["expected"]["error"]
        for scenario in FILE["scenarios"]
        for step in scenario["steps"]
        if "error" in step["expected"]
    }
    every = list(ErrorCode)
    discovery_codes = set(
        every[every.index(ErrorCode.INVITE_MALFORMED) : every.index(ErrorCode.UNKNOWN_GROUP)]
    )
    assert codes == discovery_codes


# -- records --------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", FILE["records"]["valid"], ids=ids(FILE["records"]["valid"]))
def test_valid_record(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["record"])
    assert len(data) == vector["size"]
    fields = vector["fields"]
    record = PeerRecord.decode(data)
    assert record.encoded == data
    assert str(record.peer) == fields["peer"]
    assert list(record.addrs) == fields["addrs"]
    assert record.display_name == fields["name"]
    assert dict(record.profile) == fields["profile"]
    assert "nets" not in fields  # a record names no network
    assert (record.seq, record.expires_ms) == (fields["seq"], fields["exp"])

    # The signed bytes and the signature, from the fields alone.
    signer = Identity.from_seed(bytes.fromhex(vector["signer_seed"]))
    assert str(signer.peer_id) == fields["peer"]
    signing_bytes = RECORD_CONTEXT + pack_canonical(fields)
    assert signing_bytes.hex() == vector["signing_bytes"]
    verify(signer.public_key, signing_bytes, bytes.fromhex(vector["signature"]))
    assert pack_canonical({**fields, "s": bytes.fromhex(vector["signature"])}) == data

    # Signing the same fields again gives the same bytes (Ed25519 is deterministic).
    again = PeerRecord.sign(
        signer,
        addrs=tuple(fields["addrs"]),
        display_name=fields["name"],
        profile=fields["profile"],
        seq=fields["seq"],
        expires_ms=fields["exp"],
    )
    assert again.encoded == data
    assert again == record


@pytest.mark.parametrize("vector", FILE["records"]["invalid"], ids=ids(FILE["records"]["invalid"]))
def test_invalid_record(vector: dict[str, Any]) -> None:
    with pytest.raises(RecordInvalid) as caught:
        PeerRecord.decode(bytes.fromhex(vector["record"]))
    assert caught.value.code == vector["error"] == "record_invalid"


# -- tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", FILE["tokens"]["valid"], ids=ids(FILE["tokens"]["valid"]))
def test_valid_token(vector: dict[str, Any]) -> None:
    text = vector["text"]
    data = bytes.fromhex(vector["bytes"])
    assert text == TOKEN_PREFIX + base64.urlsafe_b64encode(data).decode().rstrip("=")
    fields = vector["fields"]
    token = InviteToken.parse(text)
    assert token.text == text
    assert token.network == fields["net"]
    assert token.network_name == fields["name"]
    assert list(token.discovery) == fields["disc"]
    assert str(token.issuer) == fields["iss"]
    assert token.role == fields["role"]
    assert (token.uses, token.expires_ms, token.invite_id) == (
        fields["uses"],
        fields["exp"],
        fields["id"],
    )

    signer = Identity.from_seed(bytes.fromhex(vector["signer_seed"]))
    assert str(signer.peer_id) == fields["iss"]
    signing_bytes = INVITE_CONTEXT + pack_canonical(fields)
    assert signing_bytes.hex() == vector["signing_bytes"]
    verify(signer.public_key, signing_bytes, bytes.fromhex(vector["signature"]))
    assert pack_canonical({**fields, "s": bytes.fromhex(vector["signature"])}) == data

    again = InviteToken.sign(
        signer,
        network=fields["net"],
        network_name=fields["name"],
        discovery=tuple(fields["disc"]),
        role=Role(fields["role"]),
        uses=fields["uses"],
        expires_ms=fields["exp"],
        invite_id=fields["id"],
    )
    assert again.text == text
    assert again == token


@pytest.mark.parametrize(
    "vector", FILE["tokens"]["equivalent"], ids=ids(FILE["tokens"]["equivalent"])
)
def test_equivalent_token(vector: dict[str, Any]) -> None:
    original = by_name(FILE["tokens"]["valid"])[vector["same_as"]]
    token = InviteToken.parse(vector["text"])
    assert token == InviteToken.parse(original["text"])
    assert token.text == original["text"]


@pytest.mark.parametrize(
    "vector",
    FILE["tokens"]["invalid"],
    ids=ids(FILE["tokens"]["invalid"]),
)
def test_invalid_token(vector: dict[str, Any]) -> None:
    expected = {"invite_malformed": InviteMalformed, "invite_forged": InviteForged}
    with pytest.raises(expected[vector["error"]]) as caught:
        InviteToken.parse(vector["text"])
    assert caught.value.code == vector["error"]


# -- envelopes ------------------------------------------------------------------------------

ENVELOPES = FILE["envelopes"]
REQUESTS = by_name(ENVELOPES["requests"])


def server_endpoint() -> SmpEndpoint:
    clock = ManualClock(ENVELOPES["now_ms"])
    receiver = IDENTITIES[ENVELOPES["receiver"]]
    return SmpEndpoint(receiver, clock, ReplayWindow(clock), registry=DISCOVERY_MESSAGES)


def check_envelope_bytes(vector: dict[str, Any], signer: Identity) -> Envelope:
    payload = bytes.fromhex(vector["payload"])
    assert bytes.fromhex(vector["frame"]) == encode_frame(payload)
    envelope = decode_envelope(payload)
    assert to_json(envelope.to_wire()) == vector["envelope"]
    assert envelope.signing_bytes().hex() == vector["signing_bytes"]
    assert (envelope.message_type, envelope.kind.value) == (vector["type"], vector["kind"])
    assert envelope.message_type.startswith("disc.") or envelope.kind is Kind.ERROR
    envelope.verify(signer.peer_id)
    # Re-signing the same fields gives the same bytes.
    again = Envelope.sign(
        signer,
        version=SMP_1_0,
        message_type=envelope.message_type,
        request_id=envelope.request_id,
        kind=envelope.kind,
        timestamp_ms=envelope.timestamp_ms,
        nonce=envelope.nonce,
        grant=envelope.grant,
        body=from_json(vector["body"]),
    )
    assert again.encode() == payload
    return envelope


@pytest.mark.parametrize("vector", ENVELOPES["requests"], ids=ids(ENVELOPES["requests"]))
def test_request_envelope(vector: dict[str, Any]) -> None:
    signer = IDENTITIES[vector["signer"]]
    envelope = check_envelope_bytes(vector, signer)
    assert envelope.request_id == vector["request_id"]
    assert envelope.grant is None
    incoming = server_endpoint().receive_request(signer.peer_id, bytes.fromhex(vector["payload"]))
    assert vector["type"] == incoming.message.TYPE
    assert to_json(incoming.message.to_body()) == vector["body"]
    assert type(incoming.message).from_body(from_json(vector["body"])) == incoming.message


@pytest.mark.parametrize("vector", ENVELOPES["responses"], ids=ids(ENVELOPES["responses"]))
def test_response_envelope(vector: dict[str, Any]) -> None:
    server = IDENTITIES[ENVELOPES["receiver"]]
    check_envelope_bytes(vector, server)
    request = REQUESTS[vector["answers"]]
    requester = IDENTITIES[request["signer"]]
    clock = ManualClock(ENVELOPES["now_ms"])
    endpoint = SmpEndpoint(
        requester,
        clock,
        ReplayWindow(clock),
        registry=DISCOVERY_MESSAGES,
        random_bytes=lambda size: request["request_id"].to_bytes(size, "big"),
    )
    message = DISCOVERY_MESSAGES.lookup(Kind.REQUEST, request["type"]).from_body(
        from_json(request["body"])
    )
    outgoing = endpoint.request(message)
    assert outgoing.request_id == request["request_id"]
    payload = bytes.fromhex(vector["payload"])
    if vector["kind"] == "error":
        with pytest.raises(RemoteError) as caught:
            endpoint.receive_response(server.peer_id, outgoing, payload)
        assert caught.value.code == vector["body"]["code"]
        assert caught.value.message == vector["body"]["message"]
        return
    answer = endpoint.receive_response(server.peer_id, outgoing, payload)
    assert type(message).RESPONSE is type(answer)
    assert vector["type"] == answer.TYPE
    assert to_json(answer.to_body()) == vector["body"]


def test_every_discovery_type_has_an_envelope() -> None:
    request_types = {vector["type"] for vector in ENVELOPES["requests"]}
    response_types = {vector["type"] for vector in ENVELOPES["responses"]}
    requests = [DISCOVERY_MESSAGES.lookup(Kind.REQUEST, name) for name in sorted(request_types)]
    assert {cls.RESPONSE.TYPE for cls in requests} == response_types - {"error"}
    assert len(request_types) == 9


# -- scenarios ------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", FILE["scenarios"], ids=ids(FILE["scenarios"]))
async def test_scenario(scenario: dict[str, Any], tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "discovery.sqlite")
    clock = ManualClock(0)
    service = DiscoveryService(store, clock, DiscoveryLimits(**scenario.get("limits", {})))
    try:
        for index, step in enumerate(scenario["steps"]):
            where = f"step {index}: {step['note']}"
            clock.set(step["now_ms"])
            request_class = DISCOVERY_MESSAGES.lookup(Kind.REQUEST, step["type"])
            message = request_class.from_body(from_json(step["body"]))
            peer = PeerId.from_base58(FILE["identities"][step["as"]]["peer_id"])
            expected = step["expected"]
            if "error" in expected:
                with pytest.raises(RemoteProtocolError) as caught:
                    await service.handle(peer, message)
                assert caught.value.code == expected["error"], where
                continue
            answer = await service.handle(peer, message)
            assert type(answer) is request_class.RESPONSE, where
            assert expected["type"] == answer.TYPE, where
            assert to_json(answer.to_body()) == expected["body"], where
            # What the server answers, a requester reads back as the same message.
            assert type(answer).from_body(unpack_strict(pack_canonical(answer.to_body()))) == (
                answer
            ), where
    finally:
        store.close()
