"""Deterministic instance generation for validation tests: a near-valid instance per schema plus
mutations aimed at each draft-4 keyword and Snowplow quirk (types, formats, lengths, extra keys)."""

from __future__ import annotations

import copy
import random
from typing import Any

FORMAT_SAMPLES = {
    "date-time": ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123+01:00", "2024-02-30T00:00:00Z",
                  "2024-01-02 03:04:05Z", "2024-01-02T03:04:05", "2016-12-31T23:59:60Z"],
    "date": ["2024-02-29", "2023-02-29", "2024-1-2", "2024-01-02T00:00:00Z"],
    "uuid": ["c8bc8a5c-2a4d-4c0b-9c4d-5e3e2a1b0f9d", "C8BC8A5C-2A4D-4C0B-9C4D-5E3E2A1B0F9D", "not-a-uuid",
             "c8bc8a5c2a4d4c0b9c4d5e3e2a1b0f9d"],
    "uri": ["https://example.com/a?b=c#d", "mailto:a@b.com", "no scheme", "http://a b", "http://é.com", "urn:x:y"],
    "email": ["someone@example.com", "a.b@example.co.uk", "no-at-sign", "a@b", "a@example.zzzz", "\"q u\"@example.org"],
    "ipv4": ["192.168.0.1", "256.1.1.1", "01.2.3.4", "1.2.3"],
    "ipv6": ["::1", "2001:db8::1", "fe80::1%eth0", " ::1", "12345::"],
    "hostname": ["example.com", "a-b.c", "-bad.com", "under_score.com"],
}
ODD_VALUES = [None, True, False, 0, 1, -1, 1.0, 1.5, -0.0, 1e2, 10 ** 20, "", "5", "x" * 300, "é" * 10,
              [], [1], {}, {"a": 1}]


def resolve(schema: Any, root: dict) -> Any:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if isinstance(ref, str) and ref.startswith("#/"):
        node = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node
    return schema


def generate(schema: Any, root: dict, rng: random.Random, depth: int = 0) -> Any:
    schema = resolve(schema, root)
    if not isinstance(schema, dict) or depth > 8:
        return rng.choice(ODD_VALUES)
    if "enum" in schema and schema["enum"]:
        return copy.deepcopy(rng.choice(schema["enum"]))
    for key in ("oneOf", "anyOf", "allOf"):
        if schema.get(key):
            branch = resolve(rng.choice(schema[key]), root)
            merged = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf", "allOf")}
            if isinstance(branch, dict):
                merged.update(branch)
            return generate(merged, root, rng, depth + 1)
    types = schema.get("type")
    if types is None:
        types = ["object"] if "properties" in schema else ["array"] if "items" in schema else ["string", "integer"]
    elif isinstance(types, str):
        types = [types]
    kind = rng.choice(types) if types else "null"
    if kind == "object":
        out = {}
        required = set(schema.get("required") or [])
        for name, sub in (schema.get("properties") or {}).items():
            if name in required or rng.random() < 0.7:
                out[name] = generate(sub, root, rng, depth + 1)
        return out
    if kind == "array":
        lo = schema.get("minItems", 0)
        hi = min(schema.get("maxItems", lo + 3), lo + 3)
        items = schema.get("items", {})
        return [generate(items[i % len(items)] if isinstance(items, list) and items else items, root, rng, depth + 1)
                for i in range(rng.randint(lo, max(lo, hi)))]
    if kind == "string":
        fmt = schema.get("format")
        if fmt in FORMAT_SAMPLES:
            return FORMAT_SAMPLES[fmt][0] if rng.random() < 0.8 else rng.choice(FORMAT_SAMPLES[fmt])
        lo = schema.get("minLength", 0)
        hi = min(schema.get("maxLength", lo + 12), lo + 12)
        alphabet = "abcXYZ019_-" + ("é漢" if rng.random() < 0.2 else "")
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, max(lo, hi))))
    if kind in ("integer", "number"):
        lo = schema.get("minimum", -1000)
        hi = schema.get("maximum", 1000)
        lo, hi = (lo, hi) if lo <= hi else (hi, lo)
        if kind == "integer":
            return rng.randint(int(lo) if lo == int(lo) else int(lo) + 1, int(hi))
        return round(rng.uniform(lo, hi), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    return None


def _paths(value: Any, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def mutate(instance: Any, rng: random.Random) -> Any:
    out = copy.deepcopy(instance)
    paths = list(_paths(out))
    path = rng.choice(paths)
    if not path:
        return rng.choice(ODD_VALUES + [out])
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    action = rng.random()
    if isinstance(parent, dict) and action < 0.2:
        del parent[last]
    elif isinstance(parent, dict) and action < 0.35:
        parent["zz_extra_" + str(rng.randint(0, 9))] = rng.choice(ODD_VALUES)
    elif isinstance(parent[last], str) and action < 0.7:
        choices = [v for vals in FORMAT_SAMPLES.values() for v in vals] + ["", "x" * 5000, parent[last] + "é"]
        parent[last] = rng.choice(choices)
    else:
        parent[last] = copy.deepcopy(rng.choice(ODD_VALUES))
    return out


def instances(schema: dict, seed: int, valid: int = 3, mutations: int = 8) -> list:
    rng = random.Random(seed)
    base = [generate(schema, schema, rng) for _ in range(valid)]
    return base + [mutate(rng.choice(base), rng) for _ in range(mutations)]
