"""``_source`` filtering: includes/excludes with wildcards, from the body or the ``_source*`` parameters."""

from __future__ import annotations

import fnmatch
from typing import Any


def filter_source(source: dict[str, Any], includes: list[str], excludes: list[str]) -> dict[str, Any]:
    """``_source`` includes/excludes with wildcards, as OpenSearch filters the stored JSON."""
    def matches(patterns: list[str], path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) for p in patterns)

    def may_match_below(path: str) -> bool:
        return any(_prefix_match(path, p) or p.startswith(path + ".") for p in includes)

    def walk(obj: dict[str, Any], prefix: str, included: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in obj.items():
            path = prefix + key
            if matches(excludes, path):
                continue
            here = included or not includes or matches(includes, path)
            if not here and not may_match_below(path):
                continue
            if isinstance(value, dict):
                child = walk(value, path + ".", here)
                if here or child:
                    out[key] = child
            elif isinstance(value, list):
                items = []
                for item in value:
                    if isinstance(item, dict):
                        child = walk(item, path + ".", here)
                        if here or child:
                            items.append(child)
                    elif here:
                        items.append(item)
                if here or items:
                    out[key] = items
            elif here:
                out[key] = value
        return out
    return walk(source, "", False)


def _prefix_match(path: str, pattern: str) -> bool:
    """``path`` is an ancestor of what ``pattern`` can match (so descending may find included fields)."""
    parts = pattern.split(".")
    have = path.split(".")
    return len(have) < len(parts) and all(fnmatch.fnmatchcase(h, p) for h, p in zip(have, parts))


def source_spec(body_value: Any, params: dict[str, str]) -> tuple[bool, list[str], list[str]]:
    """(fetch, includes, excludes) from the body ``_source`` and the ``_source*`` query parameters."""
    fetch, inc, exc = True, [], []
    value = body_value
    if "_source" in params:
        raw = params["_source"]
        value = False if raw == "false" else True if raw == "true" else raw.split(",")
    if value is False:
        fetch = False
    elif isinstance(value, str):
        inc = [value]
    elif isinstance(value, list):
        inc = [str(v) for v in value]
    elif isinstance(value, dict):
        inc = value.get("includes", value.get("include", [])) or []
        exc = value.get("excludes", value.get("exclude", [])) or []
        inc = [inc] if isinstance(inc, str) else list(inc)
        exc = [exc] if isinstance(exc, str) else list(exc)
    if params.get("_source_includes"):
        inc = params["_source_includes"].split(",")
        fetch = True
    if params.get("_source_excludes"):
        exc = params["_source_excludes"].split(",")
        fetch = True
    return fetch, inc, exc
