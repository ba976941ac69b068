"""Errors of the Second Me Protocol, split by whose fault they are.

    SmpError
    ├── RemoteProtocolError     the peer's input is refused; answer with an error frame
    │   │                       carrying ``code`` (and ``request_id`` when it could be read),
    │   │                       then keep serving
    │   ├── FrameTooLarge       a length prefix above the maximum frame size
    │   ├── MalformedFrame      bytes that do not decode to a valid envelope or message body
    │   ├── UnsupportedVersion  a protocol version this node does not speak
    │   ├── UnknownMessageType  a message type this node does not know
    │   ├── InvalidSignature    an envelope not signed by the peer of the session
    │   ├── UnexpectedMessage   a valid message in the wrong place (a response where a request
    │   │                       belongs, an answer to another request id, the wrong answer type)
    │   ├── ReplayedMessage     a (peer, nonce) pair seen inside the replay window
    │   ├── StaleMessage        a timestamp outside the allowed clock skew
    │   ├── RateLimited         this peer sent more than its share; ``retry_after_ms`` says when
    │   ├── Busy                this node tracks all the peers it can; ``retry_after_ms`` too
    │   └── InternalFailure     this side failed to answer (a bug, a crashed model or store)
    ├── RemoteError             the peer answered our request with an error frame: its ``code``,
    │                           ``message`` and ``retry_after_ms``, as sent
    ├── LocalProtocolError      this node tried something the protocol forbids (a bug here)
    └── TransportError          the connection failed: dial error, reset, timeout, closed host

Each error carries a stable ``code``, the string that error frames and the CLI show; the codes a
node may send are the registry in :mod:`secondme.protocol.messages` (``ErrorCode``).
"""

from __future__ import annotations


class SmpError(Exception):
    code = "smp_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RemoteProtocolError(SmpError):
    """The peer sent something this node refuses.

    ``request_id`` is the id of the refused request once the envelope was read far enough to
    know it, so the error frame can name the request it answers; ``None`` before that.
    """

    code = "protocol_error"

    def __init__(self, message: str, *, request_id: int | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.message_type: str | None = None
        """The refused request's type, once its envelope was read (for logs and audits)."""


class FrameTooLarge(RemoteProtocolError):
    code = "frame_too_large"


class MalformedFrame(RemoteProtocolError):
    code = "malformed"


class UnsupportedVersion(RemoteProtocolError):
    code = "unsupported_version"


class UnknownMessageType(RemoteProtocolError):
    code = "unknown_type"


class InvalidSignature(RemoteProtocolError):
    code = "bad_signature"


class UnexpectedMessage(RemoteProtocolError):
    code = "unexpected_message"


class ReplayedMessage(RemoteProtocolError):
    code = "replayed"


class StaleMessage(RemoteProtocolError):
    code = "stale"


class RateLimited(RemoteProtocolError):
    """Too many requests from one peer; it may try again after ``retry_after_ms``."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_ms: int, request_id: int | None = None) -> None:
        super().__init__(message, request_id=request_id)
        self.retry_after_ms = retry_after_ms


class Busy(RemoteProtocolError):
    """This node's tables are full (of other peers too); try again after ``retry_after_ms``."""

    code = "busy"

    def __init__(self, message: str, *, retry_after_ms: int, request_id: int | None = None) -> None:
        super().__init__(message, request_id=request_id)
        self.retry_after_ms = retry_after_ms


class InternalFailure(RemoteProtocolError):
    """This side failed to answer, through no fault of the peer's: ``internal`` on the wire."""

    code = "internal"


class RemoteError(SmpError):
    """The peer answered with an error frame; ``code`` is the peer's, which may be one this
    node's registry does not know (a newer peer), so it is kept as the string it sent."""

    def __init__(self, code: str, message: str, *, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_ms = retry_after_ms

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class LocalProtocolError(SmpError):
    code = "local_protocol_error"


class TransportError(SmpError):
    code = "transport_error"
