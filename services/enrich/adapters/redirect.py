"""The redirect adapter (``/r/tp2``): the ``u`` target becomes a ``uri_redirect`` event or entity.

Without ``e`` the event is an unstruct ``uri_redirect``; with ``e`` the entity is prepended to the
event's ``cx``/``co`` contexts (snowplow-formats.md §2.1).  Failures are tracker_protocol_violations.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse

from .failure import AdapterFailure, input_data, raw_event
from .raw_event import RawEvent

URI_REDIRECT = "iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0"
UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
_TPV = "tracker_protocol_violations"


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def redirect(payload) -> list[RawEvent]:
    query = dict(payload.querystring)
    if not query:
        raise AdapterFailure(_TPV, [input_data("querystring", None, "empty querystring: not a valid URI redirect")])
    if query.get("u") is None:
        rendered = urllib.parse.urlencode([(k, v or "") for k, v in payload.querystring])
        raise AdapterFailure(_TPV, [input_data("querystring", rendered,
                                               "missing `u` parameter: not a valid URI redirect")])
    entity = {"schema": URI_REDIRECT, "data": {"uri": query.pop("u")}}
    params = dict(query)
    if "e" not in params:
        params["e"] = "ue"
        params["ue_pr"] = _dumps({"schema": UNSTRUCT, "data": entity})
    elif params.get("cx"):
        params["cx"] = _prepend_b64(params["cx"], entity)
    elif params.get("co"):
        params["co"] = _prepend_json(params["co"], entity)
    else:
        params["co"] = _dumps({"schema": CONTEXTS, "data": [entity]})
    params["tv"] = "r-tp2"
    params.setdefault("p", "web")
    if params["p"] is None:
        params["p"] = "web"
    return [raw_event(payload, params)]


def _prepend_json(text: str, entity: dict) -> str:
    try:
        contexts = json.loads(text)
        contexts["data"].insert(0, entity)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AdapterFailure(_TPV, [{"field": "co", "value": text, "error": f"invalid json: {exc}"}]) from None
    return _dumps(contexts)


def _prepend_b64(text: str, entity: dict) -> str:
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise AdapterFailure(_TPV, [{"field": "cx", "value": text, "error": f"invalid base64: {exc}"}]) from None
    return base64.urlsafe_b64encode(_prepend_json(decoded, entity).encode("utf-8")).decode("ascii").rstrip("=")
