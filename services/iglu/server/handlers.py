"""Iglu Server 0.14 routes: schemas (every repr), validation, API keys and meta.

Each handler reads the caller's permission (``self.permission``) and answers with Iglu's status
codes and JSON bodies; a private schema the caller cannot read is a 404, never a 401.
"""

from __future__ import annotations

from ..core import SELF_DESC_URI, ParseError, parse_sdj, parse_self_describing_schema
from ..lint import ERROR, schema_checks
from .auth import KEY_CREATE, KEY_DELETE, Permission, generate_keys, parse_key, InvalidApiKey
from .base import IgluError, IgluHandler, check_parts, key_from_path
from .publish import NOT_CONFORM, publish
from .storage import SchemaRow

VERSION = "0.14.0"


def _readable(perm: Permission, row: SchemaRow) -> bool:
    return row.is_public or perm.can_read(row.key.vendor)


def _render(row: SchemaRow, repr_: str):
    return row.key.uri if repr_ == "uri" else row.meta() if repr_ == "meta" else row.canonical()


class SchemaHandler(IgluHandler):
    """``/api/schemas/{v}/{n}/{f}/{M-R-A}``: read, publish (PUT), delete."""

    def _key(self, vendor, name, fmt, version):
        return key_from_path(vendor, name, fmt, version)

    def get(self, vendor, name, fmt, version):
        key = self._key(vendor, name, fmt, version)
        repr_ = self.repr_arg("canonical")
        row = self.ctx.storage.get(key)
        if row is None or not _readable(self.permission, row):
            raise IgluError(404, "The schema is not found")
        self.write_json(_render(row, repr_))

    def put(self, vendor, name, fmt, version):
        key = self._key(vendor, name, fmt, version)
        is_public = self.query_bool("isPublic")
        body = self.body_json()
        if not isinstance(body, dict):
            raise IgluError(400, "Cannot decode JSON schema")
        if "self" in body:
            try:
                payload_key = parse_self_describing_schema(body)
            except ParseError as exc:
                raise IgluError(400, f"Cannot decode JSON schema: {exc}") from None
            if payload_key != key:
                raise IgluError(400, body={"uriSchemaKey": key.uri, "payloadSchemaKey": payload_key.uri,
                                           "message": f"Mismatch: the schema URI {key.uri} and its self {payload_key.uri} differ"})
        else:  # a bare schema body: its self comes from the path
            body = {"$schema": SELF_DESC_URI, "self": {"vendor": key.vendor, "name": key.name,
                    "format": key.format, "version": str(key.version)}, **body}
        self._publish(key, body, is_public)

    def _publish(self, key, body, is_public):
        if not self.permission.can_create_schema(key.vendor):
            raise IgluError(403, "Authentication error: not authorized")
        status, answer = publish(self.ctx.storage, key, body, is_public, self.ctx.patches_allowed)
        if status < 300:
            self.ctx.counters["published"] += 1
        self.write_json(answer, status)

    def delete(self, vendor, name, fmt, version):
        key = self._key(vendor, name, fmt, version)
        if not self.ctx.patches_allowed:
            raise IgluError(405, "DELETE is forbidden on production registry")
        if not self.permission.is_super:
            raise IgluError(401, "Not enough permissions")
        if not self.ctx.storage.delete(key):
            raise IgluError(404, "The schema is not found")
        self.write_json({"message": "Schema deleted"})


class SchemaListHandler(SchemaHandler):
    """``/api/schemas``, ``/{v}``, ``/{v}/{n}``, ``/{v}/{n}/{f}``, ``/{v}/{n}/{f}/{model}``; POST on the root."""

    def get(self, vendor=None, name=None, fmt=None, model=None):
        check_parts(vendor, name, fmt)
        repr_ = self.repr_arg("uri")
        if model is not None and not model.isdigit():
            raise IgluError(400, f"Cannot parse version part '{model}' as SchemaVer, INVALID_SCHEMAVER")
        rows = self.ctx.storage.list(vendor, name, fmt, int(model) if model is not None else None)
        rows = [r for r in rows if _readable(self.permission, r)]
        if not rows and model is not None:
            raise IgluError(404, "No schemas available")
        self.write_json([_render(r, repr_) for r in rows])

    def post(self, *args):
        if args:
            raise IgluError(404, "The endpoint does not exist")
        is_public = self.query_bool("isPublic")
        body = self.body_json()
        try:
            key = parse_self_describing_schema(body)
        except ParseError:
            raise IgluError(400, "Cannot decode JSON schema") from None
        check_parts(key.vendor, key.name, key.format)
        self._publish(key, body, is_public)

    def put(self, *args):
        raise IgluError(405, "The method is not allowed for this endpoint")

    def delete(self, *args):
        raise IgluError(405, "The method is not allowed for this endpoint")


class ValidateSchemaHandler(IgluHandler):
    """``POST /api/validation/validate/schema/jsonschema`` (and the deprecated ``/api/schemas/validate/...``)."""

    def post(self, *_args):
        if self.permission.anonymous:
            raise IgluError(403, "Not enough permissions")
        body = self.body_json()
        issues = schema_checks(body)
        if any(i.level == ERROR for i in issues):
            self.write_json({"message": NOT_CONFORM, "report": [i.as_json() for i in issues]})
            return
        key = parse_self_describing_schema(body)
        answer = {"message": f"The schema provided is a valid self-describing {key.uri} schema"}
        if issues:
            answer["report"] = [i.as_json() for i in issues]
        self.write_json(answer)


class ValidateInstanceHandler(IgluHandler):
    """``POST /api/validation/validate/instance``: an SDJ checked against this server's schemas only."""

    def post(self):
        body = self.body_json()
        try:
            key, data = parse_sdj(body)
        except ParseError as exc:
            raise IgluError(400, f"JSON payload is not self-describing, {exc.code}") from None
        row = self.ctx.storage.get(key)
        if row is None or not _readable(self.permission, row):
            raise IgluError(404, "The schema is not found")
        compiled = self.ctx.compiled(row)
        reports = compiled.errors(data)  # an unusable schema's issues come back as reports too
        if reports:
            self.write_json({"message": "The data for a field instance is invalid against its schema", "report": reports})
        else:
            self.write_json({"message": f"Instance is valid {key.uri}"})


class KeygenHandler(IgluHandler):
    """``POST /api/auth/keygen`` (vendorPrefix in the JSON body, form or query) and ``DELETE ?key=``."""

    def post(self):
        if KEY_CREATE not in self.permission.key_actions:
            raise IgluError(403, "Not enough permissions")
        prefix = self.get_argument("vendor_prefix", None)
        if prefix is None and self.request.body:
            body = self.body_json()
            prefix = body.get("vendorPrefix") if isinstance(body, dict) else None
        if not isinstance(prefix, str):
            raise IgluError(400, "Request body must be {\"vendorPrefix\": \"com.acme\"}")
        if prefix not in ("*", ""):
            check_parts(prefix)
        requested = "" if prefix in ("*", "") else prefix
        if not (self.permission.covers(requested) if requested else (self.permission.wildcard and self.permission.vendor == "")):
            raise IgluError(403, "Not enough permissions")
        self.write_json(generate_keys(self.ctx.storage, prefix))

    def delete(self):
        if KEY_DELETE not in self.permission.key_actions:
            raise IgluError(403, "Not enough permissions")
        raw = self.get_query_argument("key", None) or self.request.headers.get("key")
        if not raw:
            raise IgluError(400, "The key to delete is missing: send ?key=UUID or a key header")
        try:
            key = parse_key(raw)
        except InvalidApiKey:
            raise IgluError(400, "Invalid UUID for ApiKey") from None
        if key == self.ctx.super_key:
            raise IgluError(400, "The super API key cannot be deleted; change the iglu.super_api_key setting instead")
        if not self.ctx.storage.delete_permission(key):
            raise IgluError(404, "The key is not found")
        self.write_json({"message": "Keys have been deleted"})


class MetaHealthHandler(IgluHandler):
    def get(self, _db=None):
        self.set_header("Content-Type", "text/plain")
        self.finish("OK")


class MetaServerHandler(IgluHandler):
    def get(self):
        rows = [r for r in self.ctx.storage.list() if _readable(self.permission, r)]
        self.write_json({
            "version": VERSION, "authInfo": self.permission.auth_info(), "database": "sqlite",
            "schemaCount": len(rows), "debug": False, "patchesAllowed": self.ctx.patches_allowed,
        })


class DraftsHandler(IgluHandler):
    """Drafts exist in 0.14's API but were never finished there: list is empty, PUT answers 501."""

    def get(self, *args):
        if args:
            raise IgluError(404, "The schema is not found")
        self.write_json([])

    def put(self, *args):
        raise IgluError(501, "TODO")
