"""Iglu Server's publish rules: schema checks, SchemaVer order (VersionCursor), patches, superseding.

``publish`` returns ``(status, body)`` exactly as Iglu Server 0.14 answers a PUT or POST.
"""

from __future__ import annotations

from ..core import ParseError, SchemaKey, SchemaVer, schema_body
from ..lint import ERROR, schema_checks
from .storage import Storage

NOT_CONFORM = "The schema does not conform to a JSON Schema v4 specification"


def cursor_problem(key: SchemaKey, existing: list[SchemaVer]) -> str | None:
    """Why ``key`` may not be added to a group holding ``existing`` versions (None: allowed)."""
    v = key.version
    have = set(existing)
    if v == SchemaVer(1, 0, 0) or v in have:
        return None
    gap = "Preceding SchemaVer in the group is missing, check that schemas published in proper order"
    if v.revision == 0 and v.addition == 0:
        return None if any(e.model == v.model - 1 for e in have) else gap
    if v.addition == 0:
        return None if any(e.model == v.model and e.revision == v.revision - 1 for e in have) else gap
    if SchemaVer(v.model, v.revision, v.addition - 1) not in have:
        return gap
    if any(e.model == v.model and e.revision > v.revision for e in have):
        return "The schema version is not sequential"
    return None


def publish(storage: Storage, key: SchemaKey, schema: dict, is_public: bool, patches_allowed: bool) -> tuple[int, dict]:
    issues = schema_checks(schema)
    errors = [i for i in issues if i.level == ERROR]
    if errors:
        return 400, {"message": NOT_CONFORM, "report": [i.as_json() for i in issues]}
    group = storage.list(key.vendor, key.name, key.format)
    existing = storage.get(key)
    if existing is not None and not patches_allowed:
        return 409, {"message": "Schema already exists"}
    others = [row for row in group if row.key != key]
    if others and any(row.is_public != is_public for row in others):
        return 409, {"message": "Inconsistent schema availability. Cannot add "
                     f"{'public' if is_public else 'private'} schema, previous versions are "
                     f"{'private' if is_public else 'public'}"}
    problem = cursor_problem(key, [row.key.version for row in group])
    if problem:
        return 409, {"message": problem}
    supersedes = schema.get("$supersedes") or []
    have = {row.key.version for row in group}
    for raw in supersedes:
        try:
            old = SchemaVer.parse(raw)
        except ParseError:
            return 400, {"message": f"Cannot parse version part '{raw}' as SchemaVer, INVALID_SCHEMAVER"}
        if old not in have or old >= key.version:
            return 409, {"message": f"Superseded version {raw} must exist and be lower than {key.version}"}
    updated = storage.put(key, schema_body(schema), is_public, list(supersedes))
    if updated:
        return 200, {"message": "Schema updated", "updated": True, "location": key.uri, "status": 200}
    return 201, {"message": "Schema created", "updated": False, "location": key.uri, "status": 201}
