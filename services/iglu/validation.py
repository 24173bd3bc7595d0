"""JSON Schema draft 4 validation with Snowplow's quirks (reference/iglu.md §1.4).

``CompiledSchema`` prepares a schema once: remote ``$ref`` become ``{}``, patterns run unanchored
with Java's ASCII ``\\d``/``\\w``, formats are networknt's, ``multipleOf`` is exact.  A compiled
fastjsonschema function decides the happy path; ``jsonschema`` writes the error report.  A
differential test keeps the two verdicts identical on every Iglu Central schema.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import fastjsonschema
import jsonschema
from jsonschema import Draft4Validator

from .core import schema_body
from .formats import FORMATS

DEFAULT_MAX_DEPTH = 50
_DRAFT4 = "http://json-schema.org/draft-04/schema#"
_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
               (list, "array"), (dict, "object"), (type(None), "null"))

FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
for _name, _func in FORMATS.items():
    # networknt checks formats on strings only; every other type passes.
    FORMAT_CHECKER.checks(_name)(lambda value, _f=_func: not isinstance(value, str) or _f(value))
# fastjsonschema knows some formats itself (and "regex"); every one must be ours or pass.
_FAST_FORMATS = {**FORMATS, "regex": lambda _s: True}


def _multiple_of(validator, dB, instance, schema):
    if not validator.is_type(instance, "number"):
        return
    try:
        if isinstance(dB, float) or isinstance(instance, float):
            quotient = Decimal(str(instance)) / Decimal(str(dB))
            failed = quotient != quotient.to_integral_value()
        else:
            failed = bool(instance % dB)
    except (InvalidOperation, ZeroDivisionError, OverflowError):
        failed = True
    if failed:
        yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {dB}")


SnowplowDraft4 = jsonschema.validators.extend(Draft4Validator, {"multipleOf": _multiple_of})


def json_type(value: Any) -> str:
    for kind, name in _JSON_TYPES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def json_depth(value: Any) -> int:
    """Nesting depth: a scalar is 0, ``[]``/``{}`` are 1.  Iterative, so any parsed JSON is safe."""
    depth, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        kind = type(node)
        if kind is dict or kind is list:
            if level > depth:
                depth = level
            children = node.values() if kind is dict else node
            stack.extend((child, level + 1) for child in children if type(child) in (dict, list))
    return depth


def too_deep(value: Any, limit: int) -> bool:
    """Whether ``json_depth(value) > limit``, stopping as soon as the limit is passed (recursion <= limit)."""
    kind = type(value)
    if kind is dict:
        children = value.values()
    elif kind is list:
        children = value
    else:
        return False
    if limit <= 0:
        return True
    for child in children:
        if type(child) in (dict, list) and too_deep(child, limit - 1):
            return True
    return False


class _Prepared:
    """Walks a schema in schema positions only (never inside enum/default values)."""

    def schema(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.lower().startswith(("http://", "https://")):
            return {}  # Snowplow's validator fetches remote refs as the empty schema
        out: dict[str, Any] = {}
        if node.get("nullable") is True and isinstance(node.get("type"), (str, list)):
            # networknt's OpenAPI handling (on by default): "nullable": true lets null pass "type".
            types = [node["type"]] if isinstance(node["type"], str) else list(node["type"])
            node = {**node, "type": types if "null" in types else types + ["null"]}
        for key, value in node.items():
            if key in ("properties", "definitions") and isinstance(value, dict):
                out[key] = {k: self.schema(v) for k, v in value.items()}
            elif key == "patternProperties" and isinstance(value, dict):
                out[key] = {_ascii(k): self.schema(v) for k, v in value.items()}
            elif key in ("items",) and isinstance(value, list):
                out[key] = [self.schema(v) for v in value]
            elif key in ("items", "additionalItems", "additionalProperties", "not"):
                out[key] = self.schema(value)
            elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
                out[key] = [self.schema(v) for v in value]
            elif key == "dependencies" and isinstance(value, dict):
                out[key] = {k: self.schema(v) for k, v in value.items()}
            elif key == "pattern" and isinstance(value, str):
                out[key] = _ascii(value)
            else:
                out[key] = value
        return out


_CLASSES = {"d": ("[0-9]", "0-9"), "w": ("[a-zA-Z0-9_]", "a-zA-Z0-9_"), "s": ("[ \\t\\n\\x0B\\f\\r]", " \\t\\n\\x0B\\f\\r")}
ORIGINAL_PATTERNS: dict[str, str] = {}


def _ascii(pattern: str) -> str:
    """Java's \\d, \\w and \\s are ASCII-only: spell them out so Python's unicode classes don't widen them.

    (An inline ``(?a)`` would do, but jsonschema joins patternProperties keys with ``|``.)
    """
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in _CLASSES:
                out.append(_CLASSES[nxt][1 if in_class else 0])
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            if pattern[i + 1:i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1:i + 2] == "]":  # a literal ] first in a class
                out.append("]")
                i += 1
        elif ch == "]" and in_class:
            in_class = False
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    translated = "".join(out)
    if translated != pattern:
        ORIGINAL_PATTERNS[translated] = pattern
    return translated


def _unascii(pattern: Any) -> Any:
    return ORIGINAL_PATTERNS.get(pattern, pattern) if isinstance(pattern, str) else pattern


def json_path(parts) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def schema_issues(schema: dict) -> list[dict]:
    """Draft-4 meta-schema problems of a schema (empty when it is a valid draft-4 schema)."""
    body = schema_body(schema) if isinstance(schema, dict) else schema
    validator = Draft4Validator(Draft4Validator.META_SCHEMA, format_checker=Draft4Validator.FORMAT_CHECKER)
    issues = []
    for error in validator.iter_errors(body):
        issues.append({"path": json_path(error.absolute_path), "message": error.message})
    return issues


class CompiledSchema:
    """A schema ready to validate instances: ``errors(instance)`` is ``[]`` when valid.

    The compiled function costs tens of milliseconds to build, so it is built on the
    ``fast_after``-th validation (0: at once); until then, and for ``compiled=False``, jsonschema decides.
    """

    def __init__(self, schema: dict, max_depth: int = DEFAULT_MAX_DEPTH, compiled: bool = True,
                 fast_after: int = 8):
        self.max_depth = max_depth
        self._fast = None
        self._slow = None
        self._body: dict | None = None
        self._uses_left = fast_after if compiled else -1
        try:
            self.issues = schema_issues(schema)
            if self.issues:
                return
            self._body = _Prepared().schema(schema_body(schema))
            self._slow = SnowplowDraft4(self._body, format_checker=FORMAT_CHECKER)
        except Exception as exc:  # whatever a registry returns, validation reports it instead of crashing
            self.issues = [{"path": "$", "message": f"the schema cannot be used: {type(exc).__name__}: {exc}"}]
            return
        if self._uses_left == 0:
            self._compile()

    def _compile(self) -> None:
        # fastjsonschema's multipleOf is exact too (Decimal); its extra "infinity reached" rule can only
        # reject, and a rejection is always re-decided by the report path (see errors()).
        self._uses_left = -1
        try:
            self._fast = fastjsonschema.compile(
                {**self._body, "$schema": _DRAFT4}, formats=_FAST_FORMATS, use_default=False,
                handlers={"http": lambda _u: {}, "https": lambda _u: {}},
            )
        except Exception:  # a schema fastjsonschema can't compile is still validated exactly
            self._fast = None

    @property
    def has_fast_path(self) -> bool:
        return self._fast is not None

    def fast_verdict(self, instance: Any) -> bool | None:
        """The compiled function's verdict (None when there is none for this schema or instance)."""
        if self._fast is None:
            if self._uses_left > 0:
                self._uses_left -= 1
                if self._uses_left == 0 and self._body is not None:
                    self._compile()
            if self._fast is None:
                return None
        try:
            self._fast(instance)
        except fastjsonschema.JsonSchemaException:
            return False
        except (RecursionError, TypeError, ValueError):
            return None
        return True

    def is_valid(self, instance: Any) -> bool:
        if self.issues:
            return False
        # A compiled "valid" decides; anything else is decided by jsonschema.
        return self.fast_verdict(instance) is True or self._slow.is_valid(instance)

    def errors(self, instance: Any) -> list[dict]:
        """``[]`` for a valid instance, else networknt-style data reports."""
        if too_deep(instance, self.max_depth):
            return [{"message": "Maximum allowed JSON depth exceeded", "path": "/", "keyword": None, "targets": []}]
        if self.issues:  # callers report these as schemaIssues; never call an unusable schema's data valid
            return [{"message": i["message"], "path": i["path"], "keyword": None, "targets": []} for i in self.issues]
        if self.fast_verdict(instance) is True:
            return []
        return self.reports(instance)

    def reports(self, instance: Any) -> list[dict]:
        reports: list[dict] = []
        seen: set[str] = set()
        for error in self._slow.iter_errors(instance):
            for report in _reports(error):
                marker = json.dumps(report, sort_keys=True, default=str)
                if marker not in seen:
                    seen.add(marker)
                    reports.append(report)
        return reports


def _reports(error: jsonschema.ValidationError) -> list[dict]:
    path = json_path(error.absolute_path)
    keyword, value, instance = error.validator, error.validator_value, error.instance
    value = _unascii(value)

    def one(message: str, targets: list) -> list[dict]:
        return [{"message": f"{path}: {message}", "path": path, "keyword": keyword, "targets": [str(t) for t in targets]}]

    if keyword == "type":
        expected = value if isinstance(value, str) else f"[{', '.join(value)}]"
        found = json_type(instance)
        return one(f"{found} found, {expected} expected", [found, expected])
    if keyword == "required":
        missing = [p for p in value if isinstance(instance, dict) and p not in instance]
        return [{"message": f"{path}.{p}: is missing but it is required", "path": path,
                 "keyword": keyword, "targets": [p]} for p in missing]
    if keyword == "additionalProperties":
        schema = error.schema
        import re
        extras = [
            k for k in instance
            if k not in schema.get("properties", {})
            and not any(re.search(p, k) for p in schema.get("patternProperties", {}))
        ]
        return [{"message": f"{path}.{k}: is not defined in the schema and the schema does not allow additional properties",
                 "path": path, "keyword": keyword, "targets": [k]} for k in extras]
    templates = {
        "maxLength": ("may only be {v} characters long", [value]),
        "minLength": ("must be at least {v} characters long", [value]),
        "enum": ("does not have a value in the enumeration {j}", [json.dumps(value)]),
        "format": ("does not match the {v} pattern", [value]),
        "pattern": ("does not match the regex pattern {v}", [value]),
        "minimum": ("must have a{x} minimum value of {v}", [value]),
        "maximum": ("must have a{x} maximum value of {v}", [value]),
        "minItems": ("there must be a minimum of {v} items in the array", [value]),
        "maxItems": ("there must be a maximum of {v} items in the array", [value]),
        "uniqueItems": ("the items in the array must be unique", []),
        "multipleOf": ("must be multiple of {v}", [value]),
        "minProperties": ("should have a minimum of {v} properties", [value]),
        "maxProperties": ("may only have a maximum of {v} properties", [value]),
        "oneOf": ("should be valid to one and only one of the schemas", []),
        "anyOf": ("should be valid to any of the schemas", []),
        "not": ("should not be valid to the schema {j}", [json.dumps(value)]),
        "dependencies": ("has an error with dependencies", []),
        "additionalItems": ("index is not defined in the schema and the schema does not allow additional items", []),
    }
    if keyword in templates:
        template, targets = templates[keyword]
        exclusive = keyword in ("minimum", "maximum") and error.schema.get(
            "exclusiveMinimum" if keyword == "minimum" else "exclusiveMaximum") is True
        text = template.format(v=value, j=json.dumps(value, default=str), x="n exclusive" if exclusive else "")
        return one(text, targets)
    return one(error.message, [])
