"""Golden tests for the CollectorPayload codec, pinned three ways.

1. Bytes built by hand from the TBinaryProtocol rules (type byte, i16 field id, value; i32-length
   strings; lists as element type + i32 count; a 0 stop byte) with snowplow-formats.md §1.2's ids.
2. A second, independent implementation: Apache ``thrift``'s TBinaryProtocol with a hand-declared
   struct that writes fields in ascending id order, as Java's generated writer does.
3. Round trips, and garbage that must raise PayloadDecodeError (never crash, never over-read).
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings, strategies as st
from thrift.protocol import TBinaryProtocol
from thrift.Thrift import TType
from thrift.transport import TTransport

from services.common.collector_payload import (
    SCHEMA,
    CollectorPayload,
    PayloadDecodeError,
    decode,
    encode,
    to_thrift_string,
)

STRING, I64, LIST, STOP = 11, 10, 15, 0


def _s(fid: int, text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack(">bhi", STRING, fid, len(raw)) + raw


def _i64(fid: int, value: int) -> bytes:
    return struct.pack(">bhq", I64, fid, value)


def _list(fid: int, items: list[str]) -> bytes:
    out = struct.pack(">bhbi", LIST, fid, STRING, len(items))
    for item in items:
        raw = item.encode("utf-8")
        out += struct.pack(">i", len(raw)) + raw
    return out


FULL = CollectorPayload(
    ip_address="203.0.113.7",
    timestamp=1714557600123,
    encoding="UTF-8",
    collector="mini-collector-0.1.0-nsq",
    user_agent="Mozilla/5.0 (X11; Linux x86_64)",
    referer_uri="https://shop.example/cart",
    path="/com.snowplowanalytics.snowplow/tp2",
    querystring="",
    body='{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv"}]}',
    headers=["Host: c.example.com", "Content-Type: application/json; charset=UTF-8", "application/json; charset=utf-8"],
    content_type="application/json; charset=utf-8",
    hostname="c.example.com",
    network_user_id="c6ef3124-b53a-4b13-a233-0088f79dcbcb",
)

FULL_BYTES = (
    _s(100, "203.0.113.7")
    + _i64(200, 1714557600123)
    + _s(210, "UTF-8")
    + _s(220, "mini-collector-0.1.0-nsq")
    + _s(300, "Mozilla/5.0 (X11; Linux x86_64)")
    + _s(310, "https://shop.example/cart")
    + _s(320, "/com.snowplowanalytics.snowplow/tp2")
    + _s(330, "")
    + _s(340, FULL.body)
    + _list(350, FULL.headers)
    + _s(360, "application/json; charset=utf-8")
    + _s(400, "c.example.com")
    + _s(410, "c6ef3124-b53a-4b13-a233-0088f79dcbcb")
    + _s(31337, SCHEMA)
    + bytes([STOP])
)

GET = CollectorPayload(
    ip_address="unknown",
    timestamp=0,
    collector="mini-collector-0.1.0-nsq",
    path="/i",
    querystring="e=pv&url=http%3A%2F%2Fa.b%2F%C3%A9",
    headers=["Host: 127.0.0.1:9090"],
    network_user_id="00000000-0000-0000-0000-000000000000",
)


# -- the second implementation: Apache thrift, struct declared by hand ------------------------------

_ORDER = (  # (id, Thrift name, type) ascending by id, as Java's TSerializer writes
    (100, "ipAddress", TType.STRING),
    (200, "timestamp", TType.I64),
    (210, "encoding", TType.STRING),
    (220, "collector", TType.STRING),
    (300, "userAgent", TType.STRING),
    (310, "refererUri", TType.STRING),
    (320, "path", TType.STRING),
    (330, "querystring", TType.STRING),
    (340, "body", TType.STRING),
    (350, "headers", TType.LIST),
    (360, "contentType", TType.STRING),
    (400, "hostname", TType.STRING),
    (410, "networkUserId", TType.STRING),
    (31337, "schema", TType.STRING),
)


def apache_write(values: dict) -> bytes:
    transport = TTransport.TMemoryBuffer()
    proto = TBinaryProtocol.TBinaryProtocol(transport)
    proto.writeStructBegin("CollectorPayload")
    for fid, name, ttype in _ORDER:
        value = values.get(name)
        if value is None:
            continue
        proto.writeFieldBegin(name, ttype, fid)
        if ttype == TType.STRING:
            proto.writeString(value)
        elif ttype == TType.I64:
            proto.writeI64(value)
        else:
            proto.writeListBegin(TType.STRING, len(value))
            for item in value:
                proto.writeString(item)
            proto.writeListEnd()
        proto.writeFieldEnd()
    proto.writeFieldStop()
    proto.writeStructEnd()
    return transport.getvalue()


def apache_read(data: bytes) -> dict:
    proto = TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(data))
    by_id = {fid: (name, ttype) for fid, name, ttype in _ORDER}
    values: dict = {}
    proto.readStructBegin()
    while True:
        _, ttype, fid = proto.readFieldBegin()
        if ttype == TType.STOP:
            break
        name, expected = by_id[fid]
        assert ttype == expected
        if ttype == TType.STRING:
            values[name] = proto.readString()
        elif ttype == TType.I64:
            values[name] = proto.readI64()
        else:
            _, size = proto.readListBegin()
            values[name] = [proto.readString() for _ in range(size)]
            proto.readListEnd()
        proto.readFieldEnd()
    proto.readStructEnd()
    return values


# -- tests ------------------------------------------------------------------------------------------


def test_full_payload_matches_hand_built_bytes():
    assert encode(FULL) == FULL_BYTES


def test_real_payloads_start_with_field_100():
    # Snowplow's raw payloads start 0x0b 0x0064 (string, field 100 = ipAddress): base64 "CwBk".
    assert encode(GET)[:3] == b"\x0b\x00\x64"
    assert encode(GET)[-1:] == b"\x00"


@pytest.mark.parametrize("payload", [FULL, GET], ids=["post", "get"])
def test_apache_thrift_agrees(payload):
    ours = encode(payload)
    assert apache_write(payload.to_snowplow_dict()) == ours
    assert apache_read(ours) == {k: v for k, v in payload.to_snowplow_dict().items() if v is not None}


def test_decode_hand_built_bytes():
    assert decode(FULL_BYTES) == FULL


def test_decode_bytes_written_by_apache_thrift_in_declaration_order():
    # A reader must not depend on field order (other writers emit schema first).
    values = GET.to_snowplow_dict()
    shuffled = _s(31337, SCHEMA) + apache_write({k: v for k, v in values.items() if k != "schema"})
    assert decode(shuffled) == GET


def test_missing_fields_decode_as_none():
    payload = decode(_s(100, "1.2.3.4") + b"\x00")
    assert payload.ip_address == "1.2.3.4"
    assert payload.schema is None and payload.timestamp is None and payload.collector is None


def test_unknown_fields_are_skipped():
    data = _s(100, "1.2.3.4") + _s(999, "from the future") + _i64(200, 7) + b"\x00"
    payload = decode(data)
    assert (payload.ip_address, payload.timestamp) == ("1.2.3.4", 7)


def test_invalid_utf8_is_replaced_like_java():
    raw = struct.pack(">bhi", STRING, 340, 3) + b"a\xffb" + b"\x00"
    assert decode(raw).body == "a\ufffdb"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world",
        FULL_BYTES[:20],
        FULL_BYTES[:-1],
        b"\x0b\x00\x64\x7f\xff\xff\xff",  # a string claiming 2 GiB
        b"\x0f\x01\x5e\x0b\x7f\xff\xff\xff",  # a list claiming 2**31 elements
        b"\xff\xff\xff\xff\xff",
    ],
    ids=["empty", "text", "truncated", "no-stop", "huge-string", "huge-list", "bad-type"],
)
def test_garbage_raises_payload_decode_error(data):
    with pytest.raises(PayloadDecodeError):
        decode(data)


def test_decode_rejects_non_bytes():
    with pytest.raises(PayloadDecodeError):
        decode("a string")  # type: ignore[arg-type]


texts = st.text(max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    ip=texts,
    ts=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    ua=st.none() | texts,
    qs=st.none() | texts,
    body=st.none() | texts,
    headers=st.none() | st.lists(texts, max_size=5),
)
def test_round_trip_and_apache_agreement(ip, ts, ua, qs, body, headers):
    payload = CollectorPayload(
        ip_address=ip, timestamp=ts, collector="c", user_agent=ua, querystring=qs, body=body, headers=headers
    )
    data = encode(payload)
    assert decode(data) == payload
    assert apache_write(payload.to_snowplow_dict()) == data


def test_to_thrift_string_java_layout():
    # Java's generated toString: declaration order (schema first), unset optionals omitted,
    # lists rendered by java.util.ArrayList.toString.
    assert to_thrift_string(GET) == (
        "CollectorPayload(schema:" + SCHEMA + ", ipAddress:unknown, timestamp:0, encoding:UTF-8, "
        "collector:mini-collector-0.1.0-nsq, path:/i, querystring:e=pv&url=http%3A%2F%2Fa.b%2F%C3%A9, "
        "headers:[Host: 127.0.0.1:9090], networkUserId:00000000-0000-0000-0000-000000000000)"
    )


def test_to_thrift_string_truncates():
    text = to_thrift_string(FULL, limit=30)
    assert text == ("CollectorPayload(schema:" + SCHEMA)[:30]


def test_snowplow_names_round_trip():
    assert CollectorPayload.from_snowplow_dict(FULL.to_snowplow_dict()) == FULL
    assert FULL.to_snowplow_dict()["networkUserId"] == FULL.network_user_id


def test_unknown_nested_fields_take_the_checking_path():
    # A struct (type 12) and a list<i32> under unknown ids: skipped, the rest decodes.
    nested = b"\x0c\x03\xe7" + _s(1, "inner") + b"\x00"
    ints = b"\x0f\x03\xe8\x08\x00\x00\x00\x02" + b"\x00\x00\x00\x01\x00\x00\x00\x02"
    payload = decode(_s(100, "1.2.3.4") + nested + ints + _i64(200, 9) + b"\x00")
    assert (payload.ip_address, payload.timestamp) == ("1.2.3.4", 9)
    with pytest.raises(PayloadDecodeError):
        decode(_s(100, "1.2.3.4") + b"\x0c\x03\xe7" + _s(1, "inner"))  # nested struct never closed


def test_invalid_utf8_in_headers_is_replaced():
    raw = struct.pack(">bhbi", LIST, 350, STRING, 1) + struct.pack(">i", 2) + b"\xc3(" + b"\x00"
    assert decode(raw).headers == ["\ufffd("]
