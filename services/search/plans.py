"""The indexing fast path: per-field appenders specialised by type, built once per mapping version.

Parsing a document is the prepare stage's main cost; a plan turns a mapped scalar into its stored values
(and its multi-fields') without the general walk.  Anything unusual falls back to Mapping's slow path,
which also raises the proper mapper errors.
"""

from __future__ import annotations

from typing import Any

from .mapping import Field
from .values import _as_text, _boolean, _integral


def make_plan(mapping, path: str, spec: dict[str, Any]):
    """A function appending the stored values of one scalar for a mapped leaf and its multi-fields, or None."""
    field = mapping.fields.get(path)
    if field is None or spec.get("type", "object") in ("object", "nested"):
        return None
    convs = [(field.path, converter(mapping, field))]
    for sub in (spec.get("fields") or {}):
        sub_field = mapping.fields.get(f"{path}.{sub}")
        if sub_field is None:
            return None
        convs.append((sub_field.path, converter(mapping, sub_field)))
    if len(convs) == 1:
        (p, conv), = convs

        def plan(value, out):
            for v in conv(value):
                out.append((p, v))
    else:
        def plan(value, out):
            staged = [(p, v) for p, conv in convs for v in conv(value)]
            out.extend(staged)
    return plan


def converter(mapping, field: Field):
    """The conversion of one JSON scalar to the field's stored values, specialised by type."""
    kind = field.type
    if kind == "keyword":
        limit = field.spec.get("ignore_above")
        limit = int(limit) if limit is not None else None

        def keyword(value):
            text = value if type(value) is str else _as_text(value)
            return (text,) if limit is None or len(text) <= limit else ()
        return keyword
    if kind in ("text", "match_only_text"):
        analyzer = mapping.analysis.get(field.spec.get("analyzer"))
        if field.shared:
            limit = field.shared_limit

            def shared_text(value):
                text = value if type(value) is str else _as_text(value)
                return () if len(text) <= limit else analyzer(text)
            return shared_text
        return lambda value: analyzer(value if type(value) is str else _as_text(value))
    if kind == "long" and field.spec.get("coerce", True) not in (False, "false"):
        def long_(value):
            if type(value) is int and -2**63 <= value < 2**63:
                return (value,)
            return (_integral(value, "long", True),)
        return long_
    if kind == "date":
        fmt = field.format
        return lambda value: (fmt.parse(value),)
    if kind == "boolean":
        return lambda value: (_boolean(value),)
    return lambda value: tuple(mapping.convert(field, value))

