"""Errors of the node, with the codes that the owner API and the CLI show.

Every failure a person can cause or meet (a bad file, a wrong token, a busy data dir) is a
:class:`NodeError` carrying a stable ``code`` and an HTTP ``status``; the API turns it into a JSON
body ``{"error": {"code", "message"}}`` and the CLI prints the message on one line. Bugs are not
``NodeError``: they surface as 500 with the traceback in the log.

    NodeError
    ├── ConfigError            a setting is missing or wrong (config.toml, flags, environment)
    │   ├── ModelNotFound      a configured model file or folder does not exist
    │   └── SchemaTooNew       the data dir was written by a newer release
    ├── IdentityError          the key file is missing, unreadable, or the passphrase is wrong
    ├── DataDirLocked          another daemon holds this data dir
    ├── NotRunning             no daemon answers for this data dir
    ├── AuthError              the owner token is missing or wrong (401)
    ├── Forbidden              a request from a foreign site or host name, or without CSRF (403)
    ├── NotFound               a named thing (role, document, session) does not exist (404)
    ├── InvalidRequest         a request's fields are malformed (400)
    ├── IngestError            one file could not be ingested; the batch goes on
    │   ├── UnsupportedFormat  the file type has no parser
    │   ├── ParseError         the file is corrupt, binary junk, or empty
    │   └── FileTooLarge       the file exceeds the configured size limit
    ├── PeerUnreachable        a peer could not be dialled or did not answer (502)
    ├── PeerRefused            a peer answered with an SMP error frame (502)
    └── DiskFull               the disk under the data dir is full; nothing was written (507)
"""

from __future__ import annotations

import errno
import sqlite3


class NodeError(Exception):
    """A failure with a message meant for the owner."""

    code = "node_error"
    status = 500
    remote_code: str | None = None
    """For a peer's refusal: the code its node answered (``grant_revoked``, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, dict[str, str]]:
        error = {"code": self.code, "message": self.message}
        if self.remote_code:
            error["remote_code"] = self.remote_code
        return {"error": error}


class ConfigError(NodeError):
    code = "config_error"


class ModelNotFound(ConfigError):
    code = "model_not_found"


class SchemaTooNew(ConfigError):
    code = "schema_too_new"


class IdentityError(NodeError):
    code = "identity_error"


class DataDirLocked(NodeError):
    code = "data_dir_locked"
    status = 409


class NotRunning(NodeError):
    code = "not_running"


class AuthError(NodeError):
    code = "unauthenticated"
    status = 401


class Forbidden(NodeError):
    """Refused whoever asks: a foreign Host or Origin, or a browser request without CSRF."""

    code = "cross_site"
    status = 403


class NotFound(NodeError):
    code = "not_found"
    status = 404


class InvalidRequest(NodeError):
    code = "invalid_request"
    status = 400


class IngestError(NodeError):
    code = "ingest_error"
    status = 422


class UnsupportedFormat(IngestError):
    code = "unsupported_format"
    status = 415


class ParseError(IngestError):
    code = "parse_error"


class FileTooLarge(IngestError):
    code = "file_too_large"
    status = 413


class PeerUnreachable(NodeError):
    """A peer could not be dialled, did not answer in time, or reset the stream."""

    code = "peer_unreachable"
    status = 502


class PeerRefused(NodeError):
    """A peer answered with an SMP error frame; ``remote_code`` is the code it sent (e.g.
    ``grant_revoked``), for scripts to tell refusals apart."""

    code = "peer_refused"
    status = 502

    def __init__(self, message: str, *, remote_code: str | None = None) -> None:
        super().__init__(message)
        self.remote_code = remote_code


class DiskFull(NodeError):
    """A write failed for want of space. SQLite rolled the transaction back and vectors
    written before it are collected as garbage, so what the node held before is intact."""

    code = "disk_full"
    status = 507


_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_FULL_TEXTS = ("No space left on device", "Disk quota exceeded", "database or disk is full")


def disk_full(exc: BaseException) -> DiskFull | None:
    """A :class:`DiskFull` when ``exc`` (or an exception it was raised from) says the disk
    is full: an ``OSError`` with ENOSPC, SQLite's SQLITE_FULL, or a store's message for them."""
    seen: BaseException | None = exc
    while seen is not None:
        full = (
            (isinstance(seen, OSError) and seen.errno in _FULL_ERRNOS)
            or (isinstance(seen, sqlite3.Error) and getattr(seen, "sqlite_errorcode", 0) == 13)
            or any(text in str(seen) for text in _FULL_TEXTS)
        )
        if full:
            return DiskFull(
                "the disk that holds this node's data is full: free some space and try again "
                f"(nothing was written; what the node held before is intact) [{seen}]"
            )
        seen = seen.__cause__ or seen.__context__
    return None


class TrainingError(NodeError):
    """L2 training cannot start or did not finish; the message says why and what to do."""

    code = "training_error"
    status = 422


class TrainingBusy(TrainingError):
    """A training job is running already; the message names it."""

    code = "training_busy"
    status = 409

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id

    def to_json(self) -> dict[str, dict[str, str]]:
        body = super().to_json()
        body["error"]["job_id"] = self.job_id
        return body


class NotEnoughResources(TrainingError):
    """Too little free disk or memory to train; checked before anything starts."""

    code = "not_enough_resources"
    status = 507
