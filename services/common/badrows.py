"""Snowplow bad rows (snowplow-badrows 2.3.0 shapes): the envelope, processors, and each type.

Every bad row is a compact self-describing JSON ``{"schema": "iglu:…badrows/<type>/jsonschema/<v>",
"data": {"processor", "failure", "payload"}}`` (snowplow-formats.md §4).  Started by the collector
issue, completed by enrich; builders return ``bytes`` ready to publish on ``BadEvents``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from typing import Any

from .. import __version__

VENDOR = "com.snowplowanalytics.snowplow.badrows"
VERSIONS = {
    "size_violation": "1-0-0",
    "collector_payload_format_violation": "1-0-0",
    "adapter_failures": "1-0-0",
    "tracker_protocol_violations": "1-0-1",
    "schema_violations": "2-0-1",
    "enrichment_failures": "2-0-1",
    "loader_parsing_error": "2-0-0",
    "generic_error": "1-0-0",
}


@dataclasses.dataclass(frozen=True)
class Processor:
    artifact: str
    version: str = __version__

    def as_json(self) -> dict[str, str]:
        return {"artifact": self.artifact, "version": self.version}


COLLECTOR = Processor("mini-collector")
ENRICH = Processor("mini-enrich")
SINK = Processor("mini-sink")


def schema_uri(kind: str) -> str:
    return f"iglu:{VENDOR}/{kind}/jsonschema/{VERSIONS[kind]}"


def instant(when: dt.datetime | None = None) -> str:
    """Java ``Instant.toString``: UTC, fraction printed in groups of 3 digits only as needed."""
    when = (when or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    micros = when.microsecond
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def envelope(kind: str, processor: Processor, failure: dict[str, Any], payload: Any) -> bytes:
    """The bad-row SDJ with ``data`` keys in Snowplow's order."""
    row = {
        "schema": schema_uri(kind),
        "data": {"processor": processor.as_json(), "failure": failure, "payload": payload},
    }
    return dumps(row).encode("utf-8")


def raw_payload(body: bytes) -> str:
    """A raw-string payload: the text itself when it is clean UTF-8, else standard base64."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        return base64.b64encode(body).decode("ascii")
    return text


def generic_error(processor: Processor, errors: list[str], payload: str, max_payload: int = 500_000) -> bytes:
    # Cut so the row still fits a 1 MB NSQ message: a row the broker refuses would be retried forever.
    return envelope("generic_error", processor, {"timestamp": instant(), "errors": errors}, payload[:max_payload])


# --- enrich's bad rows (§4.2-4.4); added by the enrich issue -------------------------------------


def fit(value: Any, limit: int) -> Any:
    """A string cut to a bad-row schema's ``maxLength`` (so the row validates); other values as they are."""
    return value[:limit] if isinstance(value, str) and len(value) > limit else value


def joda(ms: int) -> str:
    """Joda ISO instant with exactly three millisecond digits (collector-payload timestamps)."""
    when = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def size_violation(processor: Processor, maximum: int, actual: int, expectation: str, payload: str) -> bytes:
    failure = {"timestamp": instant(), "maximumAllowedSizeBytes": maximum, "actualSizeBytes": actual,
               "expectation": expectation}
    return envelope("size_violation", processor, failure, payload)


def cpform_violation(processor: Processor, message: dict[str, Any], payload: str) -> bytes:
    """``collector_payload_format_violation``: one loader message, payload = base64 of the record."""
    failure = {"timestamp": instant(), "loader": "thrift", "message": message}
    return envelope("collector_payload_format_violation", processor, failure, payload)


def adapter_failures(processor: Processor, vendor: str, version: str, messages: list[dict[str, Any]],
                     payload: dict[str, Any]) -> bytes:
    failure = {"timestamp": instant(), "vendor": vendor, "version": version, "messages": messages}
    return envelope("adapter_failures", processor, failure, payload)


def tracker_protocol_violations(processor: Processor, vendor: str, version: str,
                                messages: list[dict[str, Any]], payload: dict[str, Any]) -> bytes:
    failure = {"timestamp": instant(), "vendor": vendor, "version": version, "messages": messages}
    return envelope("tracker_protocol_violations", processor, failure, payload)


def schema_violations(processor: Processor, messages: list[dict[str, Any]], enriched: dict[str, Any],
                      raw: dict[str, Any]) -> bytes:
    failure = {"timestamp": instant(), "messages": messages}
    return envelope("schema_violations", processor, failure, {"enriched": enriched, "raw": raw})


def enrichment_failures(processor: Processor, messages: list[dict[str, Any]], enriched: dict[str, Any],
                        raw: dict[str, Any]) -> bytes:
    failure = {"timestamp": instant(), "messages": messages}
    return envelope("enrichment_failures", processor, failure, {"enriched": enriched, "raw": raw})
