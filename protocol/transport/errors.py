"""Errors of the libp2p transport: what can go wrong between two hosts, and whose fault it is.

The node sees only these (and the framing errors of :mod:`secondme.protocol.errors`); py-libp2p
and trio exceptions are translated where they cross into this package's API (``raise ... from
exc``, so the original stays readable in a traceback)::

    SmpError                            (secondme.protocol.errors)
    ├── RemoteProtocolError
    │   ├── FrameTooLarge               a response frame above ``max_frame``
    │   └── MalformedFrame              a response that is not exactly one frame (truncated, ...)
    └── TransportError
        ├── ListenFailed                a listen address could not be bound (or is taken)
        ├── DialFailed                  no known address of the peer gave an authenticated
        │   │                           connection within the dial timeout (refused, unreachable,
        │   │                           handshake failed, no address known)
        │   └── PeerIdMismatch          the remote authenticated (Noise) as another key than the
        │                               /p2p/ id we dialled: never retried
        ├── ProtocolRefused             the peer is up but does not speak /secondme/smp/1.0.0
        ├── StreamReset                 the peer reset the stream or the connection dropped
        │                               mid-request (refused as over its limits, handler failed,
        │                               our frame was invalid, it shut down)
        ├── RequestTimeout              no whole response within the request timeout
        └── HostClosed                  the host is closed, or closed while the call was running

    HostStateError (RuntimeError)       misuse, a bug in the caller: start() twice, a request
                                        before start(), the host used from another event loop

Runtime failures are ``TransportError`` so that a caller can catch one type and decide to retry
or give up on the peer; misuse is a ``RuntimeError`` so that it is not caught by accident.
"""

from __future__ import annotations

from secondme.protocol.errors import TransportError


class ListenFailed(TransportError):
    code = "listen_failed"


class DialFailed(TransportError):
    code = "dial_failed"


class PeerIdMismatch(DialFailed):
    code = "peer_id_mismatch"


class ProtocolRefused(TransportError):
    code = "protocol_refused"


class StreamReset(TransportError):
    code = "stream_reset"


class RequestTimeout(TransportError):
    code = "timeout"


class HostClosed(TransportError):
    code = "host_closed"


class HostStateError(RuntimeError):
    """The host was used in a way its life cycle does not allow (a bug in the caller)."""
