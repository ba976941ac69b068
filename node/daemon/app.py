"""The owner API assembled in one place: routes of both doors, middleware, and the services'
lifetime (started and stopped by the application's start-up and cleanup)."""

from __future__ import annotations

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
from secondme.node.api.services import NodeServices
from secondme.node.daemon.lifetime import end_live_streams, services_lifetime
from secondme.node.http.guard import errors, make_guard_middleware
from secondme.node.http.sessions import SessionStore
from secondme.node.web import pages

log = logging.getLogger(__name__)


def build_app(node: NodeServices) -> web.Application:
    sessions = SessionStore()
    cookie_name = pages.cookie_name_for(str(node.identity.peer_id))
    guard = make_guard_middleware(node.token, sessions, cookie_name, node.config.api.host)
    app = web.Application(
        middlewares=[errors, guard],
        client_max_size=node.config.api.max_upload_mb * 1024 * 1024,
    )
    app[routes.SERVICES] = node
    app[pages.SESSIONS] = sessions
    app[pages.COOKIE_NAME] = cookie_name
    app.on_response_prepare.append(pages.add_security_headers)
    app.add_routes(pages.routes)
    app.add_routes(routes.routes)
    app.add_routes(openai_compat.routes)
    app.add_routes(access_routes.routes)
    app.add_routes(network_routes.routes)
    app.add_routes(group_routes.routes)
    app.add_routes(train_routes.routes)
    app.cleanup_ctx.append(services_lifetime)
    app.on_shutdown.append(end_live_streams)
    return app
