"""Inputs of the API and SQL enrichments: a value from an atomic field (``pojo``) or from an entity
matched by an Iglu criterion plus a JSONPath (``json``), and the small TTL cache both use."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any

from jsonpath_ng.ext import parse as jsonpath

from .registry import criterion_matches

JSON_FIELDS = ("unstruct_event", "contexts", "derived_contexts")


def compile_path(path: str):
    return jsonpath(path)


def entities(event, ctx, field: str, derived: list[dict]) -> list[dict]:
    """The self-describing entities of one JSON field, as the event stands now."""
    if field == "unstruct_event":
        return [ctx.unstruct_event] if ctx.unstruct_event else []
    if field == "contexts":
        return list(ctx.contexts or [])
    return derived_so_far(event, ctx) + list(derived)


def derived_so_far(event, ctx) -> list[dict]:
    """Entities earlier enrichments derived: ``ctx.derived`` (the live list enrich fills in slot
    order), else whatever ``derived_contexts`` already holds (an event re-read from TSV)."""
    if ctx.derived:
        return ctx.derived
    if event.derived_contexts:
        try:
            return list(json.loads(event.derived_contexts).get("data") or [])
        except (ValueError, AttributeError):
            return []
    return []


def value(event, ctx, spec: dict, derived: list[dict] = ()) -> Any:
    """The input's value, or None when the event does not have it."""
    if "pojo" in spec:
        return getattr(event, spec["pojo"]["field"], None)
    js = spec["json"]
    for entity in entities(event, ctx, js["field"], list(derived)):
        if criterion_matches(js["schemaCriterion"], entity.get("schema", "")):
            matches = [m.value for m in js["_path"].find(entity.get("data"))]
            if matches:
                return matches[0]
    return None


def as_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


class TtlCache:
    """At most ``size`` entries, each valid ``ttl`` seconds (Snowplow's ``cache`` parameters)."""

    def __init__(self, size: int, ttl: int):
        self.size, self.ttl, self._items = size, ttl, OrderedDict()

    def get(self, key):
        hit = self._items.get(key)
        if hit is None or hit[0] < time.monotonic():
            self._items.pop(key, None)
            return None
        return hit[1]

    def put(self, key, val) -> None:
        if self.size <= 0:
            return
        self._items[key] = (time.monotonic() + self.ttl, val)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
