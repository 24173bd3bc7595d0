"""Enrich's admin HTTP app: ``/health``, ``/status`` (the ledger), ``POST /enrich`` (dry run of one
payload, nothing published) and the enrichment admin routes of ``services.enrich.admin``."""

from __future__ import annotations

import base64
import binascii
import importlib
from typing import Any, Callable

import tornado.web

from ..common.http import ApiError, BaseHandler, HealthHandler, NotFoundHandler, StatusHandler
from ..common.settings import Settings
from . import local
from .state import State


class EnrichHandler(BaseHandler):
    """``POST /enrich``: ``{"querystring": …}``, ``{"body": …}`` (tp2 POST) or ``{"thrift": base64}``."""

    def initialize(self, state: State) -> None:
        self.state = state

    async def post(self) -> None:
        request = self.json_body()
        if not isinstance(request, dict):
            raise ApiError(400, "expected a JSON object with 'querystring', 'body' or 'thrift'")
        if "thrift" in request:
            try:
                record = base64.b64decode(str(request["thrift"]) + "=" * (-len(str(request["thrift"])) % 4))
            except (binascii.Error, ValueError) as exc:
                raise ApiError(400, f"'thrift' is not base64: {exc}") from None
        elif "body" in request or "querystring" in request:
            body = request.get("body")
            if body is not None and not isinstance(body, str):
                body = local.dumps(body)
            record = local.record(querystring=request.get("querystring"), body=body,
                                  path=request.get("path"), headers=request.get("headers"))
        else:
            raise ApiError(400, "expected one of 'querystring', 'body' or 'thrift'")
        outcome = await self.state.pipeline.process(record)
        self.write_json(local.outcome_json(outcome))


def _admin_routes(state: State) -> list:
    try:
        admin = importlib.import_module("services.enrich.admin")
    except ModuleNotFoundError as exc:
        if exc.name != "services.enrich.admin":
            raise
        return []
    return list(admin.routes(state))


def make_app(settings: Settings, state: State, *, health: Callable[[], str | None] | None = None,
             status: Callable[[], dict[str, Any]] | None = None) -> tornado.web.Application:
    routes = [
        (r"/health", HealthHandler, {"check": health}),
        (r"/status", StatusHandler, {"status": status or state.status}),
        (r"/enrich", EnrichHandler, {"state": state}),
        *_admin_routes(state),
    ]
    return tornado.web.Application(routes, default_handler_class=NotFoundHandler)
