"""Discovery stores on real databases: a SQLite file in tmp_path, or a fresh database on a
throwaway PostgreSQL server started once per session (see :mod:`tests.postgres_server`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from secondme.discovery.store.base import DiscoveryStore
from secondme.discovery.store.postgres import PostgresStore
from secondme.discovery.store.sqlite import SqliteStore
from tests.postgres_server import PostgresServer, PostgresUnavailable

BACKENDS = ["sqlite", "postgres"]

StoreFactory = Callable[[], DiscoveryStore]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session, started only if a test asks for it.

    Without PostgreSQL binaries the PostgreSQL tests skip, unless ``SECONDME_REQUIRE_POSTGRES``
    is set (CI sets it, so that a missing server fails rather than skips).
    """
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        if os.environ.get("SECONDME_REQUIRE_POSTGRES"):
            raise
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A new, empty database on the session's server: tests never see each other's rows."""
    return postgres_server.fresh_database()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_factory(backend: str, request: pytest.FixtureRequest, tmp_path) -> Iterator[StoreFactory]:
    """Opens another store on this test's database each call (a second server, or a restart);
    every store opened is closed after the test."""
    if backend == "sqlite":
        path = tmp_path / "discovery.sqlite"

        def open_store() -> DiscoveryStore:
            return SqliteStore(path)
    else:
        url = request.getfixturevalue("postgres_url")

        def open_store() -> DiscoveryStore:
            return PostgresStore(url)

    opened: list[DiscoveryStore] = []

    def factory() -> DiscoveryStore:
        store = open_store()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> DiscoveryStore:
    return store_factory()
