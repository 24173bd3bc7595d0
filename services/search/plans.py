"""The indexing fast path: per-field appenders specialised by type, built once per mapping version.

Parsing a document is the prepare stage's main cost; a plan turns a mapped scalar into its stored values
(and its multi-fields') without the general walk.  Anything unusual falls back to Mapping's slow path,
which also raises the proper mapper errors.
"""

from __future__ import annotations

from typing import Any

from .mapping import Field, add_values
from .values import _as_text, _boolean, _integral


def make_plan(mapping, path: str, spec: dict[str, Any]):
    """A function adding the stored values of one scalar for a mapped leaf and its multi-fields to a unit's
    values (a dict by field key, see ``Unit``), or None. Converters return a new list (or an empty tuple)."""
    field = mapping.fields.get(path)
    if field is None or spec.get("type", "object") in ("object", "nested"):
        return None
    convs = [(mapping.field_key(field.path), converter(mapping, field))]
    for sub in (spec.get("fields") or {}):
        sub_field = mapping.fields.get(f"{path}.{sub}")
        if sub_field is None:
            return None
        convs.append((mapping.field_key(sub_field.path), converter(mapping, sub_field)))
    if len(convs) == 1:
        (key, conv), = convs

        def plan(value, out):
            stored = conv(value)
            if stored:
                add_values(out, key, stored)
    else:
        def plan(value, out):
            staged = [(key, conv(value)) for key, conv in convs]  # all converted first: a failure adds nothing
            for key, stored in staged:
                if stored:
                    add_values(out, key, stored)
    return plan


def converter(mapping, field: Field):
    """The conversion of one JSON scalar to the field's stored values, specialised by type."""
    kind = field.type
    if kind == "keyword":
        limit = field.spec.get("ignore_above")
        limit = int(limit) if limit is not None else None

        def keyword(value):
            text = value if type(value) is str else _as_text(value)
            return [text] if limit is None or len(text) <= limit else ()
        return keyword
    if kind in ("text", "match_only_text"):
        analyzer = mapping.analysis.get(field.spec.get("analyzer"))
        if field.shared:
            limit = field.shared_limit

            def shared_text(value):
                text = value if type(value) is str else _as_text(value)
                return () if len(text) <= limit else list(analyzer(text))
            return shared_text
        return lambda value: list(analyzer(value if type(value) is str else _as_text(value)))
    if kind == "long" and field.spec.get("coerce", True) not in (False, "false"):
        def long_(value):
            if type(value) is int and -2**63 <= value < 2**63:
                return [value]
            return [_integral(value, "long", True)]
        return long_
    if kind == "date":
        fmt = field.format
        return lambda value: [fmt.parse(value)]
    if kind == "boolean":
        return lambda value: [_boolean(value)]
    return lambda value: list(mapping.convert(field, value))

