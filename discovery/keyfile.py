"""The discovery server's identity: an Ed25519 seed in a file only its user can read.

The peer ID made from it is part of every invite token naming this server, so it must outlive
restarts; the file is created once (mode 0600, never overwritten) and refused if others can
read it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from secondme.discovery.errors import KeyFileError
from secondme.protocol.identity import Identity

SEED_SIZE = 32


def load_or_create(path: Path) -> tuple[Identity, bool]:
    """The identity in ``path``, creating the file if it does not exist; (identity, created)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _load(path), False
    except OSError as exc:
        raise KeyFileError(f"cannot create the key file {path}: {exc.strerror}") from None
    identity = Identity.generate()
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(identity.seed)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise KeyFileError(f"cannot write the key file {path}: {exc.strerror}") from None
    return identity, True


def _load(path: Path) -> Identity:
    try:
        mode = path.stat().st_mode
        seed = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the key file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path} is readable by others; run: chmod 600 {path}")
    if len(seed) != SEED_SIZE:
        raise KeyFileError(f"{path} is not a discovery key ({len(seed)} bytes, not {SEED_SIZE})")
    return Identity.from_seed(seed)
