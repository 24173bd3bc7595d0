"""The supervisor's loopback HTTP API, used by the ``mini`` CLI and the control plane.

``GET /health``, ``GET /status`` (the ``mini status --json`` document), ``GET /ready``, ``POST /services/{name}/stop|start|
restart``, ``GET /services/{name}/logs?lines=N``, ``POST /shutdown``.  Errors use the shared shape.
"""

from __future__ import annotations

import asyncio
from collections import deque

import tornado.web

from services.common.http import ApiError, BaseHandler, HealthHandler, NotFoundHandler

from .supervisor import Supervisor


class SupervisorHandler(BaseHandler):
    def initialize(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def child_or_404(self, name: str):
        try:
            return self.supervisor.child(name)
        except KeyError as exc:
            raise ApiError(404, str(exc.args[0])) from None


class StatusHandler(SupervisorHandler):
    async def get(self) -> None:
        self.write_json(await self.supervisor.status())


class ReadyHandler(SupervisorHandler):
    """Cheap for polling (no probes): has the start sequence finished?"""

    def get(self) -> None:
        self.write_json({"ready": self.supervisor.ready, "stopping": self.supervisor.stopping})


class ServiceActionHandler(SupervisorHandler):
    async def post(self, name: str, action: str) -> None:
        self.child_or_404(name)
        if self.supervisor.stopping:
            raise ApiError(409, "the stack is shutting down")
        doc = await getattr(self.supervisor, action)(name)
        self.write_json({"service": name, "action": action, "status": doc})


class LogsHandler(SupervisorHandler):
    def get(self, name: str) -> None:
        child = self.child_or_404(name)
        try:
            lines = int(self.get_query_argument("lines", "200"))
        except ValueError:
            raise ApiError(400, "lines must be an integer") from None
        try:
            with open(child.log_path, "r", encoding="utf-8", errors="replace") as handle:
                tail = deque(handle, maxlen=max(lines, 0))
        except FileNotFoundError:
            tail = deque()
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("".join(tail))


class ShutdownHandler(SupervisorHandler):
    def post(self) -> None:
        asyncio.get_running_loop().create_task(self.supervisor.shutdown())
        self.write_json({"stopping": True}, status=202)


def make_app(supervisor: Supervisor) -> tornado.web.Application:
    kwargs = {"supervisor": supervisor}
    return tornado.web.Application(
        [
            (r"/health", HealthHandler),
            (r"/status", StatusHandler, kwargs),
            (r"/ready", ReadyHandler, kwargs),
            (r"/services/([A-Za-z0-9_-]+)/(stop|start|restart)", ServiceActionHandler, kwargs),
            (r"/services/([A-Za-z0-9_-]+)/logs", LogsHandler, kwargs),
            (r"/shutdown", ShutdownHandler, kwargs),
        ],
        default_handler_class=NotFoundHandler,
    )
