"""Index settings: accept nested or dotted input, keep flat ``index.*`` keys with string values (as OpenSearch)."""

from __future__ import annotations

from typing import Any


def flatten_settings(settings: dict[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in (settings or {}).items():
        full = prefix + key
        if isinstance(value, dict):
            flat.update(flatten_settings(value, full + "."))
        else:
            flat[full] = value
    if not prefix:
        flat = {(k if k.startswith("index.") else "index." + k): _setting_text(v) for k, v in flat.items()}
    return flat


def _setting_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_setting_text(v) for v in value]
    return str(value) if value is not None else None


def expand_settings(flat: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in sorted(flat.items()):
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree


def analysis_of(flat: dict[str, Any]) -> dict[str, Any]:
    analysis = expand_settings({k: v for k, v in flat.items() if k.startswith("index.analysis.")})
    return analysis.get("index", {}).get("analysis", {})
