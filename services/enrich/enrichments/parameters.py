"""Config checks shared by the standard enrichments: every problem of a self-describing config at once.

Each enrichment declares a small JSON Schema (Draft 4) for its ``parameters``; :func:`check` returns the
``parameters`` object or raises :class:`ConfigError` listing every violation, so a config is judged the
same way whether or not the resolver could fetch Snowplow's own config schema.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from .registry import ConfigError

STRINGS = {"type": "array", "items": {"type": "string"}}
ASSET = {
    "type": "object",
    "properties": {"database": {"type": "string"}, "uri": {"type": "string", "minLength": 1}},
    "required": ["database", "uri"],
}


def _where(error: jsonschema.ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return path[1:] or "(config)"


def problems(config: Any, parameters: dict[str, Any] | None, *, params_required: bool = True) -> list[str]:
    """Every violation of ``{"schema", "data": {vendor, name, enabled, parameters}}`` as text."""
    data_schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "vendor": {"type": "string"},
            "name": {"type": "string"},
            "enabled": {"type": "boolean"},
        },
        "required": ["name", "vendor", "enabled"] + (["parameters"] if params_required else []),
    }
    if parameters is not None:
        data_schema["properties"]["parameters"] = parameters
    schema = {
        "type": "object",
        "properties": {"schema": {"type": "string"}, "data": data_schema},
        "required": ["schema", "data"],
    }
    validator = jsonschema.Draft4Validator(schema)
    found = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{_where(e)}: {e.message}" for e in found]


def check(config: Any, parameters: dict[str, Any] | None, *, params_required: bool = True,
          extra: list[str] | None = None) -> dict[str, Any]:
    """The config's ``parameters`` (``{}`` when absent), or ConfigError with every problem."""
    errors = problems(config, parameters, params_required=params_required) + list(extra or [])
    if errors:
        raise ConfigError(errors)
    return dict(config["data"].get("parameters") or {})


def strict(properties: dict[str, Any], required: list[str] = ()) -> dict[str, Any]:
    """An object schema that rejects unknown keys (Snowplow's config schemas are closed)."""
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out
