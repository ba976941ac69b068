"""Errors of the node, with the codes that the owner API and the CLI show.

Every failure a person can cause or meet (a bad file, a wrong token, a busy data dir, a model
that was shut down) is a :class:`NodeError` carrying a stable ``code`` and an HTTP ``status``; the
API turns it into a JSON body ``{"error": {"code", "message"}}`` and the CLI prints the message on
one line. The whole tree is here, so that every room raises from one list; the rooms that raise a
class import it from here under its own name (``models.llm.ModelClosed`` is this module's).

    NodeError
    ├── ConfigError              a setting is missing or wrong (config.toml, flags, environment)
    │   ├── ModelNotFound        a configured model file or folder does not exist
    │   └── SchemaTooNew         the data dir was written by a newer release
    ├── IdentityError            the key file is missing, unreadable, or the passphrase is wrong
    ├── DataDirLocked            another daemon holds this data dir (409)
    ├── NotRunning               no daemon answers for this data dir
    ├── AuthError                the owner token is missing or wrong (401)
    ├── Forbidden                a request from a foreign site or host name, or without CSRF (403)
    ├── NotFound                 a named thing (role, document, session) does not exist (404)
    ├── InvalidRequest           a request's fields are malformed (400)
    ├── IngestError              one file could not be ingested; the batch goes on (422)
    │   ├── UnsupportedFormat    the file type has no parser (415)
    │   ├── ParseError           the file is corrupt, binary junk, or empty
    │   └── FileTooLarge         the file exceeds the configured size limit (413)
    ├── VectorStoreError         the vector store cannot serve; the caller decides what to do (503)
    │   ├── DimensionMismatch    the stored vectors have another size; memory rebuilds them
    │   └── StoreLocked          another open store already holds the directory (409)
    ├── ModelError               the chat model cannot serve as asked
    │   ├── ModelClosed          it is not running, or was shut down with the request queued (503)
    │   ├── AdapterLoadFailed    llama.cpp refused an L2 adapter; the model before serves on (422)
    │   └── ModelOutputRejected  its answers failed validation every time; L1 keeps its extract
    ├── PeerUnreachable          a peer could not be dialled or did not answer (502)
    ├── PeerRefused              a peer answered with an SMP error frame (502)
    ├── DiskFull                 the disk under the data dir is full; nothing was written (507)
    ├── TrainingError            L2 training cannot start or did not finish (422)
    │   ├── TrainingBusy         a training job is running already; names it (409)
    │   ├── NotEnoughResources   too little free disk or memory to train (507)
    │   ├── NotEnoughData        memory holds too little of the owner's writing to learn from
    │   ├── TrainerError         a training stage cannot run on what it was given
    │   └── AdapterExportError   the adapter cannot be exported to, or loaded as, a GGUF LoRA
    ├── ApiError                 (cli/client.py) the daemon's error, as the CLI received it
    └── JobFailed                (cli/train.py) a training job the CLI waited for failed

Bugs are not ``NodeError``: they surface as 500 with the traceback in the log. They are
``RuntimeError``/``AssertionError`` at the point where the impossible state is noticed, as
:class:`~secondme.node.memory.vectors.base.StoreClosed` (a vector store used after ``close()``)
and ``Memory.retriever`` before ``Memory.open()``.
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


class VectorStoreError(NodeError):
    """The vector store cannot serve as asked (cannot be opened, refuses a request)."""

    code = "vector_store_error"
    status = 503


class DimensionMismatch(VectorStoreError):
    """The store holds vectors of another size (the embedding model changed): rebuild it."""

    code = "vector_dimension_mismatch"

    def __init__(self, stored: int, wanted: int) -> None:
        super().__init__(f"vector store holds {stored}-dimensional vectors, {wanted} wanted")
        self.stored = stored
        self.wanted = wanted


class StoreLocked(VectorStoreError):
    """Another open store (in this process or another) holds the directory."""

    code = "vector_store_locked"
    status = 409


class ModelError(NodeError):
    """The chat model cannot serve as asked."""

    code = "model_error"


class ModelClosed(ModelError):
    """A generation was requested after :meth:`ChatModel.close`, or was still queued when it
    closed."""

    code = "model_closed"
    status = 503


class AdapterLoadFailed(ModelError):
    """llama.cpp refused an L2 adapter; the model that served before still serves."""

    code = "adapter_load_failed"
    status = 422


class ModelOutputRejected(ModelError):
    """The model's answers failed validation every time; the message says how."""

    code = "model_output_rejected"


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


class NotEnoughData(TrainingError):
    """Memory holds too little of the owner's writing to train on; the message says how much."""

    code = "not_enough_data"


class TrainerError(TrainingError):
    """A stage cannot run on what it was given (no rows, not a model folder, bad row shape)."""

    code = "trainer_error"


class AdapterExportError(TrainingError):
    """The adapter cannot be exported to, or loaded as, a llama.cpp LoRA for this base."""

    code = "adapter_export_error"
