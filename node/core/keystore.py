"""The node's identity key on disk: 0600, optionally sealed with a passphrase.

Format (JSON, versioned so it can grow): ``{"version": 1, "type": "ed25519", "seed": b64}`` in
the clear, or with a passphrase ``{"version": 1, "type": "ed25519", "kdf": "argon2id",
"opslimit", "memlimit", "salt": b64, "sealed": b64}`` where ``sealed`` is the seed in a
XSalsa20-Poly1305 secret box keyed by Argon2id(passphrase, salt). A wrong passphrase fails the
box's MAC, so it is reported as wrong instead of yielding a different key.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from secondme.node.core.config import DataDir
from secondme.node.core.errors import ConfigError, IdentityError
from secondme.node.core.fsutil import write_secret
from secondme.protocol.identity import Identity

PASSPHRASE_ENV = "SECONDME_PASSPHRASE"
_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _kdf(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        passphrase.encode("utf-8"),
        salt,
        opslimit=opslimit,
        memlimit=memlimit,
    )


def save_identity(path: Path, identity: Identity, passphrase: str | None = None) -> None:
    record: dict[str, object] = {"version": 1, "type": "ed25519"}
    if passphrase:
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        key = _kdf(passphrase, salt, _OPSLIMIT, _MEMLIMIT)
        sealed = nacl.secret.SecretBox(key).encrypt(identity.seed)
        record |= {
            "kdf": "argon2id",
            "opslimit": _OPSLIMIT,
            "memlimit": _MEMLIMIT,
            "salt": _b64(salt),
            "sealed": _b64(bytes(sealed)),
        }
    else:
        record["seed"] = _b64(identity.seed)
    write_secret(path, json.dumps(record, indent=2).encode("utf-8") + b"\n")


def is_sealed(path: Path) -> bool:
    return "sealed" in _read_record(path)


def _read_record(path: Path) -> dict:
    try:
        record = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise IdentityError(f"{path}: no identity key; run `secondme-node init`") from None
    except (OSError, ValueError) as exc:
        raise IdentityError(f"{path}: cannot read identity key: {exc}") from exc
    if not isinstance(record, dict) or record.get("type") != "ed25519":
        raise IdentityError(f"{path}: not a secondme identity key")
    return record


def load_identity(path: Path, passphrase: str | None = None) -> Identity:
    """Read the key, asking for the passphrase only if the file is sealed."""
    record = _read_record(path)
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        raise IdentityError(
            f"{path}: key file is readable by others (mode {mode:o}); run `chmod 600 {path}`"
        )
    try:
        if "sealed" not in record:
            return Identity.from_seed(base64.b64decode(record["seed"]))
        if not passphrase:
            raise IdentityError(
                f"{path}: the key is protected by a passphrase; give it with --passphrase-file "
                f"or {PASSPHRASE_ENV}"
            )
        key = _kdf(
            passphrase,
            base64.b64decode(record["salt"]),
            int(record["opslimit"]),
            int(record["memlimit"]),
        )
        seed = nacl.secret.SecretBox(key).decrypt(base64.b64decode(record["sealed"]))
        return Identity.from_seed(seed)
    except nacl.exceptions.CryptoError:
        raise IdentityError(f"{path}: wrong passphrase for the identity key") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise IdentityError(f"{path}: damaged identity key ({exc})") from exc


def read_passphrase(passphrase_file: Path | None) -> str | None:
    """The passphrase from a file (first line) or the environment; ``None`` when neither."""
    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise IdentityError(f"{passphrase_file}: cannot read passphrase file: {exc}") from exc
        return text.splitlines()[0] if text.strip() else None
    return os.environ.get(PASSPHRASE_ENV) or None


def read_token(data_dir: DataDir) -> str:
    """The owner API token that ``init`` wrote: the CLI, MCP and the daemon all read it here."""
    try:
        return data_dir.api_token.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(
            f"{data_dir.api_token}: no owner token; run `secondme-node init`"
        ) from None
