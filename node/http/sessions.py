"""Browser sessions of the owner, begun by one-time login tickets.

The owner token never travels in a URL: ``secondme-node open`` asks the API (with the token) for a
ticket, a random string good for one use within :data:`TICKET_TTL_S`; the browser trades it at
``/login`` for a session cookie and a CSRF token. Both live in this process only, so a restart
logs every browser out, and nothing of them reaches the disk. Pure state: the clock is passed in.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

TICKET_TTL_S = 120.0
SESSION_IDLE_TTL_S = 12 * 3600.0
MAX_SESSIONS = 32


@dataclass
class BrowserSession:
    session_id: str
    csrf_token: str
    created_at: float
    last_seen: float

    def csrf_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.csrf_token.encode())


class SessionStore:
    """Tickets waiting to be used and the sessions they began; oldest sessions go first."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        ticket_ttl_s: float = TICKET_TTL_S,
        idle_ttl_s: float = SESSION_IDLE_TTL_S,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self._clock = clock
        self._ticket_ttl_s = ticket_ttl_s
        self._idle_ttl_s = idle_ttl_s
        self._max_sessions = max_sessions
        self._tickets: dict[str, float] = {}
        self._sessions: dict[str, BrowserSession] = {}

    def issue_ticket(self) -> str:
        now = self._clock()
        self._tickets = {t: at for t, at in self._tickets.items() if now - at < self._ticket_ttl_s}
        ticket = secrets.token_urlsafe(32)
        self._tickets[ticket] = now
        return ticket

    def redeem(self, ticket: str) -> BrowserSession | None:
        """A new session for a fresh, unused ticket; ``None`` for any other string."""
        issued = self._tickets.pop(ticket, None)
        now = self._clock()
        if issued is None or now - issued >= self._ticket_ttl_s:
            return None
        session = BrowserSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        self._sessions[session.session_id] = session
        while len(self._sessions) > self._max_sessions:
            oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
            del self._sessions[oldest.session_id]
        return session

    def get(self, session_id: str) -> BrowserSession | None:
        """The live session for a cookie's value, its idle clock restarted; else ``None``."""
        session = self._sessions.get(session_id)
        now = self._clock()
        if session is None:
            return None
        if now - session.last_seen >= self._idle_ttl_s:
            del self._sessions[session_id]
            return None
        session.last_seen = now
        return session

    def end(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)
