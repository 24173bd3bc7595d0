"""The Thrift loader: RawEvents bytes -> a loaded collector payload, or its format violations.

Follows Snowplow's ThriftLoader (snowplow-formats.md §2.1): the schema must match
``CollectorPayload/thrift/1-0-*``, ``path`` gives the adapter's vendor/version, the querystring is
form-decoded, the network user id must be a UUID, and the client IP is rescanned from the headers.
Every problem found is its own ``collector_payload_format_violation`` message.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import unquote_plus

from ...common import badrows, collector_payload
from ...common.badrows import fit
from ...common.collector_payload import CollectorPayload, PayloadDecodeError

_PAYLOAD_CRITERION = re.compile(r"^iglu:com\.snowplowanalytics\.snowplow/CollectorPayload/thrift/1-0-\d+$")
_API_PATH = re.compile(r"^/?([^/]+)/([^/]+)/?$")
_LEGACY_PATH = re.compile(r"^/(i|ice\.png)(\?.*)?$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_XFF = re.compile(r"^x-forwarded-for\s*:\s*([^,]+)", re.IGNORECASE)
_FORWARDED = re.compile(r"^forwarded\s*:.*?for=\s*\"?\[?([^\];,\"\s]+)", re.IGNORECASE)
_QS_SEPARATORS = re.compile(r"[&;]")

TP1 = ("com.snowplowanalytics.snowplow", "tp1")


@dataclasses.dataclass
class Payload:
    """Snowplow's loaded CollectorPayload: the adapter's API, the parsed querystring, the context."""

    vendor: str
    version: str
    querystring: list[tuple[str, str | None]]
    content_type: str | None
    body: str | None
    collector: str
    encoding: str
    hostname: str | None
    timestamp: int | None
    ip: str | None
    useragent: str | None
    referer: str | None
    headers: list[str]
    nuid: str | None

    def as_payload_dict(self) -> dict[str, Any]:
        """The bad-row ``payload`` of adapter_failures / tracker_protocol_violations (§4.4).

        Strings are cut to the bad-row schema's ``maxLength`` so the row validates.
        """
        return {
            "vendor": fit(self.vendor, 64),
            "version": fit(self.version, 16),
            "querystring": [{"name": fit(k, 512), "value": fit(v, 512)} for k, v in self.querystring],
            "contentType": fit(self.content_type, 256),
            "body": self.body,
            "collector": fit(self.collector, 32),
            "encoding": fit(self.encoding, 32),
            "hostname": fit(self.hostname, 8192),
            "timestamp": badrows.joda(self.timestamp) if self.timestamp is not None else None,
            "ipAddress": fit(self.ip, 128),
            "useragent": fit(self.useragent, 4096),
            "refererUri": fit(self.referer, 8192),
            "headers": [fit(h, 8192) for h in self.headers],
            "networkUserId": self.nuid,
        }


class LoaderFailure(Exception):
    """The record is not a usable CollectorPayload; ``messages`` are cpform failure messages."""

    def __init__(self, messages: list[dict[str, Any]]):
        super().__init__(str(messages))
        self.messages = messages


def parse_querystring(qs: str, encoding: str = "UTF-8") -> list[tuple[str, str | None]]:
    """``application/x-www-form-urlencoded`` pairs as Apache's URLEncodedUtils splits them."""
    pairs: list[tuple[str, str | None]] = []
    if not qs:
        return pairs
    for token in _QS_SEPARATORS.split(qs):
        if not token:
            continue
        name, eq, value = token.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name, encoding, "replace")
        if not eq:
            pairs.append((name, None))
        elif "%" in value or "+" in value:
            pairs.append((name, unquote_plus(value, encoding, "replace")))
        else:
            pairs.append((name, value))
    return pairs


def extract_ip(headers: list[str], fallback: str | None) -> str | None:
    """Enrich's own header scan: X-Forwarded-For wins, then Forwarded ``for=``, then the collector's IP."""
    forwarded = None
    for header in headers:
        first = header[:1]
        if first in "xX":
            match = _XFF.match(header)
            if match and match.group(1).strip():
                return match.group(1).strip()
        elif first in "fF" and forwarded is None:
            match = _FORWARDED.match(header)
            if match:
                forwarded = match.group(1)
    return forwarded or fallback


def api_of(path: str) -> tuple[str, str] | None:
    match = _API_PATH.match(path)
    if match:
        return match.group(1), match.group(2)
    if _LEGACY_PATH.match(path):
        return TP1
    return None


def load(record: bytes) -> Payload:
    """Decode and check one RawEvents record; raise :class:`LoaderFailure` with every problem."""
    try:
        raw: CollectorPayload = collector_payload.decode(record)
    except PayloadDecodeError as exc:
        raise LoaderFailure([{"error": f"error deserializing raw event: {exc}"}]) from None
    messages: list[dict[str, Any]] = []
    if not isinstance(raw.schema, str) or not _PAYLOAD_CRITERION.match(raw.schema):
        messages.append({"error": "verifying record as iglu:com.snowplowanalytics.snowplow/CollectorPayload/"
                                  f"thrift/1-0-* failed: found {raw.schema}"})
    api = None
    if raw.path is None:
        messages.append({"payloadField": "path", "value": None, "expectation": "request does not contain a path"})
    else:
        api = api_of(raw.path)
        if api is None:
            messages.append({"payloadField": "path", "value": raw.path, "expectation":
                             "path does not match (/)vendor/version(/) nor is a legacy /i(ce.png) request"})
    encoding = raw.encoding or "UTF-8"
    querystring: list[tuple[str, str | None]] = []
    try:
        querystring = parse_querystring(raw.querystring or "", encoding)
    except LookupError as exc:  # an unknown charset name
        messages.append({"payloadField": "querystring", "value": raw.querystring, "expectation":
                         f"could not extract name-value pairs from querystring with encoding {encoding}: {exc}"})
    if raw.network_user_id is not None and not UUID_RE.match(raw.network_user_id):
        messages.append({"payloadField": "networkUserId", "value": raw.network_user_id,
                         "expectation": "not valid UUID"})
    if raw.timestamp is None:
        messages.append({"payloadField": "timestamp", "value": None, "expectation": "timestamp is required"})
    if messages:
        raise LoaderFailure(messages)
    headers = raw.headers or []
    return Payload(
        vendor=api[0],
        version=api[1],
        querystring=querystring,
        content_type=raw.content_type,
        body=raw.body,
        collector=raw.collector or "",
        encoding=encoding,
        hostname=raw.hostname,
        timestamp=raw.timestamp,
        ip=extract_ip(headers, raw.ip_address),
        useragent=raw.user_agent,
        referer=raw.referer_uri,
        headers=headers,
        nuid=raw.network_user_id.lower() if raw.network_user_id else None,
    )
