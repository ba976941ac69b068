"""Errors of the discovery package: the server's own failures and its client's.

    DiscoveryError                      (code)
    ├── KeyFileError                    key_file
    │       the server's key file cannot be created or read, others may read it, or it holds
    │       no key: the server does not start
    ├── StoreError                      store_unavailable
    │       the store cannot be opened or used (a bad path or URL, a database that is down)
    ├── DiscoveryUnavailable            discovery_unavailable
    │       no discovery server of a network's list answered (the client)
    └── DiscoveryRefused                the code the server sent
            a server answered with an error frame: ``code`` and ``message`` as sent (the client)

What a server refuses a *peer* for is not here: those refusals are wire errors, the
``RemoteProtocolError`` subclasses in :mod:`secondme.protocol.discovery` (drawn in
:mod:`secondme.protocol.errors`), which the server answers as error frames and a client meets
as :class:`DiscoveryRefused`. Each class carries a ``code``, none of them a wire code.
"""

from __future__ import annotations


class DiscoveryError(Exception):
    code = "discovery_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyFileError(DiscoveryError):
    code = "key_file"


class StoreError(DiscoveryError):
    """The store cannot be opened or used (a bad path or URL, a database that is down)."""

    code = "store_unavailable"


class DiscoveryUnavailable(DiscoveryError):
    """No discovery server of the list answered."""

    code = "discovery_unavailable"


class DiscoveryRefused(DiscoveryError):
    """A discovery server answered with an error frame: ``code`` and its message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __str__(self) -> str:
        return f"{self.message} ({self.code})"
