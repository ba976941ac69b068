import json
import os

import base58
import nacl.exceptions
import pytest

from secondme.node.core.errors import IdentityError
from secondme.node.core.keystore import is_sealed, load_identity, read_passphrase, save_identity
from secondme.protocol.identity import Identity, InvalidPeerId, PeerId, verify

# From the libp2p peer-ids spec's Ed25519 key vectors: the private key protobuf holds the
# 32-byte seed followed by the public key.
SPEC_SEED = bytes.fromhex("7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d")
SPEC_PUBLIC = bytes.fromhex("1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e")
SPEC_PUBLIC_PROTOBUF = bytes.fromhex(
    "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
)


def test_seed_gives_the_spec_public_key():
    assert Identity.from_seed(SPEC_SEED).public_key == SPEC_PUBLIC


def test_peer_id_is_identity_multihash_of_protobuf_key():
    peer = Identity.from_seed(SPEC_SEED).peer_id
    assert peer.multihash == bytes([0x00, 36]) + SPEC_PUBLIC_PROTOBUF
    assert str(peer).startswith("12D3KooW")
    assert base58.b58decode(str(peer)) == peer.multihash


def test_peer_id_round_trips_through_text():
    identity = Identity.generate()
    parsed = PeerId.from_base58(str(identity.peer_id))
    assert parsed == identity.peer_id
    assert parsed.public_key() == identity.public_key


@pytest.mark.parametrize(
    "text", ["", "not-base58-0OIl", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"]
)
def test_bad_peer_ids_are_refused(text):
    with pytest.raises(InvalidPeerId):
        PeerId.from_base58(text)


def test_signatures_verify_and_forgeries_raise():
    identity = Identity.generate()
    signature = identity.sign(b"hello")
    verify(identity.public_key, b"hello", signature)
    with pytest.raises(nacl.exceptions.BadSignatureError):
        verify(identity.public_key, b"hellO", signature)


def test_key_file_is_private_and_round_trips(tmp_path):
    path = tmp_path / "identity.key"
    identity = Identity.generate()
    save_identity(path, identity)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_identity(path).seed == identity.seed
    assert not is_sealed(path)


def test_passphrase_seals_the_key(tmp_path):
    path = tmp_path / "identity.key"
    identity = Identity.generate()
    save_identity(path, identity, "correct horse")
    assert is_sealed(path)
    assert identity.seed.hex() not in path.read_text()
    assert load_identity(path, "correct horse").seed == identity.seed
    with pytest.raises(IdentityError, match="wrong passphrase"):
        load_identity(path, "wrong horse")
    with pytest.raises(IdentityError, match="passphrase"):
        load_identity(path)


def test_world_readable_key_is_refused(tmp_path):
    path = tmp_path / "identity.key"
    save_identity(path, Identity.generate())
    os.chmod(path, 0o644)
    with pytest.raises(IdentityError, match="chmod 600"):
        load_identity(path)


def test_damaged_key_file_is_reported(tmp_path):
    path = tmp_path / "identity.key"
    save_identity(path, Identity.generate())
    record = json.loads(path.read_text())
    record["seed"] = "AAAA"
    path.write_text(json.dumps(record))
    with pytest.raises(IdentityError, match="damaged"):
        load_identity(path)


def test_passphrase_from_file_or_environment(tmp_path, monkeypatch):
    secret = tmp_path / "pass"
    secret.write_text("from file\nignored\n")
    assert read_passphrase(secret) == "from file"
    monkeypatch.setenv("SECONDME_PASSPHRASE", "from env")
    assert read_passphrase(None) == "from env"
