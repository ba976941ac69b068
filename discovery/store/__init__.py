"""Where a discovery server keeps networks, memberships, invite uses and peer records.

:func:`open_store` picks the backend from the ``--db`` value: a file path is SQLite (the
default, one server), a ``postgresql://`` URL is PostgreSQL (several servers, one network).
"""

from __future__ import annotations

from secondme.discovery.errors import StoreError
from secondme.discovery.store.base import DiscoveryStore, MemberRow, NetworkRow


def open_store(target: str) -> DiscoveryStore:
    """The store ``target`` names; raises :class:`StoreError` when it cannot be opened."""
    if target.startswith(("postgresql://", "postgres://")):
        from secondme.discovery.store.postgres import PostgresStore

        return PostgresStore(target)
    from secondme.discovery.store.sqlite import SqliteStore

    return SqliteStore(target)


__all__ = ["DiscoveryStore", "MemberRow", "NetworkRow", "StoreError", "open_store"]
