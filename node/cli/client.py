"""A client of the owner API, used by the CLI (and usable from scripts).

It finds the daemon of a data dir through ``daemon.json`` and authenticates with the token in
``api.token``; server errors come back as :class:`ApiError` with the server's message. Paths
that hold a value from a person or a program (a peer, a group, an id) are built with
:func:`api_path`, so that no value can reach another route than the one it was given for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from secondme.node.core.config import DataDir
from secondme.node.core.errors import InvalidRequest, NodeError, NotRunning
from secondme.node.core.keystore import read_token
from secondme.node.people.naming import check_peer_ref

DOT_SEGMENTS = ("", ".", "..")


def api_path(*segments: str) -> str:
    """``/api/`` and ``segments``, each quoted whole (``/``, ``?``, ``#`` and ``%`` included).

    A segment is one path step and never more: ``../stop?`` stays inside its segment, and the
    dot segments (and an empty one), which HTTP clients and servers resolve against the path
    before them, are refused instead of quoted."""
    for segment in segments:
        if segment in DOT_SEGMENTS:
            raise InvalidRequest(f"{segment!r} cannot name anything here")
    return "/api/" + "/".join(quote(segment, safe="") for segment in segments)


def peer_path(peer: str, *rest: str) -> str:
    """``/api/peers/{peer}/...`` for a peer ID or name (:func:`check_peer_ref`)."""
    return api_path("peers", check_peer_ref(peer), *rest)


class ApiError(NodeError):
    """An error answered by the daemon, carrying its code and status."""

    def __init__(
        self, message: str, *, code: str, status: int, remote_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.remote_code = remote_code


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class NodeClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 600.0) -> None:
        self.base_url = base_url
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    @classmethod
    def for_data_dir(cls, data_dir: DataDir, **kwargs: Any) -> NodeClient:
        not_running = NotRunning(
            f"no secondme-node daemon is running for {data_dir.root}; "
            "start it with `secondme-node start`"
        )
        try:
            record = json.loads(data_dir.daemon_record.read_text())
        except (OSError, ValueError):
            raise not_running from None
        if not _pid_alive(int(record.get("pid", 0))):
            raise not_running
        return cls(record["api_url"], read_token(data_dir), **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        remote_code = None
        try:
            error = response.json()["error"]
            message, code = error["message"], error["code"]
            remote_code = error.get("remote_code")
        except (ValueError, KeyError, TypeError, AttributeError):
            message, code = response.text.strip() or response.reason_phrase, "http_error"
        raise ApiError(message, code=code, status=response.status_code, remote_code=remote_code)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise NotRunning(f"the daemon at {self.base_url} does not answer") from None
        self._raise_for(response)
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: dict | None = None) -> Any:
        return self.request("POST", path, json=body or {})

    def patch(self, path: str, body: dict) -> Any:
        return self.request("PATCH", path, json=body)

    def put(self, path: str, body: dict) -> Any:
        return self.request("PUT", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def ingest(
        self,
        path: str,
        data: bytes,
        tags: list[str],
        mtime: float | None = None,
        me: str | None = None,
    ) -> dict:
        """Send one file's bytes; ``mtime`` is its modification time in epoch seconds, ``me``
        the speaker who is the owner in a chat export."""
        params = [("path", path), *(("tag", t) for t in tags)]
        if mtime is not None:
            params.append(("mtime", repr(float(mtime))))
        if me:
            params.append(("me", me))
        return self.request(
            "POST",
            "/api/memory/ingest",
            params=params,
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )

    def stream(self, path: str, body: dict) -> Iterator[tuple[str, Any]]:
        """Server-Sent Events from ``path`` as (event, decoded data) pairs."""
        try:
            with self._http.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise_for(response)
                event, data = "message", []
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
                    elif not line and data:
                        text = "\n".join(data)
                        yield event, (text if text == "[DONE]" else json.loads(text))
                        event, data = "message", []
        except httpx.ConnectError:
            raise NotRunning(f"the daemon at {self.base_url} does not answer") from None
