"""The CollectorPayload Thrift codec: what the collector writes to ``RawEvents`` and enrich reads.

``encode(payload) -> bytes`` and ``decode(bytes) -> CollectorPayload`` (raising
:class:`PayloadDecodeError`) speak Apache Thrift TBinaryProtocol with Snowplow's field ids
(snowplow-formats.md §1.2; IDL beside this file), byte-compatible with Snowplow's Java ``TSerializer``.
``to_thrift_string(payload)`` renders the Java ``toString()`` used as the payload of collector
``size_violation`` bad rows.

The :class:`CollectorPayload` dataclass uses snake_case names; the Snowplow (Thrift) names and ids:

    ============== =============== ===== ======================================================
    attribute      Thrift name     id    meaning
    ============== =============== ===== ======================================================
    schema         schema          31337 ``iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0``
    ip_address     ipAddress       100   client IP (X-Forwarded-For first address, or the peer), or ``unknown``
    timestamp      timestamp       200   epoch milliseconds at request time (→ ``collector_tstamp``)
    encoding       encoding        210   ``UTF-8``
    collector      collector       220   ``mini-collector-<version>-nsq`` (→ ``v_collector``)
    user_agent     userAgent       300   ``User-Agent`` header
    referer_uri    refererUri      310   ``Referer`` header
    path           path            320   canonical path (``/i``, ``/com.snowplowanalytics.snowplow/tp2``, ...)
    querystring    querystring     330   raw query string without ``?`` (``""`` when absent)
    body           body            340   request body as text (POST only)
    headers        headers         350   ``["Name: value", ...]`` (+ the bare lowercased content type, POST)
    content_type   contentType     360   lowercased content type (POST only)
    hostname       hostname        400   host part of the ``Host`` header
    network_user_id networkUserId  410   the network user id (nuid)
    ============== =============== ===== ======================================================

Thrift's "default" requiredness applies (as in Snowplow's IDL): ``decode`` accepts bytes where any
field is absent and leaves it ``None``; deciding what a missing field means is the reader's job
(enrich's ``collector_payload_format_violation``).  Invalid UTF-8 inside strings is decoded with
U+FFFD replacement, as Java's ``new String(bytes, UTF_8)`` does.  Known deviation: a known field id
carrying a string where another type is declared is reinterpreted by thriftpy2 (Java skips it);
no Snowplow writer produces that.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import thriftpy2
from thriftpy2.protocol.binary import TBinaryProtocol
from thriftpy2.protocol.cybin import TCyBinaryProtocol
from thriftpy2.transport.memory import TCyMemoryBuffer, TMemoryBuffer

SCHEMA = "iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0"

_IDL = thriftpy2.load(str(Path(__file__).with_name("collector_payload.thrift")), module_name="collector_payload_thrift")
_Thrift = _IDL.CollectorPayload

# (attribute, Thrift name), in the declaration order of Snowplow's IDL (the order of Java's toString).
FIELDS: tuple[tuple[str, str], ...] = (
    ("schema", "schema"),
    ("ip_address", "ipAddress"),
    ("timestamp", "timestamp"),
    ("encoding", "encoding"),
    ("collector", "collector"),
    ("user_agent", "userAgent"),
    ("referer_uri", "refererUri"),
    ("path", "path"),
    ("querystring", "querystring"),
    ("body", "body"),
    ("headers", "headers"),
    ("content_type", "contentType"),
    ("hostname", "hostname"),
    ("network_user_id", "networkUserId"),
)
# Fields Java's toString always prints (default requiredness); the rest only when set.
_ALWAYS_PRINTED = ("schema", "ip_address", "timestamp", "encoding", "collector")


class PayloadDecodeError(ValueError):
    """The bytes are not a TBinaryProtocol CollectorPayload; the message says what went wrong."""


@dataclasses.dataclass
class CollectorPayload:
    """One HTTP request as the collector saw it (see the module docstring for names and ids)."""

    ip_address: str | None = None
    timestamp: int | None = None
    encoding: str | None = "UTF-8"
    collector: str | None = None
    user_agent: str | None = None
    referer_uri: str | None = None
    path: str | None = None
    querystring: str | None = None
    body: str | None = None
    headers: list[str] | None = None
    content_type: str | None = None
    hostname: str | None = None
    network_user_id: str | None = None
    schema: str | None = SCHEMA

    def to_snowplow_dict(self) -> dict[str, Any]:
        """The fields under their Thrift names (``ipAddress``, ``networkUserId``, ...)."""
        return {thrift: getattr(self, attr) for attr, thrift in FIELDS}

    @classmethod
    def from_snowplow_dict(cls, values: dict[str, Any]) -> "CollectorPayload":
        names = dict((thrift, attr) for attr, thrift in FIELDS)
        return cls(**{names[k]: v for k, v in values.items()})


# Thrift names in the dataclass's field order, for positional construction on the decode path.
_DATACLASS_ORDER = tuple(dict(FIELDS)[f.name] for f in dataclasses.fields(CollectorPayload))


def encode(payload: CollectorPayload) -> bytes:
    """Serialise with TBinaryProtocol (fields in ascending id order, as Java's TSerializer writes)."""
    obj = _Thrift.__new__(_Thrift)
    for attr, thrift in FIELDS:
        setattr(obj, thrift, getattr(payload, attr))
    buf = TCyMemoryBuffer()
    obj.write(TCyBinaryProtocol(buf))
    return buf.getvalue()


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


_FIXED = {2: 1, 3: 1, 4: 8, 6: 2, 8: 4, 10: 8}  # Thrift type id -> width of its value


def _well_formed(data: bytes) -> bool | None:
    """Check every length in a flat struct against the buffer: True/False, or None when the struct holds
    something this quick scan does not follow (nested structs, maps, non-string lists)."""
    n, pos = len(data), 0
    while pos < n:
        ftype = data[pos]
        if ftype == 0:
            return True
        pos += 3
        if ftype == 11:
            if pos + 4 > n:
                return False
            length = int.from_bytes(data[pos:pos + 4], "big", signed=True)
            pos += 4 + length
            if length < 0 or pos > n:
                return False
        elif ftype in _FIXED:
            pos += _FIXED[ftype]
        elif ftype == 15:
            if pos + 5 > n:
                return False
            if data[pos] != 11:
                return None
            count = int.from_bytes(data[pos + 1:pos + 5], "big", signed=True)
            if count < 0:
                return False
            pos += 5
            for _ in range(count):
                if pos + 4 > n:
                    return False
                length = int.from_bytes(data[pos:pos + 4], "big", signed=True)
                pos += 4 + length
                if length < 0 or pos > n:
                    return False
        else:
            return None
        if pos > n:
            return False
    return False  # no stop byte


def decode(data: bytes) -> CollectorPayload:
    """Parse TBinaryProtocol bytes; raise :class:`PayloadDecodeError` if they are not a struct.

    The accelerated reader trusts lengths in its input, so it only sees bytes whose every length has
    been checked against the buffer; anything else goes through the (checking) pure-Python protocol.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PayloadDecodeError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise PayloadDecodeError("empty message")
    checked = _well_formed(data)
    if checked is False:
        raise PayloadDecodeError("truncated or malformed TBinaryProtocol struct")
    obj = _Thrift()
    try:
        if checked:
            obj.read(TCyBinaryProtocol(TCyMemoryBuffer(data), decode_response=True))
        else:
            obj.read(TBinaryProtocol(TMemoryBuffer(data), decode_response=True))
    except Exception as exc:  # noqa: BLE001 - the protocol raises struct.error, TProtocolException, ...
        raise PayloadDecodeError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
    # Strings come back as str; invalid UTF-8 comes back as bytes, decoded here like Java would.
    values = [getattr(obj, name) for name in _DATACLASS_ORDER]
    timestamp, headers = values[1], values[9]
    for i, value in enumerate(values):
        if type(value) is bytes:
            values[i] = value.decode("utf-8", "replace")
    if timestamp is not None and (type(timestamp) is not int):
        raise PayloadDecodeError("timestamp is not an i64")
    if headers is not None:
        if type(headers) is not list:
            raise PayloadDecodeError("headers is not a list<string>")
        if not all(type(h) is str for h in headers):
            values[9] = headers = [_text(h) for h in headers]
            if not all(type(h) is str for h in headers):
                raise PayloadDecodeError("headers is not a list<string>")
    return CollectorPayload(*values)


def _java(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_java(v) for v in value) + "]"
    return str(value)


def to_thrift_string(payload: CollectorPayload, limit: int | None = None) -> str:
    """Java's generated ``toString()``: ``CollectorPayload(schema:…, ipAddress:…, …)``.

    Declaration order; optional fields only when set; lists as ``[a, b]``.  ``limit`` truncates the
    result to that many characters (size_violation payloads keep ``maxPayloadSize / 10``).
    """
    parts = []
    for attr, thrift in FIELDS:
        value = getattr(payload, attr)
        if value is None and attr not in _ALWAYS_PRINTED:
            continue
        if attr == "timestamp" and value is None:
            value = 0  # a Java i64 is never null
        parts.append(f"{thrift}:{_java(value)}")
    text = "CollectorPayload(" + ", ".join(parts) + ")"
    return text if limit is None else text[:limit]
