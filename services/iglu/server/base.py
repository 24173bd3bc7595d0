"""The Iglu Server HTTP edge: ``{"message": ...}`` error bodies, API-key auth, CORS, body limits.

Mirrors Iglu Server 0.14 (reference/iglu.md §3.3): 400 for a non-UUID ``apikey``, 404 "The endpoint
does not exist", 413 "The payload is too large", nesting deeper than ``maxJsonDepth`` rejected.
"""

from __future__ import annotations

import json
import re
from typing import Any

import tornado.web

from ..core import ParseError, SchemaKey, SchemaVer
from ..validation import json_depth
from .auth import InvalidApiKey, Permission, permission_for

_VENDOR = re.compile(r"^[a-zA-Z0-9\-_.]+$")
_NAME = re.compile(r"^[a-zA-Z0-9\-_]+$")


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


class IgluError(tornado.web.HTTPError):
    def __init__(self, status: int, message: str | None = None, body: dict | None = None):
        super().__init__(status)
        self.body = body if body is not None else {"message": message}


class IgluHandler(tornado.web.RequestHandler):
    def initialize(self, ctx) -> None:
        self.ctx = ctx

    def set_default_headers(self) -> None:
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS, DELETE")
        self.set_header("Access-Control-Allow-Headers", "content-type, apikey, key")

    def options(self, *args: Any) -> None:
        self.set_status(200)
        self.finish()

    def prepare(self) -> None:
        self.ctx.counters["requests"] += 1
        if len(self.request.body or b"") > self.ctx.max_payload_size:
            raise IgluError(413, "The payload is too large")
        try:
            self.permission: Permission = permission_for(self.ctx.storage, self.request.headers.get("apikey"))
        except InvalidApiKey:
            raise IgluError(400, "Invalid UUID for ApiKey") from None

    def write_json(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(obj))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, IgluError):
            body = exc.body
        elif status_code == 405:
            body = {"message": "The method is not allowed for this endpoint"}
        elif status_code >= 500:
            body = {"message": "Internal server error"}
        else:
            body = {"message": self._reason}
        if status_code >= 400:
            self.ctx.counters["errors"] += 1
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def body_json(self) -> Any:
        try:
            value = json.loads(self.request.body or b"", parse_constant=_no_constants)
        except RecursionError:
            raise IgluError(400, f"The request body is nested deeper than {self.ctx.max_json_depth} levels") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise IgluError(400, f"The request body is invalid: {exc}") from None
        if json_depth(value) > self.ctx.max_json_depth:
            raise IgluError(400, f"The request body is nested deeper than {self.ctx.max_json_depth} levels")
        return value

    def query_bool(self, name: str, default: bool = False) -> bool:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise IgluError(400, f"Query parameter {name} must be true or false")

    def repr_arg(self, default: str) -> str:
        value = self.get_query_argument("repr", default)
        if value not in ("canonical", "meta", "uri"):
            raise IgluError(400, f"Unknown repr {value!r}: use canonical, meta or uri")
        return value


def check_parts(vendor: str | None = None, name: str | None = None, fmt: str | None = None) -> None:
    """Path parts must be Iglu identifiers; '..' and anything path-like is refused before any storage."""
    if vendor is not None and (not _VENDOR.match(vendor) or ".." in vendor or vendor.startswith(".")):
        raise IgluError(400, f"Invalid vendor {vendor!r}: letters, digits, '-', '_' and '.' only")
    for label, value in (("name", name), ("format", fmt)):
        if value is not None and not _NAME.match(value):
            raise IgluError(400, f"Invalid {label} {value!r}: letters, digits, '-' and '_' only")


def key_from_path(vendor: str, name: str, fmt: str, version: str) -> SchemaKey:
    check_parts(vendor, name, fmt)
    try:
        return SchemaKey(vendor, name, fmt, SchemaVer.parse(version))
    except ParseError:
        raise IgluError(400, f"Cannot parse version part '{version}' as SchemaVer, INVALID_SCHEMAVER") from None


class EndpointNotFound(IgluHandler):
    def prepare(self) -> None:
        raise IgluError(404, "The endpoint does not exist")
