"""Snowplow's tracker protocol adapters: tp1 (``GET /i``) and tp2 (GET or POST ``payload_data``).

tp1 failures are ``adapter_failures``; tp2 failures are ``tracker_protocol_violations``.  A tp2 POST
body must be JSON, self-describing, ``payload_data/jsonschema/1-0-*`` and valid against the version
it names; every event's values must be strings; querystring parameters override body values.
"""

from __future__ import annotations

import json
from typing import Any

from ...iglu.core import ParseError, parse_sdj
from .failure import AdapterFailure, input_data, raw_event
from .raw_event import RawEvent

PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*"
CONTENT_TYPES = ("application/json", "application/json; charset=utf-8", "application/json; charset=UTF-8")
_CT_EXPECTATION = "expected one of " + ", ".join(CONTENT_TYPES)
_TPV = "tracker_protocol_violations"


def tp1(payload) -> list[RawEvent]:
    if not payload.querystring:
        raise AdapterFailure("adapter_failures", [
            input_data("querystring", None, "empty querystring: not a valid URI redirect")])
    return [raw_event(payload, dict(payload.querystring))]


async def tp2(payload, iglu: Any) -> list[RawEvent]:
    query = dict(payload.querystring)
    body = payload.body or None
    ctype = payload.content_type
    if body is None and not query:
        raise AdapterFailure(_TPV, [
            input_data("body", None, "empty body: not a valid tracker protocol event"),
            input_data("querystring", None, "empty querystring: not a valid tracker protocol event"),
        ])
    if body is None:
        if ctype is not None:
            raise AdapterFailure(_TPV, [input_data("body", None, "empty body: not a valid track protocol event")])
        return [raw_event(payload, query)]
    if ctype is None or ctype not in CONTENT_TYPES:
        raise AdapterFailure(_TPV, [input_data("contentType", ctype, _CT_EXPECTATION)])
    events = await payload_data_events(body, iglu, _TPV)
    if query:
        for params in events:
            params.update(query)
    return [raw_event(payload, params) for params in events]


async def payload_data_events(body: str, iglu: Any, kind: str) -> list[dict[str, str | None]]:
    """Parse and validate a ``payload_data`` body; return one parameter dict per event."""
    try:
        instance = json.loads(body)
    except ValueError as exc:
        raise AdapterFailure(kind, [{"field": "body", "value": body, "error": f"invalid json: {exc}"}]) from None
    try:
        key, _ = parse_sdj(instance)
    except ParseError as exc:
        raise AdapterFailure(kind, [{"json": instance, "error": exc.code}]) from None
    result = iglu.check_sync(instance, PAYLOAD_DATA) if hasattr(iglu, "check_sync") else None
    if result is None:
        result = await iglu.check(instance, PAYLOAD_DATA)
    if not result.ok:
        if result.error is not None:
            raise AdapterFailure(kind, [{"schemaKey": key.uri, "error": result.error}])
        raise AdapterFailure(kind, [{"schemaKey": key.uri, "schemaCriterion": PAYLOAD_DATA}])
    data = instance["data"]
    if not isinstance(data, list):
        raise AdapterFailure(kind, [input_data("body", body, "data is not an array of events")])
    if not data:
        raise AdapterFailure(kind, [input_data("body", body, "empty list of events")])
    events: list[dict[str, str | None]] = []
    messages: list[dict[str, Any]] = []
    for item in data:
        if not isinstance(item, dict):
            messages.append(input_data("body", json.dumps(item, ensure_ascii=False), "event is not an object"))
            continue
        for name, value in item.items():
            if value is None:
                messages.append(input_data(name, None, "value cannot be null"))
            elif not isinstance(value, str):
                messages.append(input_data(name, json.dumps(value, ensure_ascii=False), "value is not a string"))
        events.append(item)
    if messages:
        raise AdapterFailure(kind, messages)
    return events
