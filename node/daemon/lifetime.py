"""The services' lifetime, run by the owner API's application: started in its start-up, stopped
in its cleanup, in the reverse order.

The application owns it so that one place says what runs while the node serves: aiohttp runs
:func:`services_lifetime` when the runner is set up (before the API binds) and ends it after the
API stopped taking requests; :func:`end_live_streams` runs at its shutdown, before the server
waits for open requests, so that live group streams end at once instead of holding the stop.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from secondme.node.api.routes import SERVICES
from secondme.node.api.services import NodeServices
from secondme.node.core.errors import ConfigError
from secondme.protocol.errors import TransportError

log = logging.getLogger("secondme.node")


async def start_services(node: NodeServices) -> None:
    """The libp2p host first (a port in use is a clear start-up error), then the workers."""
    try:
        addrs = await node.p2p.start()
    except TransportError as exc:
        listen = ", ".join(node.config.p2p.listen)
        raise ConfigError(
            f"cannot listen on {listen} (p2p.listen / --listen): {exc.message}"
        ) from None
    log.info("libp2p host listening on %s", ", ".join(addrs))
    node.memory.index_in_background()
    node.memory.transcriptions.start()
    queued = node.l1.catch_up()
    if queued:
        log.info("L1: %d document(s) queued for processing", queued)
    node.l1.start()
    node.network.start()
    node.groups.start()


async def stop_services(node: NodeServices) -> None:
    """Everything :func:`start_services` started and the daemon opened, in reverse; safe
    after a start that failed part way."""
    await node.l2.close()
    await node.groups.close()
    await node.network.close()
    await node.p2p.close()
    await node.l1.close()
    await node.chat.model.close()
    await node.memory.transcriptions.close()
    await node.memory.wait_for_index()
    node.memory.close()
    node.db.close()


async def services_lifetime(app: web.Application) -> AsyncIterator[None]:
    node = app[SERVICES]
    try:
        await start_services(node)
        yield
    finally:
        await stop_services(node)


async def end_live_streams(app: web.Application) -> None:
    app[SERVICES].groups.stop_watchers()
