"""Conversation history per session id, in SQLite, so a chat survives a restart."""

from __future__ import annotations

import time

from secondme.node.core.db import Database


class ChatHistory:
    def __init__(self, db: Database) -> None:
        self._db = db

    def messages(self, session_id: str, *, limit: int = 50) -> list[dict[str, str]]:
        """The newest ``limit`` turns of a session, oldest first."""
        rows = self._db.query(
            "SELECT role, content FROM chat_messages WHERE session_id = ? ORDER BY id DESC LIMIT ?",
            (session_id, limit),
        )
        return [{"role": r["role"], "content": r["content"]} for r in reversed(rows)]

    def append_exchange(
        self, session_id: str, question: str, answer: str, persona: str | None
    ) -> None:
        now = time.time()
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO chat_messages (session_id, role, content, persona, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (session_id, "user", question, persona, now),
                    (session_id, "assistant", answer, persona, now),
                ],
            )

    def sessions(self) -> list[dict]:
        rows = self._db.query(
            "SELECT session_id, COUNT(*) AS messages, MIN(created_at) AS started, "
            "MAX(created_at) AS updated FROM chat_messages GROUP BY session_id "
            "ORDER BY updated DESC"
        )
        return [dict(r) for r in rows]

    def clear(self, session_id: str) -> int:
        with self._db.transaction() as conn:
            return conn.execute(
                "DELETE FROM chat_messages WHERE session_id = ?", (session_id,)
            ).rowcount
