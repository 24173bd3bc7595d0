"""Records for the output topics: the TSV of a good event, and every bad row enrich writes.

The TSV format itself lives in ``services/common/enriched_event.py`` (the sinks read it too); here
an oversized line becomes a ``size_violation`` (snowplow-formats.md §3.6) and failure messages are
cut to their bad-row schema's limits.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ...common import badrows
from ...common.badrows import ENRICH, fit


def encode_line(line: str) -> bytes:
    # A lone surrogate from a JSON "\ud800" escape cannot be UTF-8: keep it as the JSON escape text.
    try:
        return line.encode("utf-8")
    except UnicodeEncodeError:
        return line.encode("utf-8", "backslashreplace")


def good(line: str, max_bytes: int) -> tuple[bool, bytes]:
    """``(True, tsv)`` or, when the line is too big for the topic, ``(False, size_violation)``."""
    data = encode_line(line)
    if len(data) <= max_bytes:
        return True, data
    expectation = f"Enriched event exceeds the maximum allowed size of {max_bytes} bytes"
    return False, badrows.size_violation(ENRICH, max_bytes, len(data), expectation,
                                         data[: max_bytes // 10].decode("utf-8", "ignore"))


def bounded(row: bytes, max_bytes: int) -> bytes:
    """A bad row too big for the topic becomes a size_violation carrying its start (as Snowplow's loaders do)."""
    if len(row) <= max_bytes:
        return row
    return badrows.size_violation(ENRICH, max_bytes, len(row), f"Bad row exceeds allowed max size of {max_bytes} bytes",
                                  row[: max_bytes // 10].decode("utf-8", "ignore"))


def cpform(record: bytes, message: dict[str, Any]) -> bytes:
    message = dict(message)
    if "error" in message:
        message["error"] = fit(message["error"], 512)
    if "expectation" in message:
        message["expectation"] = fit(message["expectation"], 256)
    return badrows.cpform_violation(ENRICH, message, base64.b64encode(record).decode("ascii"))


def _iglu_error(error: Any) -> Any:
    """Registry error messages are limited to 256 characters by the bad-row schemas."""
    if not isinstance(error, dict) or "lookupHistory" not in error:
        return error
    history = []
    for item in error["lookupHistory"]:
        item = dict(item)
        item["errors"] = [{**e, "message": fit(e["message"], 256)} if "message" in e else e
                          for e in item.get("errors", [])]
        history.append(item)
    return {**error, "lookupHistory": history}


def _text_value(message: dict[str, Any]) -> None:
    """InputData ``value`` is a string or null in every bad-row schema."""
    if "value" in message and message["value"] is not None and not isinstance(message["value"], str):
        message["value"] = json.dumps(message["value"], ensure_ascii=False)


def _messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        message = dict(message)
        if "field" in message:
            _text_value(message)
        if "schemaKey" in message and "error" in message:
            message["error"] = _iglu_error(message["error"])
        if "field" in message:
            message["field"] = fit(message["field"], 64)
        if "expectation" in message:
            message["expectation"] = fit(message["expectation"], 256)
        out.append(message)
    return out


def adapter(kind: str, payload, messages: list[dict[str, Any]]) -> bytes:
    build = badrows.adapter_failures if kind == "adapter_failures" else badrows.tracker_protocol_violations
    return build(ENRICH, fit(payload.vendor, 64), fit(payload.version, 16), _messages(messages),
                 payload.as_payload_dict())


def event_failure(kind: str, messages: list[dict[str, Any]], event, raw) -> bytes:
    if kind == "enrichment_failures":
        fixed = []
        for m in messages:
            body = dict(m["message"])
            _text_value(body)
            if "error" in body and isinstance(body["error"], str):
                body["error"] = fit(body["error"], 512)
            elif "schemaKey" in body and "error" in body:
                body["error"] = _iglu_error(body["error"])
            if "field" in body:
                body["field"] = fit(body["field"], 64)
            if "expectation" in body:
                body["expectation"] = fit(body["expectation"], 256)
            fixed.append({"enrichment": m.get("enrichment"), "message": body})
        return badrows.enrichment_failures(ENRICH, fixed, event.as_payload_dict(), raw.as_payload_dict())
    return badrows.schema_violations(ENRICH, _messages(messages), event.as_payload_dict(), raw.as_payload_dict())
