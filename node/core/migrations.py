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
    (
        "0003_l1_memory",
        (
            # The L1 work queue: one row per unit of work, kept across restarts. ``version`` is
            # what the work was queued for (a document's content hash), so a changed document
            # re-queues its job and an unchanged one does not.
            """
            CREATE TABLE l1_jobs (
                kind        TEXT NOT NULL,
                target      TEXT NOT NULL DEFAULT '',
                state       TEXT NOT NULL
                            CHECK (state IN ('pending', 'running', 'done', 'failed')),
                version     TEXT NOT NULL DEFAULT '',
                attempts    INTEGER NOT NULL DEFAULT 0,
                error       TEXT,
                queued_at   REAL NOT NULL,
                started_at  REAL,
                finished_at REAL,
                PRIMARY KEY (kind, target)
            )
            """,
            """
            CREATE TABLE insights (
                doc_id       TEXT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
                content_hash TEXT NOT NULL,
                title        TEXT NOT NULL,
                overview     TEXT NOT NULL,
                key_points   TEXT NOT NULL DEFAULT '[]',
                summary      TEXT NOT NULL,
                method       TEXT NOT NULL,
                sources      TEXT NOT NULL DEFAULT '[]',
                updated_at   REAL NOT NULL
            )
            """,
            """
            CREATE TABLE topics (
                id            TEXT PRIMARY KEY,
                name          TEXT NOT NULL,
                description   TEXT NOT NULL,
                terms         TEXT NOT NULL DEFAULT '[]',
                confidence    REAL NOT NULL,
                method        TEXT NOT NULL,
                named_from    TEXT NOT NULL DEFAULT '[]',
                created_at    REAL NOT NULL,
                updated_at    REAL NOT NULL
            )
            """,
            """
            CREATE TABLE topic_chunks (
                topic_id TEXT NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
                chunk_id TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
                rank     INTEGER NOT NULL,
                PRIMARY KEY (topic_id, chunk_id)
            )
            """,
            """
            CREATE INDEX topic_chunks_by_chunk ON topic_chunks(chunk_id)
            """,
            """
            CREATE TABLE topic_events (
                topic_id TEXT NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
                chunk_id TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
                date     TEXT NOT NULL,
                text     TEXT NOT NULL,
                PRIMARY KEY (topic_id, chunk_id, date)
            )
            """,
            """
            CREATE TABLE profiles (
                version      INTEGER PRIMARY KEY AUTOINCREMENT,
                first_person TEXT NOT NULL,
                third_person TEXT NOT NULL,
                recently     TEXT NOT NULL,
                method       TEXT NOT NULL,
                topics       TEXT NOT NULL DEFAULT '[]',
                sources      TEXT NOT NULL DEFAULT '[]',
                created_at   REAL NOT NULL
            )
            """,
            """
            CREATE TABLE entities (
                id       TEXT PRIMARY KEY,
                key      TEXT NOT NULL UNIQUE,
                name     TEXT NOT NULL,
                kind     TEXT NOT NULL,
                typed_by TEXT NOT NULL,
                context  TEXT NOT NULL DEFAULT ''
            )
            """,
            """
            CREATE TABLE entity_mentions (
                entity_id TEXT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
                chunk_id  TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
                PRIMARY KEY (entity_id, chunk_id)
            )
            """,
            """
            CREATE INDEX entity_mentions_by_chunk ON entity_mentions(chunk_id)
            """,
            """
            CREATE TABLE relations (
                id        INTEGER PRIMARY KEY AUTOINCREMENT,
                source_id TEXT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
                target_id TEXT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
                label     TEXT NOT NULL,
                UNIQUE (source_id, target_id, label)
            )
            """,
            """
            CREATE TABLE relation_evidence (
                relation_id INTEGER NOT NULL REFERENCES relations(id) ON DELETE CASCADE,
                chunk_id    TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
                PRIMARY KEY (relation_id, chunk_id)
            )
            """,
            """
            CREATE INDEX relation_evidence_by_chunk ON relation_evidence(chunk_id)
            """,
            # L1 records that have a vector in the store (layer "l1"), with the text embedded.
            # Like chunks, a point id is in ``vector_gc`` before its upsert and leaves it when
            # its row commits; a record that goes away sends its points back to ``vector_gc``.
            """
            CREATE TABLE l1_points (
                point_id TEXT PRIMARY KEY,
                kind     TEXT NOT NULL CHECK (kind IN ('insight', 'topic', 'entity')),
                ref_id   TEXT NOT NULL,
                text     TEXT NOT NULL,
                tags     TEXT NOT NULL DEFAULT '[]',
                UNIQUE (kind, ref_id)
            )
            """,
        ),
    ),
    (
        "0004_access",
        (
            # Grants this node issued (to a peer, or handed on by delegation). ``id`` is the
            # revocation id of the block that made it: the authority block for a root grant.
            """
            CREATE TABLE grants_issued (
                id            TEXT PRIMARY KEY,
                root_id       TEXT NOT NULL,
                issuer        TEXT NOT NULL,
                peer_id       TEXT NOT NULL,
                token         BLOB NOT NULL,
                abilities     TEXT NOT NULL,
                scope         TEXT NOT NULL,
                expires_ms    INTEGER NOT NULL,
                max_uses      INTEGER,
                rate          TEXT,
                delegable     INTEGER NOT NULL,
                created_ms    INTEGER NOT NULL,
                parent_id     TEXT,
                delivered_ms  INTEGER,
                delivery_error TEXT,
                revoked_ms    INTEGER
            )
            """,
            """
            CREATE INDEX grants_issued_by_root ON grants_issued(root_id)
            """,
            # Grants peers gave this node; ``id`` is the revocation id of this copy's last block.
            """
            CREATE TABLE grants_received (
                id           TEXT PRIMARY KEY,
                root_id      TEXT NOT NULL,
                issuer       TEXT NOT NULL,
                from_peer    TEXT NOT NULL,
                token        BLOB NOT NULL,
                abilities    TEXT NOT NULL,
                scope        TEXT NOT NULL,
                expires_ms   INTEGER NOT NULL,
                delegable    INTEGER NOT NULL,
                received_ms  INTEGER NOT NULL,
                revoked_ms   INTEGER
            )
            """,
            """
            CREATE TABLE revocations (
                revocation_id TEXT PRIMARY KEY,
                root_id       TEXT NOT NULL,
                revoked_ms    INTEGER NOT NULL,
                by_peer       TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE grant_uses (
                root_id      TEXT PRIMARY KEY,
                uses         INTEGER NOT NULL,
                last_used_ms INTEGER NOT NULL
            )
            """,
            """
            CREATE TABLE audit (
                id           INTEGER PRIMARY KEY AUTOINCREMENT,
                at_ms        INTEGER NOT NULL,
                peer_id      TEXT NOT NULL,
                request_type TEXT NOT NULL,
                request_id   TEXT,
                ability      TEXT,
                grant_id     TEXT,
                decision     TEXT NOT NULL CHECK (decision IN ('allowed', 'refused')),
                code         TEXT,
                message      TEXT NOT NULL DEFAULT '',
                shared       TEXT NOT NULL DEFAULT '[]'
            )
            """,
            """
            CREATE INDEX audit_by_peer ON audit(peer_id, at_ms)
            """,
            # Context bundles peers sealed to this node: kept sealed (verifiable later), with
            # the opened items and their embeddings for the owner's chat.
            """
            CREATE TABLE peer_context (
                id          TEXT PRIMARY KEY,
                peer_id     TEXT NOT NULL,
                grant_id    TEXT NOT NULL,
                query       TEXT NOT NULL,
                created_ms  INTEGER NOT NULL,
                received_ms INTEGER NOT NULL,
                bundle      BLOB NOT NULL,
                items       TEXT NOT NULL,
                vectors     BLOB NOT NULL
            )
            """,
        ),
    ),
    (
        "0005_networks",
        (
            # Networks this node created or joined; ``discovery`` is a JSON list of the
            # discovery servers' multiaddrs. A network is never deleted here, only marked.
            """
            CREATE TABLE networks (
                network_id  TEXT PRIMARY KEY,
                name        TEXT NOT NULL,
                owner       TEXT NOT NULL,
                role        TEXT NOT NULL CHECK (role IN ('owner', 'inviter', 'member')),
                discovery   TEXT NOT NULL,
                joined_ms   INTEGER NOT NULL,
                status      TEXT NOT NULL DEFAULT 'active'
                            CHECK (status IN ('active', 'left', 'removed', 'closed')),
                synced_ms   INTEGER,
                sync_error  TEXT
            )
            """,
            # The members as the discovery server last listed them.
            """
            CREATE TABLE network_members (
                network_id TEXT NOT NULL REFERENCES networks(network_id) ON DELETE CASCADE,
                peer_id    TEXT NOT NULL,
                role       TEXT NOT NULL,
                joined_ms  INTEGER NOT NULL,
                PRIMARY KEY (network_id, peer_id)
            )
            """,
            """
            CREATE TABLE invites_issued (
                invite_id   TEXT PRIMARY KEY,
                network_id  TEXT NOT NULL REFERENCES networks(network_id) ON DELETE CASCADE,
                role        TEXT NOT NULL,
                uses        INTEGER NOT NULL,
                expires_ms  INTEGER NOT NULL,
                created_ms  INTEGER NOT NULL,
                revoked_ms  INTEGER
            )
            """,
        ),
    ),
    (
        "0006_groups",
        (
            # Groups this node moderates or was invited to. ``scope`` is what this node's
            # owner lets the group draw on (JSON, as for grants); NULL until accepted.
            """
            CREATE TABLE groups (
                group_id    TEXT PRIMARY KEY,
                name        TEXT NOT NULL,
                topic       TEXT NOT NULL DEFAULT '',
                moderator   TEXT NOT NULL,
                created_ms  INTEGER NOT NULL,
                status      TEXT NOT NULL CHECK (status IN
                            ('invited', 'active', 'declined', 'left', 'removed', 'closed')),
                scope       TEXT,
                grant_id    TEXT
            )
            """,
            # The moderator's roll: who was invited and where each stands.
            """
            CREATE TABLE group_members (
                group_id   TEXT NOT NULL REFERENCES groups(group_id) ON DELETE CASCADE,
                peer_id    TEXT NOT NULL,
                status     TEXT NOT NULL CHECK (status IN
                           ('invited', 'active', 'declined', 'left', 'removed')),
                updated_ms INTEGER NOT NULL,
                PRIMARY KEY (group_id, peer_id)
            )
            """,
            """
            CREATE TABLE group_keys (
                group_id TEXT NOT NULL REFERENCES groups(group_id) ON DELETE CASCADE,
                epoch    INTEGER NOT NULL,
                key      BLOB NOT NULL,
                members  TEXT NOT NULL,
                PRIMARY KEY (group_id, epoch)
            )
            """,
            # The transcript: each message as received (``encoded``, signed and encrypted, so
            # the chain can be checked again) and what it says, decrypted.
            """
            CREATE TABLE group_messages (
                group_id TEXT NOT NULL REFERENCES groups(group_id) ON DELETE CASCADE,
                seq      INTEGER NOT NULL,
                hash     BLOB NOT NULL,
                epoch    INTEGER NOT NULL,
                sender   TEXT NOT NULL,
                ts       INTEGER NOT NULL,
                kind     TEXT NOT NULL,
                body     BLOB NOT NULL,
                encoded  BLOB NOT NULL,
                PRIMARY KEY (group_id, seq)
            )
            """,
        ),
    ),
    (
        "0007_l2",
        (
            # One synthesis of training data; samples belong to exactly one version.
            """
            CREATE TABLE l2_datasets (
                version    INTEGER PRIMARY KEY AUTOINCREMENT,
                created_at REAL NOT NULL,
                job_id     TEXT NOT NULL,
                excluded   TEXT NOT NULL DEFAULT '[]',
                counts     TEXT NOT NULL DEFAULT '{}',
                dropped    TEXT NOT NULL DEFAULT '{}'
            )
            """,
            # ``sources`` are the chunk ids a sample was made from (its provenance).
            """
            CREATE TABLE l2_samples (
                version  INTEGER NOT NULL REFERENCES l2_datasets(version) ON DELETE CASCADE,
                id       TEXT NOT NULL,
                kind     TEXT NOT NULL CHECK (kind IN ('qa', 'context', 'heldout')),
                question TEXT NOT NULL,
                answer   TEXT NOT NULL,
                rejected TEXT,
                context  TEXT,
                fact     TEXT,
                topic    TEXT,
                sources  TEXT NOT NULL,
                method   TEXT NOT NULL,
                PRIMARY KEY (version, id)
            )
            """,
            # A training run and where it stands; ``stage`` is the stage running or last reached.
            """
            CREATE TABLE l2_jobs (
                id          TEXT PRIMARY KEY,
                state       TEXT NOT NULL CHECK (state IN
                            ('running', 'interrupted', 'failed', 'done', 'cancelled')),
                stage       TEXT NOT NULL,
                params      TEXT NOT NULL,
                dataset     INTEGER,
                adapter_id  TEXT,
                stages      TEXT NOT NULL DEFAULT '{}',
                error       TEXT,
                created_at  REAL NOT NULL,
                updated_at  REAL NOT NULL
            )
            """,
            """
            CREATE TABLE l2_adapters (
                id         TEXT PRIMARY KEY,
                base_model TEXT NOT NULL,
                dataset    INTEGER NOT NULL,
                job_id     TEXT NOT NULL,
                path       TEXT NOT NULL,
                bytes      INTEGER NOT NULL,
                metrics    TEXT NOT NULL,
                settings   TEXT NOT NULL,
                created_at REAL NOT NULL
            )
            """,
            # Which adapter serves, as a history: the newest row not undone is in use (NULL
            # adapter = the base model alone); rollback undoes the newest.
            """
            CREATE TABLE l2_active (
                seq        INTEGER PRIMARY KEY AUTOINCREMENT,
                adapter_id TEXT,
                at         REAL NOT NULL,
                undone     INTEGER NOT NULL DEFAULT 0
            )
            """,
        ),
    ),
    (
        "0008_audit_and_adapter_scope",
        (
            # The model that answered an allowed request (``base`` or an adapter id).
            """
            ALTER TABLE audit ADD COLUMN model TEXT
            """,
            # Refusals of one kind from one peer close together share a row: how many, and the
            # time of the last one.
            """
            ALTER TABLE audit ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1
            """,
            """
            ALTER TABLE audit ADD COLUMN last_ms INTEGER
            """,
            """
            CREATE INDEX audit_by_time ON audit(at_ms)
            """,
            # What an adapter was trained on (JSON; see secondme.node.l2.scope). Adapters made
            # before scopes were recorded drew on all of memory, so they serve the owner only.
            """
            ALTER TABLE l2_adapters ADD COLUMN scope TEXT NOT NULL DEFAULT '{"all": true}'
            """,
        ),
    ),
    (
        "0009_group_inbox",
        (
            # Whether this node tells the group's moderator how relevant its memory is to each
            # message (coarsely); off unless its owner turns it on.
            """
            ALTER TABLE groups ADD COLUMN share_relevance INTEGER NOT NULL DEFAULT 0
            """,
            # The moderator's copy of the group/join grant a member joined by: it goes with
            # every request to that member, which checks it again each time.
            """
            ALTER TABLE group_members ADD COLUMN grant_token BLOB
            """,
            # Invitations waiting for the owner, counted per moderator and expired by age.
            """
            CREATE INDEX groups_by_moderator ON groups(moderator, status)
            """,
        ),
    ),
    (
        "0010_l1_sources",
        (
            # Each mention keeps the name as its chunk writes it and the sentence it is met in;
            # an entity shows its mentions' (so a forgotten chunk takes its sentence along).
            """
            ALTER TABLE entity_mentions ADD COLUMN name TEXT NOT NULL DEFAULT ''
            """,
            """
            ALTER TABLE entity_mentions ADD COLUMN context TEXT NOT NULL DEFAULT ''
            """,
            # Entities made before kept the sentence of whichever document named them first, and
            # profiles and topic names did not list every source: all are made again (the
            # document jobs run again; an unchanged insight is kept). Their search points go
            # at the next start (vector_gc), so none of their old text is found meanwhile.
            """
            INSERT OR IGNORE INTO vector_gc (point_id)
            SELECT point_id FROM l1_points WHERE kind IN ('entity', 'topic')
            """,
            """
            DELETE FROM l1_points WHERE kind IN ('entity', 'topic')
            """,
            """
            DELETE FROM relation_evidence
            """,
            """
            DELETE FROM relations
            """,
            """
            DELETE FROM entity_mentions
            """,
            """
            DELETE FROM entities
            """,
            """
            DELETE FROM profiles
            """,
            """
            UPDATE topics SET method = 'stale', named_from = '[]'
            """,
            """
            UPDATE l1_jobs SET state = 'pending', attempts = 0, error = NULL
            WHERE kind = 'document'
            """,
        ),
    ),
    (
        "0011_group_delivery",
        (
            # The moderator's outbox, one row per member: how far the member confirmed holding
            # the transcript, and when to try again after a failed delivery. The messages are
            # the transcript itself; nothing is copied.
            """
            CREATE TABLE group_delivery (
                group_id TEXT NOT NULL,
                peer_id TEXT NOT NULL,
                acked_seq INTEGER NOT NULL DEFAULT 0,
                failures INTEGER NOT NULL DEFAULT 0,
                failing_since_ms INTEGER,
                next_try_ms INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                last_ok_ms INTEGER,
                end_reason TEXT,
                PRIMARY KEY (group_id, peer_id)
            )
            """,
        ),
    ),
    (
        "0012_memory_time",
        (
            # When each chunk happened and where that time came from (message, text, document,
            # file), the dates written in it resolved, and the chat turns it covers. Documents
            # keep their own date, the file time the client sent, and the ingest pipeline that
            # made their chunks, so that chunks of an older pipeline are made again.
            "ALTER TABLE chunks ADD COLUMN time_source TEXT",
            "ALTER TABLE chunks ADD COLUMN dates TEXT NOT NULL DEFAULT '[]'",
            "ALTER TABLE chunks ADD COLUMN session TEXT",
            "ALTER TABLE chunks ADD COLUMN turn_first INTEGER",
            "ALTER TABLE chunks ADD COLUMN turn_last INTEGER",
            "ALTER TABLE documents ADD COLUMN date TEXT",
            "ALTER TABLE documents ADD COLUMN mtime REAL",
            "ALTER TABLE documents ADD COLUMN pipeline INTEGER NOT NULL DEFAULT 0",
        ),
    ),
    (
        "0013_facts",
        (
            # What each sentence states about its speaker (or the people they name), tied to its
            # chunk and document: forgetting either deletes the statement. How long each fact
            # held is not stored but replayed from the statements on every read.
            """
            CREATE TABLE facts (
                id          TEXT PRIMARY KEY,
                subject     TEXT NOT NULL,
                subject_key TEXT NOT NULL,
                predicate   TEXT NOT NULL,
                object      TEXT NOT NULL,
                object_key  TEXT NOT NULL,
                negated     INTEGER NOT NULL DEFAULT 0,
                sentence    TEXT NOT NULL,
                valid_from  TEXT,
                chunk_id    TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
                doc_id      TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
                position    INTEGER NOT NULL DEFAULT 0,
                method      TEXT NOT NULL DEFAULT 'rule',
                created_at  REAL NOT NULL
            )
            """,
            "CREATE INDEX facts_by_subject ON facts(subject_key, predicate)",
            "CREATE INDEX facts_by_chunk ON facts(chunk_id)",
            "CREATE INDEX facts_by_doc ON facts(doc_id)",
            # Documents read before facts existed are read again (an unchanged insight is kept).
            """
            UPDATE l1_jobs SET state = 'pending', attempts = 0, error = NULL
            WHERE kind = 'document'
            """,
        ),
    ),
    (
        "0014_imports",
        (
            # An imported conversation, email or note is known by its source key across exports
            # (a newer WhatsApp export of the same chat finds the same document); a document
            # made from a plain file has none. ``me`` is the speaker the owner is in it.
            "ALTER TABLE documents ADD COLUMN source_key TEXT",
            "ALTER TABLE documents ADD COLUMN me TEXT",
            # The notes a note links to ([[wikilinks]]), JSON: relations in L1.
            "ALTER TABLE documents ADD COLUMN links TEXT NOT NULL DEFAULT '[]'",
            "CREATE UNIQUE INDEX documents_by_source ON documents(source_key)",
            # Seconds into a recording where a chunk starts (voice notes), for citations.
            "ALTER TABLE chunks ADD COLUMN at REAL",
            # Recordings transcribed in the background: the file waits in the data dir until
            # its transcript is in memory; a restart picks up where the queue was.
            """
            CREATE TABLE transcriptions (
                id         TEXT PRIMARY KEY,
                path       TEXT NOT NULL,
                file       TEXT NOT NULL,
                content_hash TEXT NOT NULL,
                tags       TEXT NOT NULL DEFAULT '[]',
                mtime      REAL,
                me         TEXT,
                seconds    REAL,
                state      TEXT NOT NULL DEFAULT 'pending',
                error      TEXT,
                created_at REAL NOT NULL
            )
            """,
            # Each imported message's stable id, so a newer export adds only what is new.
            """
            CREATE TABLE document_messages (
                doc_id   TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
                msg_id   TEXT NOT NULL,
                chunk_id TEXT REFERENCES chunks(id) ON DELETE SET NULL,
                PRIMARY KEY (doc_id, msg_id)
            )
            """,
        ),
    ),
)
