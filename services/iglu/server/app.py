"""The local Iglu Server: ``make_app(settings, storage)`` and the service's ``start``.

Routes follow Iglu Server 0.14 under ``/api``; ``/health`` and ``/status`` are Mini's.  The super
API key is created at first start (or taken from ``iglu.super_api_key``) and goes into the run file.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from services.common.http import HealthHandler, StatusHandler

from ..validation import CompiledSchema
from .auth import InvalidApiKey, ensure_super_key
from .base import EndpointNotFound
from .handlers import (
    DraftsHandler, KeygenHandler, MetaHealthHandler, MetaServerHandler, SchemaHandler, SchemaListHandler,
    ValidateInstanceHandler, ValidateSchemaHandler,
)
from .storage import SchemaRow, Storage

_P = r"([^/]+)"


class LocalStatusHandler(StatusHandler):
    """``/status`` for ``mini status`` (with the super key); never through the public mount.

    The collector's mount adds X-Forwarded-* headers, so a forwarded request is refused here: the
    super key must not leak on the public origin.
    """

    def get(self) -> None:
        if any(h in self.request.headers for h in ("X-Forwarded-For", "X-Forwarded-Prefix", "X-Forwarded-Host")):
            self.set_status(404)
            self.set_header("Content-Type", "application/json")
            self.finish({"message": "The endpoint does not exist"})
            return
        self.write_json({**self.status(), "api_key": self.application.settings["ctx"].super_key})


class Context:
    """What every handler shares: storage, limits, counters, compiled schemas."""

    def __init__(self, settings, storage: Storage, super_key: str):
        self.storage = storage
        self.super_key = super_key
        self.patches_allowed = bool(settings["iglu.patches_allowed"])
        self.max_payload_size = int(settings["iglu.max_payload_size"])
        self.max_json_depth = int(settings["iglu.server_max_json_depth"])
        self.counters: collections.Counter = collections.Counter(requests=0, errors=0, published=0)
        self._compiled: dict[tuple, CompiledSchema] = {}

    def compiled(self, row: SchemaRow) -> CompiledSchema:
        marker = (row.key, row.updated_at)
        if marker not in self._compiled:
            if len(self._compiled) > 500:
                self._compiled.clear()
            self._compiled[marker] = CompiledSchema(row.canonical())
        return self._compiled[marker]

    def status(self) -> dict[str, Any]:
        return {"counters": {**self.counters, "schemas": self.storage.count()},
                "generation": self.storage.generation}


def make_app(settings, storage: Storage, super_key: str) -> tornado.web.Application:
    ctx = Context(settings, storage, super_key)
    c = {"ctx": ctx}
    routes = [
        (r"/health", HealthHandler),
        (r"/status", LocalStatusHandler, {"status": ctx.status}),
        (r"/api/meta/health(/db)?", MetaHealthHandler, c),
        (r"/api/meta/server", MetaServerHandler, c),
        (r"/api/auth/keygen", KeygenHandler, c),
        (r"/api/validation/validate/schema/jsonschema", ValidateSchemaHandler, c),
        (r"/api/validation/validate/instance", ValidateInstanceHandler, c),
        (rf"/api/schemas/validate/{_P}/{_P}/{_P}/{_P}", ValidateSchemaHandler, c),
        (r"/api/schemas/?", SchemaListHandler, c),
        (rf"/api/schemas/{_P}/?", SchemaListHandler, c),
        (rf"/api/schemas/{_P}/{_P}/?", SchemaListHandler, c),
        (rf"/api/schemas/{_P}/{_P}/{_P}/?", SchemaListHandler, c),
        (rf"/api/schemas/{_P}/{_P}/{_P}/([0-9]+)/?", SchemaListHandler, c),
        (rf"/api/schemas/{_P}/{_P}/{_P}/{_P}/?", SchemaHandler, c),
        (r"/api/drafts/?", DraftsHandler, c),
        (rf"/api/drafts/{_P}/{_P}/{_P}/{_P}/?", DraftsHandler, c),
    ]
    return tornado.web.Application(routes, default_handler_class=EndpointNotFound, default_handler_args=c,
                                   ctx=ctx)


class RunningServer:
    def __init__(self, server: tornado.httpserver.HTTPServer, storage: Storage, app, port: int, super_key: str):
        self.server, self.storage, self.app = server, storage, app
        self.ports = {"port": port}
        self.run_info = {"api_key": super_key}

    def status(self) -> dict[str, Any]:
        return self.app.settings["ctx"].status()

    async def close(self) -> None:
        self.server.stop()
        await self.server.close_all_connections()
        self.storage.close()


def _bind(settings, storage: Storage) -> list:
    """Bind the configured port; with port 0, prefer the last one so resolvers' URLs survive a restart."""
    port, host = int(settings["iglu.port"]), settings["iglu.host"]
    last = storage.meta_get("last_port")
    if port == 0 and last:
        try:
            return tornado.netutil.bind_sockets(int(last), host)
        except OSError:
            pass  # taken meanwhile: any free port, peers get it from the run file
    return tornado.netutil.bind_sockets(port, host)


async def start(settings) -> RunningServer:
    storage = Storage(Path(settings.home) / "iglu")
    try:
        super_key = ensure_super_key(storage, settings["iglu.super_api_key"] or None)
    except InvalidApiKey:
        storage.close()
        raise SystemExit(f"iglu.super_api_key must be a UUID (Iglu Server API keys are), got {settings['iglu.super_api_key']!r}")
    app = make_app(settings, storage, super_key)
    # Tornado's own limit only guards memory; bodies above iglu.max_payload_size get Iglu's 413.
    server = tornado.httpserver.HTTPServer(app, max_body_size=max(10 * 1024 * 1024, int(settings["iglu.max_payload_size"]) * 4))
    sockets = _bind(settings, storage)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    storage.meta_set("last_port", str(port))
    return RunningServer(server, storage, app, port, super_key)
