"""Every vector in smp-spec/vectors/groups.json holds, recomputed from its inputs with the real
code, and the file is exactly what smp-spec/vectors/generate_groups.py writes today.

Sealed keys seal to the same bytes and open to their inputs; messages encrypt, sign and hash to
the stated bytes; the transcript's heads follow; every invalid key, message and body is refused
with the stated code; sync answers follow the rule of groups.md; and envelopes are read by a
node's endpoint as the messages they state.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.bindings
import pytest

from secondme.protocol.clock import ManualClock
from secondme.protocol.envelope import SMP_1_0, Envelope, Kind, decode_envelope
from secondme.protocol.errors import RemoteError
from secondme.protocol.framing import encode_frame
from secondme.protocol.group_messages import (
    END_REASONS,
    GROUP_MESSAGE_TYPES,
    MAX_GROUP_NAME,
    MAX_SEALED_KEY,
    MAX_SYNC_KEYS,
    MAX_SYNC_MESSAGES,
    MAX_TOPIC,
    NODE_MESSAGES,
    RELEVANCE_STEP,
    GroupClosed,
    InboxFull,
    NotModerator,
    QuotaExceeded,
    UnknownGroup,
    coarse_relevance,
)
from secondme.protocol.groups import (
    GENESIS,
    HASH_SIZE,
    KEY_CONTENT_TYPE,
    KEY_SIZE,
    MAX_MEMBERS,
    MAX_MESSAGE_SIZE,
    MAX_POSITIONS,
    MAX_REASON,
    MAX_TEXT,
    MESSAGE_CONTEXT,
    NONCE_SIZE,
    Body,
    BodyKind,
    ForgedGroupMessage,
    GroupKey,
    GroupMessageError,
    MalformedGroupMessage,
    NotGroupMember,
    OutOfOrder,
    Transcript,
    Undecryptable,
    UnknownEpoch,
    read_message,
    write_message,
)
from secondme.protocol.identity import Identity, PeerId, verify
from secondme.protocol.messages import ErrorCode
from secondme.protocol.replay import ReplayWindow
from secondme.protocol.session import SmpEndpoint
from secondme.protocol.signed import sign_map
from secondme.protocol.wire import pack_canonical, unpack_strict

SPEC = Path(__file__).resolve().parents[3] / "smp-spec"
VECTORS = SPEC / "vectors"
FILE = json.loads((VECTORS / "groups.json").read_text(encoding="utf-8"))
IDENTITIES = {
    name: Identity.from_seed(bytes.fromhex(identity["seed"]))
    for name, identity in FILE["identities"].items()
}
MODERATOR = IDENTITIES[FILE["transcript"]["moderator"]]
GROUP_CODES = (
    "unknown_group",
    "not_moderator",
    "group_closed",
    "group_malformed",
    "group_forged",
    "group_not_member",
    "group_unknown_epoch",
    "group_out_of_order",
    "group_undecryptable",
    "group_inbox_full",
    "group_quota",
)
ERROR_OF = {
    "group_malformed": MalformedGroupMessage,
    "group_forged": ForgedGroupMessage,
    "group_not_member": NotGroupMember,
    "group_unknown_epoch": UnknownEpoch,
    "group_out_of_order": OutOfOrder,
    "group_undecryptable": Undecryptable,
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


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [vector["name"] for vector in vectors]


def replaying(*draws: bytes) -> Callable[[int], bytes]:
    pending = list(draws)

    def random_bytes(size: int) -> bytes:
        draw = pending.pop(0)
        assert len(draw) == size
        return draw

    return random_bytes


def peers(names: list[str]) -> frozenset[PeerId]:
    return frozenset(PeerId.from_base58(name) for name in names)


EPOCHS = {
    epoch["epoch"]: GroupKey(
        FILE["transcript"]["group"],
        epoch["epoch"],
        bytes.fromhex(epoch["key"]),
        peers(epoch["members"]),
    )
    for epoch in FILE["transcript"]["epochs"]
}
ENCODED = [bytes.fromhex(v["outputs"]["message"]) for v in FILE["transcript"]["messages"]]


def receive(transcript: Transcript, data: bytes) -> Body:
    """What a node does with the next message (groups.md section 5): append it to the
    transcript, then read its body; a body that does not read takes the message back out."""
    message = transcript.append(data)
    try:
        return Body.decode(message.body)
    except GroupMessageError:
        transcript.messages.pop()
        raise


# -- the file -------------------------------------------------------------------------------


def test_vector_file_matches_the_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(VECTORS))  # the generators import vectorkit beside them
    spec = importlib.util.spec_from_file_location(
        "smp_group_vectors_generate", VECTORS / "generate_groups.py"
    )
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    assert (VECTORS / "groups.json").read_text(encoding="utf-8") == generate.render(
        generate.document()
    )


def test_constants_are_the_codes() -> None:
    assert bytes.fromhex(FILE["context"]) == MESSAGE_CONTEXT == b"secondme/group/1 message\x00"
    assert FILE["key_content_type"] == KEY_CONTENT_TYPE == "group.key"
    assert FILE["limits"] == {
        "key_size": KEY_SIZE,
        "nonce_size": NONCE_SIZE,
        "hash_size": HASH_SIZE,
        "max_message_size": MAX_MESSAGE_SIZE,
        "max_members": MAX_MEMBERS,
        "max_text": MAX_TEXT,
        "max_reason": MAX_REASON,
        "max_positions": MAX_POSITIONS,
        "max_group_name": MAX_GROUP_NAME,
        "max_topic": MAX_TOPIC,
        "max_sealed_key": MAX_SEALED_KEY,
        "max_sync_messages": MAX_SYNC_MESSAGES,
        "max_sync_keys": MAX_SYNC_KEYS,
        "end_reasons": list(END_REASONS),
        "relevance_step": RELEVANCE_STEP,
        "body_kinds": [str(kind) for kind in BodyKind],
    }
    assert [coarse_relevance(n) for n in (0, 249, 250, 749, 999, 1000)] == [
        0,
        0,
        250,
        500,
        750,
        1000,
    ]
    assert bytes(32) == GENESIS


def test_identities_are_the_smp_vector_peers() -> None:
    smp = {
        v["name"]: v for v in json.loads((VECTORS / "peer_ids.json").read_text("utf-8"))["vectors"]
    }
    discovery = json.loads((VECTORS / "discovery.json").read_text("utf-8"))["identities"]
    for name, identity in FILE["identities"].items():
        assert str(IDENTITIES[name].peer_id) == identity["peer_id"]
        assert IDENTITIES[name].public_key.hex() == identity["public_key"]
        if name in smp:
            assert identity["seed"] == smp[name]["seed"]
        if name in discovery:
            assert identity == discovery[name]
    assert set(FILE["identities"]) == {"alice", "bob", "carol", "dave"}


def test_names_are_unique_and_every_message_code_is_covered() -> None:
    for group in (
        FILE["sealed_keys"]["valid"],
        FILE["sealed_keys"]["invalid"],
        FILE["messages"] + FILE["transcript"]["messages"],
        FILE["invalid_messages"],
        FILE["bodies"]["valid"] + FILE["bodies"]["equivalent"] + FILE["bodies"]["invalid"],
        FILE["sync"],
        FILE["envelopes"]["requests"],
        FILE["envelopes"]["responses"],
    ):
        assert len(ids(group)) == len(set(ids(group)))
    assert {v["error"] for v in FILE["invalid_messages"]} == set(ERROR_OF)
    assert {v["error"] for v in FILE["sealed_keys"]["invalid"]} == {
        "group_malformed",
        "group_not_member",
    }


def test_every_error_code_is_documented() -> None:
    """README section 9 lists every code a node may send; groups.md lists the group codes."""
    readme = (SPEC / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## 9. Error codes") : readme.index("## 10.")]
    listed = re.findall(r"^\| `([a-z][a-z0-9_]*)` \|", table, flags=re.MULTILINE)
    assert len(listed) == len(set(listed))
    assert set(listed) == {code.value for code in ErrorCode}
    every = list(ErrorCode)
    assert [c.value for c in every[every.index(ErrorCode.UNKNOWN_GROUP) :]] == list(GROUP_CODES)
    groups = (SPEC / "groups.md").read_text(encoding="utf-8")
    for code in (*GROUP_CODES, "rate_limited"):
        assert f"| `{code}` |" in groups, code
    assert "[groups.md](groups.md)" in readme
    for error in (
        UnknownGroup,
        NotModerator,
        GroupClosed,
        InboxFull,
        QuotaExceeded,
        *ERROR_OF.values(),
    ):
        assert error.code in GROUP_CODES


# -- sealed keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vector", FILE["sealed_keys"]["valid"], ids=ids(FILE["sealed_keys"]["valid"])
)
def test_sealed_key(vector: dict[str, Any]) -> None:
    inputs, outputs = vector["inputs"], vector["outputs"]
    moderator = Identity.from_seed(bytes.fromhex(inputs["moderator_seed"]))
    member = Identity.from_seed(bytes.fromhex(inputs["member_seed"]))
    assert str(member.peer_id) == outputs["member_peer_id"]
    assert inputs["members"] == sorted(inputs["members"])
    key = GroupKey(
        inputs["group"], inputs["epoch"], bytes.fromhex(inputs["key"]), peers(inputs["members"])
    )
    plaintext = pack_canonical(
        {
            "group": inputs["group"],
            "epoch": inputs["epoch"],
            "key": bytes.fromhex(inputs["key"]),
            "members": inputs["members"],
        }
    )
    assert plaintext.hex() == outputs["plaintext"]
    sealed = key.seal_for(
        moderator,
        member.peer_id,
        created_ms=inputs["created_ms"],
        random_bytes=replaying(
            bytes.fromhex(inputs["ephemeral_secret"]), bytes.fromhex(inputs["nonce"])
        ),
    )
    assert sealed.hex() == outputs["sealed"]
    assert len(sealed) == outputs["size"] <= MAX_SEALED_KEY
    assert GroupKey.open(member, sealed, moderator=moderator.peer_id) == key


@pytest.mark.parametrize(
    "vector", FILE["sealed_keys"]["invalid"], ids=ids(FILE["sealed_keys"]["invalid"])
)
def test_invalid_sealed_key(vector: dict[str, Any]) -> None:
    opener = Identity.from_seed(bytes.fromhex(vector["opener_seed"]))
    with pytest.raises(ERROR_OF[vector["error"]]) as caught:
        GroupKey.open(
            opener,
            bytes.fromhex(vector["sealed"]),
            moderator=PeerId.from_base58(vector["moderator"]),
        )
    assert caught.value.code == vector["error"]


# -- messages -------------------------------------------------------------------------------


def check_message(vector: dict[str, Any]) -> bytes:
    """Write the message from its inputs, check every output, and read it back."""
    inputs, outputs = vector["inputs"], vector["outputs"]
    sender = Identity.from_seed(bytes.fromhex(inputs["sender_seed"]))
    assert str(sender.peer_id) == outputs["sender_peer_id"]
    key = GroupKey(
        inputs["group"], inputs["epoch"], bytes.fromhex(inputs["key"]), peers(inputs["members"])
    )
    body = bytes.fromhex(inputs["body"])
    nonce = bytes.fromhex(inputs["nonce"])
    prev = bytes.fromhex(inputs["prev"])
    data = write_message(
        sender,
        key,
        seq=inputs["seq"],
        prev=prev,
        body=body,
        ts=inputs["ts"],
        random_bytes=replaying(nonce),
    )
    assert data.hex() == outputs["message"]
    assert len(data) == outputs["size"] <= MAX_MESSAGE_SIZE
    assert hashlib.sha256(data).hexdigest() == outputs["hash"]

    # Every intermediate value, from the inputs alone (groups.md sections 3.2 and 4.1).
    header = {
        "group": inputs["group"],
        "epoch": inputs["epoch"],
        "seq": inputs["seq"],
        "prev": prev,
        "from": str(sender.peer_id),
        "ts": inputs["ts"],
        "n": nonce,
    }
    associated_data = pack_canonical(header)
    assert associated_data.hex() == outputs["associated_data"]
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        body, associated_data, nonce, key.key
    )
    assert ciphertext.hex() == outputs["ciphertext"]
    signing_bytes = MESSAGE_CONTEXT + pack_canonical({**header, "ct": ciphertext})
    assert signing_bytes.hex() == outputs["signing_bytes"]
    signature = bytes.fromhex(outputs["signature"])
    verify(sender.public_key, signing_bytes, signature)
    assert pack_canonical({**header, "ct": ciphertext, "s": signature}) == data

    message = read_message(data, {key.epoch: key})
    assert (message.group, message.epoch, message.seq, message.prev, message.ts) == (
        inputs["group"],
        inputs["epoch"],
        inputs["seq"],
        prev,
        inputs["ts"],
    )
    assert message.sender == sender.peer_id
    assert message.body == body
    assert message.hash.hex() == outputs["hash"]
    if "body_fields" in inputs:
        assert Body.decode(body) == Body(**inputs["body_fields"])
        assert Body(**inputs["body_fields"]).encode() == body
    return data


@pytest.mark.parametrize("vector", FILE["messages"], ids=ids(FILE["messages"]))
def test_message(vector: dict[str, Any]) -> None:
    check_message(vector)


def test_an_opaque_body_is_a_message_but_not_a_body() -> None:
    vector = next(v for v in FILE["messages"] if v["name"] == "opaque_empty_body")
    assert len(bytes.fromhex(vector["outputs"]["ciphertext"])) == 16
    with pytest.raises(MalformedGroupMessage):
        Body.decode(bytes.fromhex(vector["inputs"]["body"]))


# -- the transcript -------------------------------------------------------------------------

TRANSCRIPT = FILE["transcript"]


@pytest.mark.parametrize("vector", TRANSCRIPT["messages"], ids=ids(TRANSCRIPT["messages"]))
def test_transcript_message(vector: dict[str, Any]) -> None:
    assert vector["inputs"]["group"] == TRANSCRIPT["group"]
    key = EPOCHS[vector["inputs"]["epoch"]]
    assert vector["inputs"]["key"] == key.key.hex()
    assert peers(vector["inputs"]["members"]) == key.members
    check_message(vector)


def test_transcript_heads_follow_the_chain() -> None:
    transcript = Transcript(TRANSCRIPT["group"])
    for key in EPOCHS.values():
        transcript.add_key(key)
    assert transcript.head == GENESIS
    for seq, (vector, data) in enumerate(zip(TRANSCRIPT["messages"], ENCODED, strict=True), 1):
        assert vector["inputs"]["seq"] == seq == transcript.next_seq
        assert vector["inputs"]["prev"] == transcript.head.hex()
        body = receive(transcript, data)
        assert body == Body(**vector["inputs"]["body_fields"])
        assert transcript.head.hex() == vector["head"] == vector["outputs"]["hash"]
    # The epoch never goes back, and only the moderator and the epoch's members write.
    epochs = [vector["inputs"]["epoch"] for vector in TRANSCRIPT["messages"]]
    assert epochs == sorted(epochs) and set(epochs) == {1, 2}
    kinds = [vector["inputs"]["body_fields"]["kind"] for vector in TRANSCRIPT["messages"]]
    assert kinds[0] == "question" and kinds[-3:] == ["summary", "end", "moderator"]
    assert set(kinds) == {str(kind) for kind in BodyKind}


@pytest.mark.parametrize(
    "view", TRANSCRIPT["views"], ids=[v["member"] for v in TRANSCRIPT["views"]]
)
def test_what_each_member_can_read(view: dict[str, Any]) -> None:
    transcript = Transcript(TRANSCRIPT["group"])
    for epoch in view["epochs"]:
        transcript.add_key(EPOCHS[epoch])
    member = IDENTITIES[view["member"]].peer_id
    assert all(member in EPOCHS[epoch].members for epoch in view["epochs"])
    for data in ENCODED[: view["reads"]]:
        receive(transcript, data)
    assert transcript.head.hex() == view["head"]
    refused = view.get("refused")
    if refused is None:
        assert view["reads"] == len(ENCODED)
        return
    assert refused["seq"] == view["reads"] + 1
    with pytest.raises(ERROR_OF[refused["error"]]):
        receive(transcript, ENCODED[view["reads"]])
    assert transcript.head.hex() == view["head"]
    # Nor can that member be sent the later epoch's key: it is not among its members.
    later = EPOCHS[max(EPOCHS)]
    assert member not in later.members
    with pytest.raises(ValueError):
        later.seal_for(MODERATOR, member, created_ms=0)


# -- invalid messages -----------------------------------------------------------------------


@pytest.mark.parametrize("vector", FILE["invalid_messages"], ids=ids(FILE["invalid_messages"]))
def test_invalid_message(vector: dict[str, Any]) -> None:
    receiver = vector["receiver"]
    transcript = Transcript(TRANSCRIPT["group"])
    for epoch in receiver["epochs"]:
        transcript.add_key(EPOCHS[epoch])
    for data in ENCODED[: receiver["preceded_by"]]:
        receive(transcript, data)
    head = transcript.head
    with pytest.raises(ERROR_OF[vector["error"]]) as caught:
        receive(transcript, bytes.fromhex(vector["message"]))
    assert caught.value.code == vector["error"]
    # A refused message changes nothing.
    assert transcript.head == head
    assert len(transcript.messages) == receiver["preceded_by"]


def test_a_message_over_the_size_limit_is_malformed() -> None:
    with pytest.raises(MalformedGroupMessage):
        read_message(b"\x00" * (MAX_MESSAGE_SIZE + 1), EPOCHS)
    key = EPOCHS[2]
    with pytest.raises(ValueError):
        write_message(MODERATOR, key, seq=1, prev=GENESIS, body=bytes(MAX_MESSAGE_SIZE), ts=0)


def test_a_ciphertext_shorter_than_its_tag_is_malformed() -> None:
    """groups.md 4.2 step 6: ct holds at least the 16-byte tag; a shorter one is malformed."""
    fields = unpack_strict(ENCODED[-1])
    fields.pop("s")
    fields |= {"seq": len(ENCODED) + 1, "prev": hashlib.sha256(ENCODED[-1]).digest()}
    fields["ct"] = bytes(5)
    data = sign_map(MODERATOR, MESSAGE_CONTEXT, fields)
    transcript = Transcript(TRANSCRIPT["group"])
    for key in EPOCHS.values():
        transcript.add_key(key)
    with pytest.raises(MalformedGroupMessage):
        read_message(data, transcript.keys)


# -- bodies ---------------------------------------------------------------------------------

BODIES = FILE["bodies"]


@pytest.mark.parametrize("vector", BODIES["valid"], ids=ids(BODIES["valid"]))
def test_body(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["encoded"])
    body = Body(**vector["fields"])
    assert body.encode() == data
    assert Body.decode(data) == body
    assert unpack_strict(data) == vector["fields"]
    assert pack_canonical(vector["fields"]) == data


@pytest.mark.parametrize("vector", BODIES["equivalent"], ids=ids(BODIES["equivalent"]))
def test_equivalent_body(vector: dict[str, Any]) -> None:
    same = next(v for v in BODIES["valid"] if v["name"] == vector["same_as"])
    data = bytes.fromhex(vector["encoded"])
    assert data.hex() != same["encoded"]
    assert Body.decode(data) == Body(**same["fields"])
    assert Body.decode(data).encode().hex() == same["encoded"]


@pytest.mark.parametrize("vector", BODIES["invalid"], ids=ids(BODIES["invalid"]))
def test_invalid_body(vector: dict[str, Any]) -> None:
    with pytest.raises(MalformedGroupMessage) as caught:
        Body.decode(bytes.fromhex(vector["encoded"]))
    assert caught.value.code == vector["error"] == "group_malformed"


# -- sync -----------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", FILE["sync"], ids=ids(FILE["sync"]))
def test_sync_answer(vector: dict[str, Any]) -> None:
    """The answer follows groups.md section 8.5, and the asker can keep every message of it
    with the keys it carries alone (what a member that missed messages does)."""
    asker = IDENTITIES[vector["asker"]]
    after, as_of = vector["after"], vector["as_of"]
    # The rule: the messages after `after`, at most 64, up to the first of an epoch without
    # the asker; the keys of their epochs, ascending; more when 64 were allowed of 64.
    window = ENCODED[:as_of][after:][:MAX_SYNC_MESSAGES]
    allowed = []
    for data in window:
        if asker.peer_id not in EPOCHS[unpack_strict(data)["epoch"]].members:
            break
        allowed.append(data)
    assert vector["messages"] == list(range(after + 1, after + 1 + len(allowed)))
    epochs = sorted({unpack_strict(data)["epoch"] for data in allowed})
    assert [key["epoch"] for key in vector["keys"]] == epochs
    assert vector["more"] == (len(allowed) == len(window) == MAX_SYNC_MESSAGES)

    transcript = Transcript(TRANSCRIPT["group"])
    for sealed in vector["keys"]:
        data = bytes.fromhex(sealed["sealed"])
        key = GroupKey.open(asker, data, moderator=MODERATOR.peer_id)
        assert key == EPOCHS[sealed["epoch"]]
        assert data == EPOCHS[sealed["epoch"]].seal_for(
            MODERATOR,
            asker.peer_id,
            created_ms=sealed["created_ms"],
            random_bytes=replaying(
                bytes.fromhex(sealed["ephemeral_secret"]), bytes.fromhex(sealed["nonce"])
            ),
        )
        transcript.add_key(key)
    for data in ENCODED[:after]:
        # What the asker held before: read with the keys it had then.
        transcript.add_key(EPOCHS[unpack_strict(data)["epoch"]])
        receive(transcript, data)
    for data in allowed:
        receive(transcript, data)
    assert len(transcript.messages) == after + len(allowed)


# -- envelopes ------------------------------------------------------------------------------

ENVELOPES = FILE["envelopes"]
REQUESTS = {vector["name"]: vector for vector in ENVELOPES["requests"]}


def endpoint(identity: Identity, **kwargs: Any) -> SmpEndpoint:
    clock = ManualClock(ENVELOPES["now_ms"])
    return SmpEndpoint(identity, clock, ReplayWindow(clock), registry=NODE_MESSAGES, **kwargs)


def check_envelope_bytes(vector: dict[str, Any], signer: Identity) -> Envelope:
    payload = bytes.fromhex(vector["payload"])
    assert bytes.fromhex(vector["frame"]) == encode_frame(payload)
    envelope = decode_envelope(payload)
    assert to_json(envelope.to_wire()) == vector["envelope"]
    assert envelope.signing_bytes().hex() == vector["signing_bytes"]
    assert (envelope.message_type, envelope.kind.value) == (vector["type"], vector["kind"])
    assert envelope.grant is None
    envelope.verify(signer.peer_id)
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
    receiver = IDENTITIES[vector["receiver"]]
    incoming = endpoint(receiver).receive_request(signer.peer_id, bytes.fromhex(vector["payload"]))
    assert vector["type"] == incoming.message.TYPE
    assert to_json(incoming.message.to_body()) == vector["body"]
    assert type(incoming.message).from_body(from_json(vector["body"])) == incoming.message


def test_request_bodies_carry_the_vectors() -> None:
    """The envelopes carry the keys and messages of the other vectors, byte for byte."""
    sealed = {v["name"]: v["outputs"]["sealed"] for v in FILE["sealed_keys"]["valid"]}
    assert REQUESTS["invite"]["body"]["key"]["$bytes"] == sealed["epoch_1_to_bob"]
    assert REQUESTS["key"]["body"]["key"]["$bytes"] == sealed["epoch_2_to_bob"]
    assert REQUESTS["post"]["body"]["message"]["$bytes"] == ENCODED[5].hex()
    assert REQUESTS["turn"]["body"]["prev"]["$bytes"] == TRANSCRIPT["messages"][0]["head"]
    invite = REQUESTS["invite"]["body"]
    assert (
        invite["members"][0]
        == str(MODERATOR.peer_id)
        == REQUESTS["invite"]["envelope"]["b"]["members"][0]
    )
    assert peers(invite["members"]) == EPOCHS[1].members
    responses = {v["name"]: v for v in ENVELOPES["responses"]}
    said = responses["said"]["body"]["message"]["$bytes"]
    assert said == ENCODED[1].hex()
    sync = next(v for v in FILE["sync"] if v["name"] == "bob_after_5")
    assert responses["messages"]["body"]["messages"] == [
        {"$bytes": ENCODED[seq - 1].hex()} for seq in sync["messages"]
    ]
    assert responses["messages"]["body"]["keys"] == [{"$bytes": k["sealed"]} for k in sync["keys"]]


@pytest.mark.parametrize("vector", ENVELOPES["responses"], ids=ids(ENVELOPES["responses"]))
def test_response_envelope(vector: dict[str, Any]) -> None:
    request = REQUESTS[vector["answers"]]
    responder = IDENTITIES[request["receiver"]]
    assert vector["signer"] == request["receiver"]
    check_envelope_bytes(vector, responder)
    requester = endpoint(
        IDENTITIES[request["signer"]],
        random_bytes=lambda size: request["request_id"].to_bytes(size, "big"),
    )
    message = NODE_MESSAGES.lookup(Kind.REQUEST, request["type"])
    outgoing = requester.request(message.from_body(from_json(request["body"])))
    assert outgoing.request_id == request["request_id"]
    payload = bytes.fromhex(vector["payload"])
    if vector["kind"] == "error":
        with pytest.raises(RemoteError) as caught:
            requester.receive_response(responder.peer_id, outgoing, payload)
        assert caught.value.code == vector["body"]["code"]
        assert caught.value.retry_after_ms == vector["body"].get("retry_after_ms")
        return
    answer = requester.receive_response(responder.peer_id, outgoing, payload)
    assert message.RESPONSE is type(answer)
    assert to_json(answer.to_body()) == vector["body"]


def test_every_group_type_has_an_envelope() -> None:
    request_types = {vector["type"] for vector in ENVELOPES["requests"]}
    response_types = {vector["type"] for vector in ENVELOPES["responses"]} - {"error"}
    assert request_types | response_types == {cls.TYPE for cls in GROUP_MESSAGE_TYPES}
    assert len(request_types) == 9
