"""The owner API assembled in one place: routes, middleware, and the address it binds."""

from __future__ import annotations

import ipaddress
import logging

from aiohttp import web

from secondme.node.api import (
    access_routes,
    group_routes,
    network_routes,
    openai_compat,
    routes,
    train_routes,
)
from secondme.node.api.middleware import errors, make_auth_middleware
from secondme.node.services import NodeServices

log = logging.getLogger(__name__)


def build_app(node: NodeServices) -> web.Application:
    app = web.Application(
        middlewares=[errors, make_auth_middleware(node.token)],
        client_max_size=node.config.api.max_upload_mb * 1024 * 1024,
    )
    app[routes.SERVICES] = node
    app.add_routes(routes.routes)
    app.add_routes(openai_compat.routes)
    app.add_routes(access_routes.routes)
    app.add_routes(network_routes.routes)
    app.add_routes(group_routes.routes)
    app.add_routes(train_routes.routes)
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
