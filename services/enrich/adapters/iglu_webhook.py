"""The Iglu webhook adapter (``/com.snowplowanalytics.iglu/v1``): any self-describing event by URL.

``schema=<iglu uri>`` in the querystring names the event's schema and the other parameters (or a
JSON / form body) are its data; without ``schema`` a JSON body must itself be self-describing.
Failures are ``adapter_failures`` (snowplow-formats.md §2.1).
"""

from __future__ import annotations

import json
from typing import Any

from ...iglu.core import ParseError, SchemaKey
from ..loaders.thrift import parse_querystring
from .failure import AdapterFailure, input_data, raw_event
from .raw_event import RawEvent

UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
JSON_TYPES = ("application/json", "application/json; charset=utf-8")
FORM = "application/x-www-form-urlencoded"
_EXCLUDED = ("schema", "nuid", "aid", "cv", "p")
_KEPT = ("nuid", "aid", "cv", "eid", "ttm", "url")
_FAIL = "adapter_failures"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def iglu_webhook(payload) -> list[RawEvent]:
    query = dict(payload.querystring)
    body = payload.body or None
    ctype = payload.content_type
    if body is not None and ctype is None:
        raise AdapterFailure(_FAIL, [input_data("contentType", None,
                                                "expected one of application/json, application/json; "
                                                "charset=utf-8, application/x-www-form-urlencoded")])
    schema = query.get("schema")
    if schema is None and body is None:
        raise AdapterFailure(_FAIL, [input_data("schema", None, "empty `schema` field"),
                                     input_data("body", None, "empty body")])
    is_form = ctype is not None and ctype.split(";")[0].strip() == FORM
    if ctype is not None and not is_form and ctype not in JSON_TYPES and body is not None:
        raise AdapterFailure(_FAIL, [input_data("contentType", ctype,
                                                "expected one of application/json, application/json; "
                                                "charset=utf-8, application/x-www-form-urlencoded")])
    platform = query.get("p") or ("srv" if is_form else "app")
    if schema is not None:
        key = _schema_key(schema)
        if body is None:
            data = {k: (v or None) for k, v in query.items() if k not in _EXCLUDED}
            if not data:
                raise AdapterFailure(_FAIL, [input_data("querystring", None,
                                                        f"schema {schema} has no key-value pairs")])
            sdjs = [{"schema": key, "data": data}]
        elif is_form:
            form = {k: (v or "") for k, v in parse_querystring(body, payload.encoding)}
            if not form:
                raise AdapterFailure(_FAIL, [input_data("body", body, "has no key-value pairs")])
            sdjs = [{"schema": key, "data": form}]
        else:
            parsed = _json(body)
            items = parsed if isinstance(parsed, list) else [parsed]
            if not items:
                raise AdapterFailure(_FAIL, [input_data("body", body, "empty array of events")])
            sdjs = [{"schema": key, "data": item} for item in items]
    else:
        if is_form:
            raise AdapterFailure(_FAIL, [input_data("schema", None, "empty `schema` field")])
        parsed = _json(body)
        if not isinstance(parsed, dict) or not isinstance(parsed.get("schema"), str) or "data" not in parsed:
            raise AdapterFailure(_FAIL, [input_data("body", body, "body is not a self-describing JSON")])
        sdjs = [{"schema": _schema_key(parsed["schema"]), "data": parsed["data"]}]
    events = []
    for sdj in sdjs:
        params: dict[str, str | None] = {k: query[k] for k in _KEPT if k in query}
        params.update({"tv": "com.snowplowanalytics.iglu-v1", "e": "ue", "p": platform,
                       "ue_pr": _dumps({"schema": UNSTRUCT, "data": sdj})})
        events.append(raw_event(payload, params))
    return events


def _schema_key(uri: str) -> str:
    try:
        return SchemaKey.parse(uri).uri
    except ParseError as exc:
        raise AdapterFailure(_FAIL, [input_data("schema", uri, f"is not a valid Iglu URI: {exc.code}")]) from None


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise AdapterFailure(_FAIL, [{"field": "body", "value": body, "error": f"invalid json: {exc}"}]) from None
