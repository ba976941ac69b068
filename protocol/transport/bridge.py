"""Calls between the node's asyncio loop and the trio loop that runs py-libp2p.

Theory of operation
-------------------
py-libp2p runs only on trio and the node runs on asyncio, so each host gets a :class:`TrioBridge`:
one non-daemon thread running ``trio.run``, and the few primitives that move work between the two
loops. This module is the only place where the two meet; it knows nothing about libp2p.

* **asyncio → trio** (:meth:`TrioBridge.run`): the call is handed to the trio thread with
  ``TrioToken.run_sync_soon`` and started in the bridge's call nursery; its result or exception
  comes back through ``loop.call_soon_threadsafe`` into an asyncio future. Cancelling the awaiting
  asyncio task cancels the trio task (its ``CancelScope`` is cancelled from the trio thread).
* **trio → asyncio** (:meth:`TrioBridge.to_asyncio`): the coroutine is submitted with
  ``asyncio.run_coroutine_threadsafe``; a done-callback wakes the trio task through the token.
  Cancelling the trio task cancels the asyncio task.
* One hop costs ~150-200 µs, so callers bridge whole operations (a request, a handler call),
  never single reads or writes.

Life cycle and shutdown order (each step matters; see notes/py-libp2p.md):

1. :meth:`start` runs ``service`` with ``nursery.start``; it reports ready (e.g. listeners bound)
   through ``task_status.started(value)``, and ``start`` returns that value.
2. :meth:`stop` first cancels the calls still running (they fail with :class:`HostClosed`), then
   asks the service to stop (an event, not a cancellation) and gives it time to close what it
   opened (the libp2p host must be closed *before* leaving ``host.run``), then ``trio.run``
   returns, the thread ends and ``stop`` joins it. ``stop`` is idempotent.
3. Every post to the asyncio loop is guarded: once that loop is closed nothing is posted, and a
   watchdog stops the trio side by itself if the loop closes, or the main thread ends, without
   :meth:`stop` being called, so the non-daemon thread never keeps the process alive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from secondme.protocol.transport.errors import HostClosed, HostStateError

logger = logging.getLogger(__name__)

T = TypeVar("T")
Service = Callable[..., Awaitable[None]]
"""A trio function run as ``service(stop, task_status=...)``: it calls
``task_status.started(value)`` once ready, and returns soon after the ``trio.Event`` ``stop`` is
set (it is not cancelled: py-libp2p leaks the dialer's socket when closed under cancellation)."""

_ORPHAN_CHECK_INTERVAL_S = 0.5
_THREAD_START_TIMEOUT_S = 10.0
_SERVICE_STOP_TIMEOUT_S = 10.0
"""How long a service may take to return after ``stop`` is set before it is cancelled."""


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def unwrap_group(exc: BaseException) -> BaseException:
    """The one exception inside single-member exception groups (trio nurseries are strict)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


async def _await(fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]) -> T:
    """A real coroutine around any awaitable, as ``run_coroutine_threadsafe`` requires."""
    return await fn(*args)


class TrioBridge:
    """A trio loop in its own thread, and the calls that cross between it and asyncio."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._finished: asyncio.Future[None] | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._token_ready = threading.Event()
        # Owned by the trio thread:
        self._calls: trio.Nursery | None = None
        self._stop_requested: trio.Event | None = None
        self._startup: trio.CancelScope | None = None

    # -- asyncio side ---------------------------------------------------------------------

    async def start(self, service: Service) -> Any:
        """Start the thread and ``service`` in it; the value it reported ready with."""
        if self._thread is not None:
            raise HostStateError("this bridge was already started")
        loop = asyncio.get_running_loop()
        self._loop = loop
        started: asyncio.Future[Any] = loop.create_future()
        self._finished = loop.create_future()
        self._thread = threading.Thread(
            target=self._thread_main, args=(service, started), name=self._name, daemon=False
        )
        self._thread.start()
        try:
            return await started
        except BaseException:
            await self.stop()
            raise

    async def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run the trio function ``fn(*args)`` in the trio thread and await its outcome here."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise HostStateError("the host is used from an event loop other than its own")
        token = self._token
        if token is None:
            raise HostClosed("the host is not running")
        future: asyncio.Future[T] = loop.create_future()
        scope = trio.CancelScope()
        try:
            token.run_sync_soon(self._spawn, fn, args, future, scope)
        except trio.RunFinishedError as exc:
            raise HostClosed("the host is closed") from exc
        try:
            return await future
        except asyncio.CancelledError:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(scope.cancel)
            raise

    async def stop(self) -> None:
        """Cancel running calls, stop the service, end the thread. Idempotent."""
        thread, finished = self._thread, self._finished
        if thread is None or finished is None:
            return
        if thread.is_alive():
            self._token_ready.wait(_THREAD_START_TIMEOUT_S)
            if self._token is not None:
                with contextlib.suppress(trio.RunFinishedError):
                    self._token.run_sync_soon(self._request_stop)
            await asyncio.shield(finished)
        thread.join()

    # -- trio side ------------------------------------------------------------------------

    async def to_asyncio(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """From the trio thread: run ``fn(*args)`` on the asyncio loop and await its outcome."""
        loop, token = self._loop, self._token
        assert loop is not None and token is not None, "to_asyncio runs in the bridge's thread"
        coroutine = _await(fn, args)
        try:
            outcome = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except RuntimeError as exc:
            coroutine.close()
            raise HostClosed("the asyncio loop is closed") from exc
        done = trio.Event()

        def wake(_: concurrent.futures.Future[T]) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(done.set)

        outcome.add_done_callback(wake)
        try:
            await done.wait()
        except trio.Cancelled:
            outcome.cancel()
            raise
        try:
            return outcome.result()
        except concurrent.futures.CancelledError as exc:
            raise HostClosed("the asyncio side cancelled the call") from exc

    def _thread_main(self, service: Service, started: asyncio.Future[Any]) -> None:
        try:
            trio.run(self._trio_main, service, started)
        except BaseException as exc:
            error = unwrap_group(exc)
            logger.error("the libp2p thread %s ended with an error: %r", self._name, error)
            self._post(_fail, started, HostClosed(f"the libp2p thread failed: {exc!r}"))
        finally:
            if self._finished is not None:
                self._post(_resolve, self._finished, None)

    async def _trio_main(self, service: Service, started: asyncio.Future[Any]) -> None:
        self._stop_requested = trio.Event()
        self._token = trio.lowlevel.current_trio_token()
        self._token_ready.set()
        ready = False
        try:
            async with trio.open_nursery() as service_nursery:
                service_stop = trio.Event()
                with trio.CancelScope() as self._startup:
                    value = await service_nursery.start(service, service_stop)
                if self._startup.cancelled_caught:
                    service_nursery.cancel_scope.cancel()
                    self._post(_fail, started, HostClosed("the host was closed while starting"))
                    return
                self._post(_resolve, started, value)
                ready = True
                async with trio.open_nursery() as calls:
                    self._calls = calls
                    calls.start_soon(self._stop_when_orphaned)
                    await self._stop_requested.wait()
                    self._calls = None
                    calls.cancel_scope.cancel()
                service_stop.set()
                give_up_at = trio.current_time() + _SERVICE_STOP_TIMEOUT_S
                service_nursery.cancel_scope.deadline = give_up_at
        except BaseException as exc:
            error = unwrap_group(exc)
            if not isinstance(error, Exception):
                raise
            if not ready:
                self._post(_fail, started, error)
            else:
                logger.error("the libp2p host %s stopped with an error: %r", self._name, error)
        finally:
            self._calls = None

    def _spawn(
        self,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        future: asyncio.Future[Any],
        scope: trio.CancelScope,
    ) -> None:
        if self._calls is None:
            self._post(_fail, future, HostClosed("the host is not running"))
            return
        self._calls.start_soon(self._serve_call, fn, args, future, scope)

    async def _serve_call(
        self,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        future: asyncio.Future[Any],
        scope: trio.CancelScope,
    ) -> None:
        try:
            with scope:
                value = await fn(*args)
                self._post(_resolve, future, value)
        except trio.Cancelled:
            self._post(_fail, future, HostClosed("the host closed during the call"))
            raise
        except Exception as exc:
            self._post(_fail, future, unwrap_group(exc))

    def _request_stop(self) -> None:
        if self._stop_requested is not None:
            self._stop_requested.set()
        if self._startup is not None:
            self._startup.cancel()

    async def _stop_when_orphaned(self) -> None:
        """Stop if the asyncio side went away without calling :meth:`stop`."""
        loop = self._loop
        assert loop is not None
        main = threading.main_thread()
        while True:
            await trio.sleep(_ORPHAN_CHECK_INTERVAL_S)
            if loop.is_closed() or not (main.is_alive() or loop.is_running()):
                logger.warning("%s: the asyncio loop is gone without close(); stopping", self._name)
                self._request_stop()
                return

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        """Schedule ``callback(*args)`` on the asyncio loop, unless that loop is closed."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            logger.debug("%s: asyncio loop closed, dropped %s", self._name, callback.__name__)
