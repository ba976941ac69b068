"""Errors of the Second Me Protocol, split by whose fault they are.

This module defines the roots and the errors of the envelope layer; each message family defines
its refusals beside its messages (the module in brackets). The whole tree, with the code each
error frame carries:

    SmpError
    ├── RemoteProtocolError     the peer's input is refused; answer with an error frame
    │   │                       carrying ``code`` (and ``request_id`` when it could be read),
    │   │                       then keep serving                             protocol_error
    │   ├── FrameTooLarge       a length prefix above the maximum frame size  frame_too_large
    │   ├── MalformedFrame      bytes that do not decode to a valid envelope
    │   │   │                   or message body                               malformed
    │   │   ├── InviteMalformed      an invite token that does not read       invite_malformed
    │   │   │                        [invites]
    │   │   └── RecordInvalid        a peer record that does not read, or is
    │   │                            not the sender's [records]               record_invalid
    │   ├── UnsupportedVersion  a protocol version this node does not speak   unsupported_version
    │   ├── UnknownMessageType  a message type this node does not know        unknown_type
    │   ├── InvalidSignature    an envelope not signed by the session's peer  bad_signature
    │   ├── UnexpectedMessage   a valid message in the wrong place (a response where a request
    │   │                       belongs, an answer to another request id)     unexpected_message
    │   ├── ReplayedMessage     a (peer, nonce) pair seen inside the window   replayed
    │   ├── StaleMessage        a timestamp outside the allowed clock skew    stale
    │   ├── RateLimited         this peer sent more than its share;
    │   │                       ``retry_after_ms`` says when                  rate_limited
    │   ├── Busy                this node has no room for the work now (its peer tables or
    │   │   │                   buffers are full); ``retry_after_ms`` too     busy
    │   │   └── AuthorizerBusy  a grant's Datalog checks ran out of their time (also a
    │   │                       GrantError) [grants]                          busy
    │   ├── InternalFailure     this side failed to answer (a bug, a crashed
    │   │                       model or store)                               internal
    │   ├── GrantError          the grant does not allow the request, for a reason no code
    │   │   │                   below names [grants]                          unauthorized
    │   │   ├── NoGrant, GrantMalformed, GrantForged, RevokedGrant, GrantWidened,
    │   │   │   WrongAudience, UnknownAbility, AbilityNotGranted, GrantExpired, GrantUsedUp,
    │   │   │   GrantRateLimited, OutOfScope       drawn with their codes in grants/errors.py
    │   │   └── AuthorizerBusy  (above)
    │   ├── InviteForged        an invite not signed by its issuer, or one the issuer may not
    │   │                       issue [invites]                               invite_forged
    │   ├── InviteExpired, InviteSpent, InviteRevoked, UnknownNetwork, NetworkExists,
    │   │   NotMember, NotOwner, Forbidden, NoRecord, RecordStale, TtlOutOfRange,
    │   │   LimitReached        a discovery server's refusals [discovery]     their codes there
    │   ├── UnknownGroup, NotModerator, GroupClosed, InboxFull, QuotaExceeded
    │   │                       a group's refusals [group_messages]           their codes there
    │   └── GroupMessageError   a group message or key refused [groups]       group_invalid
    │       └── MalformedGroupMessage, ForgedGroupMessage, NotGroupMember, UnknownEpoch,
    │           OutOfOrder, Undecryptable                                     group_* codes
    ├── RemoteError             the peer answered our request with an error frame: its ``code``,
    │                           ``message`` and ``retry_after_ms``, as sent
    ├── BundleError             bytes that are not a sealed bundle this identity can open
    │   │                       [sealed]                                      bundle_error
    │   └── MalformedBundle, UnsupportedBundleVersion, WrongRecipient, UnexpectedSender,
    │       BadBundleSignature, UndecryptableBundle                           their codes there
    ├── LocalProtocolError      this node tried something the protocol forbids (a bug here)
    │   │                                                                     local_protocol_error
    │   └── ImpossibleTransition     a move a life cycle's table does not have
    │                                [lifecycle]                              impossible_transition
    └── TransportError          the connection failed: dial error, reset, timeout, closed host;
                                its subtree is drawn in transport/errors.py   transport_error

Each error carries a stable ``code``, the string that error frames and the CLI show; the codes a
node may send are the registry in :mod:`secondme.protocol.messages` (``ErrorCode``). A code has
one meaning: where two classes share one (``busy``), one is a kind of the other.

Not in the tree, by design (as httpx keeps misuse apart): building a bad value locally is the
caller's bug and raises ``ValueError`` (:class:`~secondme.protocol.fields.InvalidField`,
:class:`~secondme.protocol.identity.InvalidPeerId`, plain ``ValueError`` from constructors) or
``TypeError``; a peer's bytes that fail the same checks are turned into the tree's errors where
they are read (``MalformedFrame``, ``GrantMalformed``, ...). ``signed.BadSignature`` and
``transport.streamio.NoFirstByte`` never leave the module that reads them; ``HostStateError``
(a ``RuntimeError``) is misuse of the host.
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
    """This node has no room for the work now: its tables or buffers are full (of other peers
    too), or a check ran out of its time. Not the requester's fault; try again after
    ``retry_after_ms``."""

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
