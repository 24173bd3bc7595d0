"""The HTTP edge every service shares: one JSON error shape, ``/health`` and ``/status`` handlers.

Error bodies are ``{"error": "<message>", "status": <code>}`` (pinned by a test); services that mirror
a Snowplow or OpenSearch API write that API's error bodies instead by overriding ``write_error``.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import tornado.web


class ApiError(tornado.web.HTTPError):
    """Raise in a handler to answer ``status`` with ``message`` in the shared error shape."""

    def __init__(self, status: int, message: str):
        super().__init__(status, log_message=None)
        self.message = message


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": message, "status": status}


class BaseHandler(tornado.web.RequestHandler):
    """JSON helpers and the shared error shape."""

    def write_json(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))

    def json_body(self) -> Any:
        """The request body as JSON, or a 400 naming the problem."""
        try:
            return json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"request body is not valid JSON: {exc}") from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            message = exc.message
        elif isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        else:
            message = self._reason
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(error_body(status_code, message)))


class NotFoundHandler(BaseHandler):
    """Default handler: 404 in the shared shape for any unrouted path."""

    def prepare(self) -> None:
        raise ApiError(404, f"no route for {self.request.method} {self.request.path}")


class HealthHandler(BaseHandler):
    """``GET /health``: 200 ``ok`` while the process serves; ``check`` may veto with a reason."""

    def initialize(self, check: Callable[[], str | None] | None = None) -> None:
        self.check = check

    def get(self) -> None:
        problem = self.check() if self.check else None
        if problem:
            raise ApiError(503, problem)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok")

    head = get


class StatusHandler(BaseHandler):
    """``GET /status``: the service's counters, merged into ``mini status``."""

    def initialize(self, status: Callable[[], dict[str, Any]]) -> None:
        self.status = status

    def get(self) -> None:
        self.write_json(self.status())
