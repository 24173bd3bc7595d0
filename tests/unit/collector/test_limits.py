"""Size limits (§1.7): 413 above the drop size, size_violation bad rows, POST splitting."""

from __future__ import annotations

import json

from services.collector.sizes import SizeLimits
from services.common.collector_payload import CollectorPayload, encode, to_thrift_string

from .helpers import CollectorTestCase

TP2 = "/com.snowplowanalytics.snowplow/tp2"
SCHEMA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
MB = 1_048_576


def body_of_size(n: int) -> bytes:
    """A self-describing payload_data body of exactly ``n`` bytes (one event with a padding field)."""
    head = '{"schema":"%s","data":[{"e":"pv","x":"' % SCHEMA
    tail = '"}]}'
    return (head + "a" * (n - len(head) - len(tail)) + tail).encode()


class Limits(CollectorTestCase):
    def test_body_over_2mb_is_413_and_nothing_sunk(self):
        response = self.req(TP2, "POST", b"x" * (2 * MB + 1), Content_Type="application/json")
        assert response.code == 413
        assert self.publisher.published == []
        assert self.req("/health").code == 200  # still serving

    def test_body_of_exactly_2mb_is_accepted_as_a_size_violation(self):
        response = self.req(TP2, "POST", b"x" * (2 * MB), Content_Type="application/json")
        assert response.code == 200 and response.body == b"ok"
        assert self.publisher.raw() == []
        rows = [json.loads(b) for b in self.publisher.bad()]
        assert len(rows) == 1
        row = rows[0]
        assert row["schema"] == "iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0"
        assert list(row["data"]) == ["processor", "failure", "payload"]
        assert row["data"]["processor"]["artifact"] == "mini-collector"
        failure = row["data"]["failure"]
        assert list(failure) == ["timestamp", "maximumAllowedSizeBytes", "actualSizeBytes", "expectation"]
        assert failure["maximumAllowedSizeBytes"] == MB
        assert failure["actualSizeBytes"] > 2 * MB
        assert failure["expectation"] == (
            f"oversized collector payload: Payload exceeds max size of {MB}. Actual length: {failure['actualSizeBytes']}"
        )
        assert row["data"]["payload"].startswith("CollectorPayload(schema:iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0, ipAddress:127.0.0.1, timestamp:")
        assert len(row["data"]["payload"]) == MB // 10

    def test_payload_of_1mb_plus_1_is_a_size_violation(self):
        response = self.req(TP2, "POST", body_of_size(MB + 1), Content_Type="application/json")
        assert response.code == 200
        assert len(self.publisher.bad()) == 1 and self.publisher.raw() == []

    def test_body_just_under_the_record_limit_is_one_record(self):
        response = self.req(TP2, "POST", body_of_size(990_000), Content_Type="application/json")
        assert response.code == 200
        assert len(self.publisher.raw()) == 1 and self.publisher.bad() == []

    def test_chunked_body_over_2mb_is_413(self):
        response = self.fetch(TP2, method="POST", body_producer=_async_producer(), headers={"Content-Type": "application/json"},
                              raise_error=False)
        assert response.code == 413
        assert self.publisher.published == []


def _async_producer():
    async def produce(write):
        for _ in range(5):
            await write(b"y" * (MB // 2))

    return produce


def payload_with(body: str | None) -> CollectorPayload:
    return CollectorPayload(ip_address="1.2.3.4", timestamp=1, collector="c", path=TP2, querystring="",
                            body=body, headers=["Host: h"], network_user_id="n")


class HeaderLimitAndTimeouts(CollectorTestCase):
    """431 and 408 from the origin's server (small limits so the test is quick)."""

    overrides = {"collector__max_header_bytes": 2000, "collector__max_header_read_bytes": 100_000,
                 "collector__request_timeout_s": 0.5}

    def exchange(self, data: bytes, stall: bool = False) -> bytes:
        """Send ``data`` on a fresh connection (keeping it open when ``stall``); the whole answer."""
        from tornado.tcpclient import TCPClient

        async def run() -> bytes:
            stream = await TCPClient().connect("127.0.0.1", self.get_http_port())
            await stream.write(data)
            answer = await stream.read_until_close()
            return answer

        return self.io_loop.run_sync(run, timeout=20)

    def test_headers_over_the_limit_are_431_in_the_error_shape(self):
        for data in (b"GET /i?e=pv HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000 + b"\r\nConnection: close\r\n\r\n",
                     b"POST " + TP2.encode() + b" HTTP/1.1\r\nConnection: close\r\nContent-Length: 3\r\nX-Big: "
                     + b"a" * 3000 + b"\r\n\r\nabc"):
            head, _, body = self.exchange(data).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 431 "), head
            assert json.loads(body) == {"error": "request line and headers exceed 2000 bytes", "status": 431}
        assert self.publisher.published == []
        assert self.req("/i?e=pv", X_Small="a" * 1000).code == 200  # under the limit: fine

    def test_a_stalled_request_is_408_and_nothing_sunk(self):
        for data in (b"GET /i?e=pv HTTP/1.1\r\nHost: x\r\nUser-Ag",
                     b"POST " + TP2.encode() + b" HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"):
            head, _, body = self.exchange(data).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408 Request Timeout"), head
            assert json.loads(body)["status"] == 408
        assert self.publisher.published == []
        assert self._app.counters["requests"]["timeout"]["408"] == 2
        assert self.req("/i?e=pv").code == 200


def test_split_between_sink_max_and_max_payload():
    events = [{"e": "pv", "n": str(i), "pad": "p" * 2000} for i in range(400)]  # ~800 KB
    body = json.dumps({"schema": SCHEMA, "data": events}, separators=(",", ":"))
    limits = SizeLimits(max_payload_size=1_000_000, sink_max_bytes=300_000)
    records, bad = limits.records(payload_with(body))
    assert bad == 0 and len(records) >= 3
    seen = []
    from services.common.collector_payload import decode

    for topic, data in records:
        assert topic == "RawEvents" and len(data) < 300_000
        doc = json.loads(decode(data).body)
        assert doc["schema"] == SCHEMA
        seen += doc["data"]
    assert seen == events


def test_split_marks_single_oversized_events():
    events = [{"e": "pv", "pad": "p" * 100}, {"e": "pv", "pad": "q" * 5000}, {"e": "pv"}]
    body = json.dumps({"schema": SCHEMA, "data": events}, separators=(",", ":"))
    size = len(encode(payload_with(body)))
    limits = SizeLimits(max_payload_size=size + 10, sink_max_bytes=size - 3000)
    records, bad = limits.records(payload_with(body))
    assert bad == 1
    topics = [t for t, _ in records]
    assert topics.count("BadEvents") == 1
    row = json.loads([d for t, d in records if t == "BadEvents"][0])
    assert row["data"]["failure"]["expectation"] == "oversized collector payload: this POST request split is still too large"
    assert row["data"]["failure"]["maximumAllowedSizeBytes"] == size - 3000
    assert row["data"]["failure"]["actualSizeBytes"] == len(json.dumps(events[1], separators=(",", ":")))


def test_unsplittable_payloads_are_one_bad_row():
    for body in (None, "not json", '{"no":"schema"}', '{"schema":"s","data":{"a":1}}'):
        payload = payload_with(body if body is None else body + " " * 3000)
        size = len(encode(payload))
        records, bad = SizeLimits(max_payload_size=size + 1, sink_max_bytes=size - 1).records(payload)
        assert bad == 1 and [t for t, _ in records] == ["BadEvents"]
        row = json.loads(records[0][1])
        assert row["data"]["failure"]["actualSizeBytes"] == size
        assert row["data"]["payload"] == to_thrift_string(payload, limit=(size - 1) // 10)
