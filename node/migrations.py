"""Numbered schema migrations of ``node.db``; append new ones, never edit an applied one.

Each migration is a name and its statements, applied in one transaction with its number.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "0001_foundation",
        (
            """
            CREATE TABLE documents (
                id           TEXT PRIMARY KEY,
                path         TEXT NOT NULL UNIQUE,
                name         TEXT NOT NULL,
                kind         TEXT NOT NULL,
                title        TEXT,
                content_hash TEXT NOT NULL,
                size         INTEGER NOT NULL,
                tags         TEXT NOT NULL DEFAULT '[]',
                chunk_count  INTEGER NOT NULL,
                ingested_at  REAL NOT NULL
            )
            """,
            """
            CREATE INDEX documents_by_hash ON documents(content_hash)
            """,
            """
            CREATE TABLE chunks (
                id          TEXT PRIMARY KEY,
                doc_id      TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
                idx         INTEGER NOT NULL,
                text        TEXT NOT NULL,
                start       INTEGER NOT NULL,
                end         INTEGER NOT NULL,
                speakers    TEXT NOT NULL DEFAULT '[]',
                time_start  TEXT,
                time_end    TEXT,
                UNIQUE (doc_id, idx)
            )
            """,
            # Point ids that may exist in the vector store without a committed chunk: written
            # before an upsert, and when a chunk is deleted; emptied once the store agrees.
            """
            CREATE TABLE vector_gc (point_id TEXT PRIMARY KEY)
            """,
            """
            CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)
            """,
            """
            CREATE TABLE owner_profile (
                field  TEXT PRIMARY KEY,
                value  TEXT NOT NULL,
                public INTEGER NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE roles (
                name          TEXT PRIMARY KEY,
                description   TEXT NOT NULL DEFAULT '',
                system_prompt TEXT NOT NULL,
                layers        TEXT NOT NULL DEFAULT '["l0"]',
                created_at    REAL NOT NULL
            )
            """,
            """
            CREATE TABLE chat_messages (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                session_id TEXT NOT NULL,
                role       TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
                content    TEXT NOT NULL,
                persona    TEXT,
                created_at REAL NOT NULL
            )
            """,
            """
            CREATE INDEX chat_messages_by_session ON chat_messages(session_id, id)
            """,
        ),
    ),
    (
        "0002_peers",
        (
            """
            CREATE TABLE peers (
                peer_id          TEXT PRIMARY KEY,
                name             TEXT UNIQUE,
                addresses        TEXT NOT NULL DEFAULT '[]',
                display_name     TEXT,
                protocol_version TEXT,
                agent            TEXT,
                public_profile   TEXT NOT NULL DEFAULT '{}',
                latency_ms       REAL,
                last_seen        REAL,
                added_at         REAL NOT NULL
            )
            """,
        ),
    ),
)
