"""What the sinks index: an enriched TSV line → the good document, a bad row → the bad document.

Good documents are the Scala Analytics SDK's ``toJson(lossy = true)`` (snowplow-formats.md §5.1, §6.2):
every atomic field typed, nulls kept, entities shredded to ``contexts_*``/``unstruct_event_*`` keys.
Bad documents get §5.2's ``_str``/``_list`` rewrite.  A record that cannot be turned into a document
becomes a loader bad row (data, never an exception).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import hashlib
import json
import re
from typing import Any

from services.common import badrows
from services.common.enriched_event import FIELDS, JSON_FIELDS, TIMESTAMP_FIELDS

# The Scala SDK's field types (§3.1 "SDK type" column); every other field is an optional string.
INT = frozenset({
    "txn_id", "domain_sessionidx", "page_urlport", "refr_urlport", "ti_quantity", "pp_xoffset_min",
    "pp_xoffset_max", "pp_yoffset_min", "pp_yoffset_max", "br_viewwidth", "br_viewheight",
    "dvce_screenwidth", "dvce_screenheight", "doc_width", "doc_height",
})
DOUBLE = frozenset({
    "geo_latitude", "geo_longitude", "se_value", "tr_total", "tr_tax", "tr_shipping", "ti_price",
    "tr_total_base", "tr_tax_base", "tr_shipping_base", "ti_price_base",
})
BOOLEAN = frozenset({
    "br_features_pdf", "br_features_flash", "br_features_java", "br_features_director",
    "br_features_quicktime", "br_features_realplayer", "br_features_windowsmedia", "br_features_gears",
    "br_features_silverlight", "br_cookies", "dvce_ismobile",
})
REQUIRED = frozenset({"collector_tstamp", "event_id", "v_collector", "v_etl"})

CONTEXTS_SCHEMA = re.compile(r"^iglu:com\.snowplowanalytics\.snowplow/contexts/jsonschema/1-0-\d+$")
UNSTRUCT_SCHEMA = re.compile(r"^iglu:com\.snowplowanalytics\.snowplow/unstruct_event/jsonschema/1-0-\d+$")
IGLU_URI = re.compile(r"^iglu:([a-zA-Z0-9\-_.]+)/([a-zA-Z0-9\-_]+)/([a-zA-Z0-9\-_]+)/(\d+)-(\d+)-(\d+)$")
_INT = re.compile(r"^[+-]?\d+$")
_DOUBLE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_UUID = re.compile(r"^[0-9a-fA-F]{1,8}-[0-9a-fA-F]{1,4}-[0-9a-fA-F]{1,4}-[0-9a-fA-F]{1,4}-[0-9a-fA-F]{1,12}$")
_INSTANT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$")
_CAMEL = re.compile(r"([^A-Z_])([A-Z])")

BADROWS_PREFIX = f"iglu:{badrows.VENDOR}/"


@dataclasses.dataclass(frozen=True)
class Document:
    """One document ready for ``_bulk``: its ``_id`` and ``_source``."""

    id: str
    source: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class LoaderBadRow:
    """A record the sink could not turn into a document: the bad row for BadElasticsearchEvents."""

    row: bytes


class _Invalid(Exception):
    def __init__(self, message: str):
        self.message = message


# --- good documents ---------------------------------------------------------------------------------


def good_document(record: bytes) -> Document | LoaderBadRow:
    """Parse one enriched TSV record as the Scala SDK does and build its lossy-JSON document (§5.1)."""
    line = record.decode("utf-8", errors="replace")
    parts = line.split("\t")
    if len(parts) == 1:
        return parsing_error(record, {"type": "NotTSV"})
    if len(parts) != len(FIELDS):
        return parsing_error(record, {"type": "FieldNumberMismatch", "fieldCount": len(parts)})
    doc: dict[str, Any] = {}
    shredded: dict[str, Any] = {}
    derived: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for name, raw in zip(FIELDS, parts):
        try:
            if name in JSON_FIELDS:
                target = derived if name == "derived_contexts" else shredded
                target.update(_shred(name, raw))
            else:
                doc[name] = _atomic(name, raw)
        except _Invalid as exc:
            errors.append({"type": "InvalidValue", "key": name, "value": raw, "message": exc.message})
    if errors:
        return parsing_error(record, {"type": "RowDecodingError", "errors": errors})
    lat, lon = doc["geo_latitude"], doc["geo_longitude"]
    if lat is not None and lon is not None:
        doc["geo_location"] = f"{java_double(lat)},{java_double(lon)}"
    doc.update(shredded)
    doc.update(derived)  # the SDK merges derived_contexts last: it wins a clash
    return Document(doc["event_id"], doc)


def _atomic(name: str, raw: str) -> Any:
    if raw == "":
        if name in REQUIRED:
            raise _Invalid(f"Field {name} cannot be empty")
        return None
    if name in TIMESTAMP_FIELDS:
        return instant(raw, name)
    if name in INT:
        if not _INT.match(raw) or not -(2**31) <= int(raw) < 2**31:
            raise _Invalid(f"Cannot parse key {name} into integer")
        return int(raw)
    if name in DOUBLE:
        if not _DOUBLE.match(raw):
            raise _Invalid(f"Cannot parse key {name} into double")
        return float(raw)
    if name in BOOLEAN:
        if raw not in ("0", "1"):
            raise _Invalid(f"Cannot parse key {name} into boolean")
        return raw == "1"
    if name == "event_id":
        if not _UUID.match(raw):
            raise _Invalid(f"Cannot parse key {name} into UUID")
        # Java's UUID.toString: canonical, lower case, zero-padded groups.
        return "-".join(f"{int(g, 16):0{w}x}" for g, w in zip(raw.split("-"), (8, 4, 4, 4, 12)))
    return raw


def instant(raw: str, name: str = "timestamp") -> str:
    """TSV timestamp → Java ``Instant.toString`` (fraction only when non-zero, in groups of 3 digits)."""
    match = _INSTANT.match(raw.replace(" ", "T") + "Z")
    if not match:
        raise _Invalid(f"Cannot parse key {name} into datetime")
    y, mo, d, h, mi, s, frac = match.groups()
    try:
        dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError:
        raise _Invalid(f"Cannot parse key {name} into datetime") from None
    nanos = int((frac or "").ljust(9, "0"))
    base = f"{y}-{mo}-{d}T{h}:{mi}:{s}"
    if nanos == 0:
        return base + "Z"
    if nanos % 1_000_000 == 0:
        return f"{base}.{nanos // 1_000_000:03d}Z"
    if nanos % 1000 == 0:
        return f"{base}.{nanos // 1000:06d}Z"
    return f"{base}.{nanos:09d}Z"


def java_double(value: float) -> str:
    """Java ``Double.toString``: plain between 1e-3 and 1e7, else ``d.dddE±n``; always a decimal point."""
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(float(value))
        return text if "." in text else text + ".0"
    number = decimal.Decimal(repr(float(value)))  # the shortest round-trip digits, as Java picks
    sign, digits, _ = number.as_tuple()
    significand = "".join(map(str, digits)).rstrip("0") or "0"
    return f"{'-' if sign else ''}{significand[0]}.{significand[1:] or '0'}E{number.adjusted()}"


def shredded_name(prefix: str, schema: str) -> str | None:
    """``iglu:org.w3/PerformanceTiming/jsonschema/1-0-0`` → ``contexts_org_w3_performance_timing_1``."""
    match = IGLU_URI.match(schema)
    if not match:
        return None
    vendor, name, _format, model = match.group(1), match.group(2), match.group(3), match.group(4)
    vendor = vendor.replace(".", "_").replace("-", "_").lower()
    name = _CAMEL.sub(r"\1_\2", name.replace(".", "_").replace("-", "_")).lower()
    return f"{prefix}_{vendor}_{name}_{model}"


def _shred(column: str, raw: str) -> dict[str, Any]:
    if raw == "":
        return {}
    try:
        sdj = json.loads(raw)
    except ValueError as exc:
        raise _Invalid(f"Cannot parse key {column} into JSON: {exc}") from None
    if not isinstance(sdj, dict) or not isinstance(sdj.get("schema"), str) or "data" not in sdj:
        raise _Invalid(f"Field {column} is not a self-describing JSON")
    schema = sdj["schema"]
    if column == "unstruct_event":
        if not UNSTRUCT_SCHEMA.match(schema):
            raise _Invalid(f"Unknown payload: {schema}")
        inner = sdj["data"]
        key = _entity_key("unstruct_event", inner)
        return {key: inner["data"]}
    if not CONTEXTS_SCHEMA.match(schema):
        raise _Invalid(f"Unknown payload: {schema}")
    if not isinstance(sdj["data"], list):
        raise _Invalid(f"Field {column} is not a self-describing JSON array")
    out: dict[str, list[Any]] = {}
    for entity in sdj["data"]:
        key = _entity_key("contexts", entity)
        data = entity["data"]
        if isinstance(data, dict):
            version = IGLU_URI.match(entity["schema"]).group(4, 5, 6)
            data = {**data, "_schema_version": "-".join(version)}
        out.setdefault(key, []).append(data)
    return out


def _entity_key(prefix: str, entity: Any) -> str:
    if not isinstance(entity, dict) or not isinstance(entity.get("schema"), str) or "data" not in entity:
        raise _Invalid(f"Entity is not a self-describing JSON: {badrows.dumps(entity)[:200]}")
    key = shredded_name(prefix, entity["schema"])
    if key is None:
        raise _Invalid(f"Invalid Iglu URI: {entity['schema']}")
    return key


def parsing_error(record: bytes, failure: dict[str, Any]) -> LoaderBadRow:
    """A ``loader_parsing_error`` bad row whose payload is the record in base64 (§5.1)."""
    payload = base64.b64encode(record).decode("ascii")
    return LoaderBadRow(badrows.envelope("loader_parsing_error", badrows.SINK, failure, payload))


# --- bad documents ----------------------------------------------------------------------------------


def bad_row_id(record: bytes) -> str:
    """Deterministic ``_id`` of a bad row: redelivering the same row overwrites, never duplicates."""
    return hashlib.sha256(record).hexdigest()[:40]


def bad_document(record: bytes) -> Document | LoaderBadRow:
    """A bad-row JSON → its document with §5.2's rewrite (other JSON objects are indexed unchanged)."""
    try:
        row = json.loads(record)
    except (ValueError, UnicodeDecodeError) as exc:
        return rejected(record, f"Cannot parse bad row as JSON: {exc}")
    if not isinstance(row, dict):
        return rejected(record, "Cannot index a bad row that is not a JSON object")
    schema = row.get("schema")
    if isinstance(schema, str) and schema.startswith(BADROWS_PREFIX) and isinstance(row.get("data"), dict):
        row = {**row, "data": rewrite(row["data"])}
    return Document(bad_row_id(record), row)


def rewrite(data: dict[str, Any]) -> dict[str, Any]:
    """§5.2 steps 1-8, in order, on a copy of the bad row's ``data``."""
    data = json.loads(json.dumps(data))  # a deep copy we may mutate
    _rename(data, "failure")
    _rename(data, "payload")
    raw = data.get("payload", {}).get("raw") if isinstance(data.get("payload"), dict) else None
    if isinstance(raw, dict):
        _stringify(raw, "parameters")
    failure = data.get("failure")
    if isinstance(failure, dict):
        for key in ("error", "errors", "message"):
            _rename(failure, key)
        messages = failure.get("messages")
        if isinstance(messages, list):
            for message in messages:
                if not isinstance(message, dict):
                    continue
                _rename(message, "error")
                _stringify(message, "expectedMapping")
                _stringify(message, "json")
                if isinstance(message.get("message"), dict):
                    _rename(message["message"], "error")
    failures = data.get("failure_list")
    if isinstance(failures, list):
        for item in failures:
            if isinstance(item, dict):
                _rename(item, "error")
                _stringify(item, "value")
    return data


def _rename(obj: dict[str, Any], key: str) -> None:
    """A string value moves to ``key_str``, an array to ``key_list``; objects stay."""
    if key not in obj:
        return
    value = obj[key]
    if isinstance(value, str):
        obj[f"{key}_str"] = obj.pop(key)
    elif isinstance(value, list):
        obj[f"{key}_list"] = obj.pop(key)


def _stringify(obj: dict[str, Any], key: str) -> None:
    if key in obj and not isinstance(obj[key], str):
        obj[key] = badrows.dumps(obj[key])


# --- rejections -------------------------------------------------------------------------------------


def rejected(record: bytes, error: str) -> LoaderBadRow:
    """A ``generic_error`` bad row carrying the record (or the rejected document) as its payload."""
    return LoaderBadRow(badrows.generic_error(badrows.SINK, [error], badrows.raw_payload(record)))


def index_rejection(document: Document, error_type: str, reason: str) -> LoaderBadRow:
    """§5.1: ``Failed to write to Elasticsearch: <type>: <reason>``, payload = the JSON document."""
    return rejected(badrows.dumps(document.source).encode("utf-8"),
                    f"Failed to write to Elasticsearch: {error_type}: {reason}")
