"""PUT _mapping: merging new properties into a mapping by OpenSearch's rules (types never change)."""

from __future__ import annotations

import copy
from typing import Any

from .errors import bad_request


def merge_properties(into: dict[str, Any], new: dict[str, Any], prefix: str) -> None:
    for name, spec in new.items():
        path = prefix + name
        if name not in into:
            into[name] = copy.deepcopy(spec)
            continue
        old = into[name]
        old_kind = old.get("type", "object")
        new_kind = spec.get("type", "object" if "properties" in spec else old_kind)
        if old_kind != new_kind:
            raise bad_request(f"mapper [{path}] cannot be changed from type [{old_kind}] to [{new_kind}]")
        if old_kind in ("object", "nested"):
            merge_properties(old.setdefault("properties", {}), spec.get("properties", {}) or {}, path + ".")
            for key, value in spec.items():
                if key != "properties":
                    old[key] = value
        else:
            merged_fields = dict(old.get("fields", {}))
            merged_fields.update(spec.get("fields", {}) or {})
            for key in ("format", "analyzer"):
                if key in spec and spec.get(key) != old.get(key):
                    raise bad_request(f"Mapper for [{path}] conflicts with existing mapper:\n\t"
                                      f"Cannot update parameter [{key}] from [{old.get(key)}] to [{spec.get(key)}]")
            old.update(spec)
            if merged_fields:
                old["fields"] = merged_fields
