"""``init``: make a node's data dir: identity key, owner token, config, database, profile."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from secondme.node.core.config import DataDir, NodeConfig, save_config
from secondme.node.core.db import Database
from secondme.node.core.errors import ConfigError
from secondme.node.core.fsutil import write_secret
from secondme.node.core.keystore import save_identity
from secondme.node.people.owner import OwnerStore
from secondme.protocol.identity import Identity


@dataclass(frozen=True, slots=True)
class InitResult:
    data_dir: DataDir
    identity: Identity
    created: bool


def init_node(
    data_dir: DataDir,
    config: NodeConfig,
    *,
    passphrase: str | None = None,
    owner_fields: dict[str, str] | None = None,
    public_fields: tuple[str, ...] = (),
) -> InitResult:
    """Create everything a node needs; refuses to touch a data dir that already has a node."""
    root = data_dir.root
    if data_dir.identity_key.exists():
        raise ConfigError(f"{root} already holds a node; use another --data-dir to make a new one")
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists and is not a directory")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    root.chmod(0o700)  # memory, keys and tokens live here: the owner's eyes only
    data_dir.logs.mkdir(exist_ok=True)
    identity = Identity.generate()
    save_config(data_dir.config, config.validate())
    write_secret(data_dir.api_token, (secrets.token_urlsafe(32) + "\n").encode())
    db = Database(data_dir.database)
    try:
        OwnerStore(db).update(owner_fields or {}, {name: True for name in public_fields})
    finally:
        db.close()
    save_identity(data_dir.identity_key, identity, passphrase)  # last: marks init complete
    return InitResult(data_dir, identity, created=True)
