"""Iglu's core data types: SchemaVer, SchemaKey, SchemaCriterion and self-describing JSON parsing.

Parsing follows iglu-scala-core (reference/iglu.md §1.1–1.3): a loose structural regex first
(``INVALID_IGLUURI``), then the strict SchemaVer rules (``INVALID_SCHEMAVER``); failures carry
Iglu's ParseError codes verbatim because they end up in bad rows.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any

SELF_DESC_URI = "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"

# Loose structure first: a version made of digits and hyphens is "an Iglu URI with a bad SchemaVer".
_LOOSE_URI = re.compile(r"^iglu:([a-zA-Z0-9\-_.]+)/([a-zA-Z0-9\-_]+)/([a-zA-Z0-9\-_]+)/([0-9]*-[0-9]*-[0-9]*)$")
_LOOSE_PATH = re.compile(r"^([a-zA-Z0-9\-_.]+)/([a-zA-Z0-9\-_]+)/([a-zA-Z0-9\-_]+)/([0-9]*-[0-9]*-[0-9]*)$")
_SCHEMAVER = re.compile(r"^([1-9][0-9]*)-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$")
_VENDOR = re.compile(r"^[a-zA-Z0-9\-_.]+$")
_NAME = re.compile(r"^[a-zA-Z0-9\-_]+$")
_CRITERION = re.compile(
    r"^iglu:([a-zA-Z0-9\-_.]+)/([a-zA-Z0-9\-_]+)/([a-zA-Z0-9\-_]+)/([1-9][0-9]*|\*)-((?:0|[1-9][0-9]*)|\*)-((?:0|[1-9][0-9]*)|\*)$"
)

INVALID_SCHEMAVER = "INVALID_SCHEMAVER"
INVALID_IGLUURI = "INVALID_IGLUURI"
INVALID_DATA_PAYLOAD = "INVALID_DATA_PAYLOAD"
INVALID_SCHEMA = "INVALID_SCHEMA"
INVALID_METASCHEMA = "INVALID_METASCHEMA"


class ParseError(ValueError):
    """An Iglu parse failure; ``code`` is one of the ParseError codes above."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{detail}, {code}" if detail else code)
        self.code = code


@dataclasses.dataclass(frozen=True, order=True)
class SchemaVer:
    model: int
    revision: int
    addition: int

    @classmethod
    def parse(cls, text: str) -> "SchemaVer":
        match = _SCHEMAVER.match(text) if isinstance(text, str) else None
        if not match:
            raise ParseError(INVALID_SCHEMAVER, f"Cannot parse version part '{text}' as SchemaVer")
        return cls(*(int(g) for g in match.groups()))

    def __str__(self) -> str:
        return f"{self.model}-{self.revision}-{self.addition}"


@dataclasses.dataclass(frozen=True)
class SchemaKey:
    vendor: str
    name: str
    format: str
    version: SchemaVer

    @classmethod
    def parse(cls, uri: Any) -> "SchemaKey":
        """Parse ``iglu:vendor/name/format/M-R-A``."""
        if isinstance(uri, str):
            return _parse_uri(uri)  # every event repeats a few URIs: remember them
        return cls._from_match(None, uri)

    @classmethod
    def parse_path(cls, path: str) -> "SchemaKey":
        """Parse the path form ``vendor/name/format/M-R-A`` (static registries, files)."""
        return cls._from_match(_LOOSE_PATH.match(path) if isinstance(path, str) else None, path)

    @classmethod
    def _from_match(cls, match: re.Match | None, raw: Any) -> "SchemaKey":
        if not match:
            raise ParseError(INVALID_IGLUURI, f"Cannot parse {raw!r} as an Iglu URI")
        vendor, name, fmt, version = match.groups()
        return cls(vendor, name, fmt, SchemaVer.parse(version))

    @property
    def uri(self) -> str:
        return f"iglu:{self.path}"

    @property
    def path(self) -> str:
        return f"{self.vendor}/{self.name}/{self.format}/{self.version}"

    def with_version(self, version: SchemaVer) -> "SchemaKey":
        return dataclasses.replace(self, version=version)

    def __str__(self) -> str:
        return self.uri


@functools.lru_cache(maxsize=4096)
def _parse_uri(uri: str) -> SchemaKey:
    return SchemaKey._from_match(_LOOSE_URI.match(uri), uri)


@dataclasses.dataclass(frozen=True)
class SchemaCriterion:
    """``iglu:v/n/f/M-R-A`` where each version part may be ``*``; matching is equality on set parts."""

    vendor: str
    name: str
    format: str
    model: int | None
    revision: int | None
    addition: int | None

    @classmethod
    def parse(cls, text: str) -> "SchemaCriterion":
        match = _CRITERION.match(text) if isinstance(text, str) else None
        if not match:
            raise ParseError(INVALID_IGLUURI, f"Cannot parse {text!r} as a schema criterion")
        vendor, name, fmt, *parts = match.groups()
        return cls(vendor, name, fmt, *(None if p == "*" else int(p) for p in parts))

    def matches(self, key: SchemaKey) -> bool:
        v = key.version
        return (
            (key.vendor, key.name, key.format) == (self.vendor, self.name, self.format)
            and self.model in (None, v.model)
            and self.revision in (None, v.revision)
            and self.addition in (None, v.addition)
        )

    def __str__(self) -> str:
        parts = ("*" if p is None else str(p) for p in (self.model, self.revision, self.addition))
        return f"iglu:{self.vendor}/{self.name}/{self.format}/{'-'.join(parts)}"


def parse_sdj(instance: Any) -> tuple[SchemaKey, Any]:
    """Decode self-describing data ``{"schema": uri, "data": ...}``; extra keys are ignored."""
    if not isinstance(instance, dict) or "data" not in instance:
        raise ParseError(INVALID_DATA_PAYLOAD)
    schema = instance.get("schema")
    if not isinstance(schema, str):
        raise ParseError(INVALID_DATA_PAYLOAD)
    return SchemaKey.parse(schema), instance["data"]


def parse_self_describing_schema(schema: Any) -> SchemaKey:
    """The key a self-describing schema declares: exact ``$schema`` and a complete ``self``."""
    if not isinstance(schema, dict):
        raise ParseError(INVALID_SCHEMA)
    if schema.get("$schema") != SELF_DESC_URI:
        raise ParseError(INVALID_METASCHEMA)
    self_ = schema.get("self")
    if not isinstance(self_, dict):
        raise ParseError(INVALID_SCHEMA)
    vendor, name, fmt, version = (self_.get(k) for k in ("vendor", "name", "format", "version"))
    if not all(isinstance(x, str) for x in (vendor, name, fmt, version)):
        raise ParseError(INVALID_SCHEMA)
    if not _VENDOR.match(vendor) or not _NAME.match(name) or not _NAME.match(fmt):
        raise ParseError(INVALID_SCHEMA)
    return SchemaKey(vendor, name, fmt, SchemaVer.parse(version))


def schema_body(schema: dict) -> dict:
    """A schema without its Iglu envelope keys (``$schema``, ``self``, superseding markers)."""
    return {k: v for k, v in schema.items() if k not in ("$schema", "self", "$supersededBy", "$supersedes")}
