"""Self-describing parts of an event: the unstruct event, its entities, and derived contexts.

Each is parsed (bounded JSON depth), its envelope checked against ``unstruct_event``/``contexts``
``1-0-*`` and then every inner SDJ validated through the Iglu client (snowplow-formats.md §2.4).
Failures are schema_violations messages; superseded schemas add ``validation_info`` entities.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from ...iglu.validation import json_depth

UNSTRUCT_CRITERION = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-*"
CONTEXTS_CRITERION = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-*"
UNSTRUCT_URI = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
CONTEXTS_URI = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
VALIDATION_INFO = "iglu:com.snowplowanalytics.iglu/validation_info/jsonschema/1-0-0"
_NOT_B64 = re.compile(r"[^A-Za-z0-9+/\-_]")


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def decode_base64(text: str) -> str:
    """commons-codec's lenient decoder: both alphabets, optional padding, other characters skipped."""
    cleaned = _NOT_B64.sub("", text).replace("-", "+").replace("_", "/")
    if len(cleaned) % 4 == 1:  # a lone trailing character carries no full byte
        cleaned = cleaned[:-1]
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"exception decoding Base64 string: {exc}") from None
    return raw.decode("utf-8", "replace")


class Checked:
    """The outcome of validating one JSON column."""

    __slots__ = ("value", "messages", "infos")

    def __init__(self, value: Any = None):
        self.value = value
        self.messages: list[dict[str, Any]] = []
        self.infos: list[dict[str, Any]] = []


async def check(iglu: Any, instance: Any, criterion: str | None = None):
    """The client's warm-cache path when it can answer, else the async lookup."""
    result = iglu.check_sync(instance, criterion)
    if result is None:
        result = await iglu.check(instance, criterion)
    return result


def parse_json(text: str, field: str, max_depth: int, out: Checked) -> Any:
    try:
        value = json.loads(text)
    except ValueError as exc:
        out.messages.append({"field": field, "value": text, "error": f"invalid json: {exc}"})
        return None
    if text.count("{") + text.count("[") > max_depth and json_depth(value) > max_depth:
        out.messages.append({"field": field, "value": text,
                             "error": "invalid json: maximum allowed JSON depth exceeded"})
        return None
    return value


def _failure(result, instance: Any) -> dict[str, Any]:
    if result.not_iglu is not None:
        return result.not_iglu
    if result.error is not None:
        return {"schemaKey": result.schema_key, "error": result.error}
    return {"schemaKey": result.schema_key, "schemaCriterion": result.schema_criterion}


async def _inner(iglu: Any, sdj: Any, out: Checked) -> dict[str, Any] | None:
    """Validate one inner SDJ; return it (re-versioned when superseded) or None."""
    result = await check(iglu, sdj)
    if not result.ok:
        out.messages.append(_failure(result, sdj))
        return None
    if result.superseded_by:
        original = sdj["schema"]
        superseding = original.rsplit("/", 1)[0] + "/" + result.superseded_by
        info = {"schema": VALIDATION_INFO, "data": {"originalSchema": original, "validatedWith": result.superseded_by}}
        if info not in out.infos:
            out.infos.append(info)
        return {"schema": superseding, "data": sdj["data"]}
    return sdj


async def unstruct(iglu: Any, text: str, max_depth: int) -> Checked:
    """``ue_pr``/``ue_px`` text -> the inner SDJ (``.value``) or messages."""
    out = Checked()
    instance = parse_json(text, "unstruct", max_depth, out)
    if out.messages:
        return out
    result = await check(iglu, instance, UNSTRUCT_CRITERION)
    if not result.ok:
        out.messages.append(_failure(result, instance))
        return out
    out.value = await _inner(iglu, instance["data"], out)
    return out


async def contexts(iglu: Any, text: str, max_depth: int, field: str = "contexts") -> Checked:
    """``co``/``cx`` text -> the list of valid entities (``.value``) and messages for the others."""
    out = Checked([])
    instance = parse_json(text, field, max_depth, out)
    if out.messages:
        return out
    result = await check(iglu, instance, CONTEXTS_CRITERION)
    if not result.ok:
        out.messages.append(_failure(result, instance))
        return out
    for sdj in instance["data"]:
        entity = await _inner(iglu, sdj, out)
        if entity is not None:
            out.value.append(entity)
    return out


async def derived(iglu: Any, sdjs: list[dict[str, Any]]) -> Checked:
    """Validate the contexts enrichments produced."""
    out = Checked([])
    for sdj in sdjs:
        entity = await _inner(iglu, sdj, out)
        if entity is not None:
            out.value.append(entity)
    return out


def unstruct_column(inner: dict[str, Any]) -> str:
    return dumps({"schema": UNSTRUCT_URI, "data": inner})


def contexts_column(entities: list[dict[str, Any]]) -> str | None:
    return dumps({"schema": CONTEXTS_URI, "data": entities}) if entities else None
