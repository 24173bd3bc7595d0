"""Bad input against a running collector: each gets its documented answer, nothing crashes, the
process keeps serving, and what is sunk is what Snowplow's collector would sink."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

from .support import Pipeline, bad_rows, raw_events

TP2 = "/com.snowplowanalytics.snowplow/tp2"
MB = 1_048_576


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    home = tmp_path_factory.mktemp("collector-bad")
    pipe = Pipeline(home, collector_env={"MINI_COLLECTOR_REQUEST_TIMEOUT_S": "3",
                                                   "MINI_COLLECTOR_IDLE_CONNECTION_TIMEOUT_S": "6"}).start()
    yield pipe
    pipe.stop()
    log = (home / "logs" / "collector.test.log").read_text()
    assert "services/collector" not in log and "ERROR services." not in log, log[-3000:]


def request(pipe, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", pipe.collector.port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def raw_exchange(pipe, data: bytes, read: bool = True, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", pipe.collector.port), timeout=timeout) as sock:
        sock.sendall(data)
        if not read:
            return b""
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and not data.startswith(b"POST"):
                    break
        except (ConnectionResetError, socket.timeout):
            pass
        return b"".join(chunks)


def still_serving(pipe) -> None:
    assert request(pipe, "GET", "/health") == (200, b"ok")


def test_malformed_request_lines(pipe):
    for data in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /i HTTP/9.9\r\n\r\n", b"\x00\xff\xfe\r\n\r\n"):
        answer = raw_exchange(pipe, data)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:100]
    still_serving(pipe)


def test_malformed_paths(pipe):
    for path in ("/a/b/c/d", "//", "/com.acme/", "/%/x/y"):
        assert request(pipe, "GET", path)[0] == 404, path
    still_serving(pipe)


def test_invalid_percent_encoding_is_sunk_raw(pipe):
    assert request(pipe, "GET", "/i?e=pv&url=%zz&x=%FF%FE&y=%")[0] == 200
    assert request(pipe, "GET", "/%FF/%zz?e=pv")[0] == 200
    first, second = raw_events(pipe.nsqd, 2)
    assert first.path == "/i" and first.querystring == "e=pv&url=%zz&x=%FF%FE&y=%"
    assert second.path == "/\ufffd/%zz"


def test_non_utf8_body_and_content_types(pipe):
    cases = [
        ({"Content-Type": "application/json; charset=UTF-8"}, b'{"a":"\xff\xfe"}', "application/json; charset=utf-8"),
        ({"Content-Type": "text/plain"}, b"hello", "text/plain"),
        ({"Content-Type": "not a content type"}, b"x", None),
        ({}, b"no type", None),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"e=pv", "application/x-www-form-urlencoded"),
        ({"Content-Type": "text/plain; charset=iso-8859-1"}, "café".encode("latin-1"), "text/plain; charset=iso-8859-1"),
    ]
    for headers, body, _ in cases:
        assert request(pipe, "POST", TP2, body, headers) == (200, b"ok")
    payloads = raw_events(pipe.nsqd, len(cases))
    assert [p.content_type for p in payloads] == [c[2] for c in cases]
    assert payloads[0].body == '{"a":"\ufffd\ufffd"}'
    assert payloads[5].body == "café"
    assert payloads[3].body == "no type" and all(": " in h for h in payloads[3].headers)  # no bare type appended


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """(head, body) of one answer with a Content-Length; b"" for a connection closed without one."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def test_huge_headers_are_answered_431_and_not_sunk(pipe):
    before = pipe.status()["counters"]["payloads_sunk"]
    cases = [
        b"GET /i?e=pv&big=1 HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-Big-%d: %s\r\n" % (i, b"a" * 1000) for i in range(100)) + b"\r\n",
        b"GET /i?" + b"a=b&" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # an 80 KB request line
        b"POST " + TP2.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\nabcd",
        b"OPTIONS /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
    ]
    for data in cases:
        with socket.create_connection(("127.0.0.1", pipe.collector.port), timeout=30) as sock:
            sock.sendall(data)
            head, body = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large"), head[:200]
        assert b"application/json" in head
        answer = json.loads(body)
        assert answer["status"] == 431 and "61440 bytes" in answer["error"]
    # Past the read cap (1 MiB) the connection is closed without an answer; the process lives on.
    with socket.create_connection(("127.0.0.1", pipe.collector.port), timeout=30) as sock:
        try:
            sock.sendall(b"GET /i HTTP/1.1\r\nX-Huge: " + b"a" * 1_200_000)
            head, _ = read_answer(sock)
        except (ConnectionResetError, BrokenPipeError):
            head = b""
        assert head == b""
    still_serving(pipe)
    assert pipe.status()["counters"]["payloads_sunk"] == before
    assert pipe.status()["requests"]["headers_too_large"]["431"] == len(cases)


def test_body_of_1mb_plus_1_becomes_a_size_violation(pipe):
    head = b'{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","x":"'
    tail = b'"}]}'
    body = head + b"a" * (MB + 1 - len(head) - len(tail)) + tail
    assert len(body) == MB + 1
    assert request(pipe, "POST", TP2, body, {"Content-Type": "application/json"}) == (200, b"ok")
    rows = bad_rows(pipe.nsqd, 1)
    assert len(rows) == 1
    row = rows[0]
    assert row["schema"] == "iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0"
    assert row["data"]["failure"]["maximumAllowedSizeBytes"] == MB
    assert row["data"]["failure"]["actualSizeBytes"] > MB + 1
    assert row["data"]["payload"].startswith("CollectorPayload(schema:iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0")


def test_body_of_2mb_plus_1_is_413_and_nothing_sunk(pipe):
    before = pipe.status()["counters"]
    status, _ = request(pipe, "POST", TP2, b"z" * (2 * MB + 1), {"Content-Type": "application/json"})
    assert status == 413
    after = pipe.status()["counters"]
    assert after["payloads_sunk"] == before["payloads_sunk"]
    assert after["requests_accepted"] == before["requests_accepted"]
    assert pipe.status()["requests"]["track"]["413"] >= 1
    still_serving(pipe)


def test_slow_clients_get_408_and_do_not_block_others(pipe):
    before = pipe.status()["counters"]["payloads_sunk"]
    stalls = [
        b"POST " + TP2.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\"",  # half a body
        b"GET /i?e=pv&stalled=1 HTTP/1.1\r\nHost: x\r\nUser-Ag",  # half the headers
    ]
    slow = [socket.create_connection(("127.0.0.1", pipe.collector.port), timeout=30) for _ in stalls]
    try:
        for sock, data in zip(slow, stalls):
            sock.sendall(data)
        started = time.monotonic()
        still_serving(pipe)
        assert request(pipe, "GET", "/i?e=pv&slow=other")[0] == 200
        assert time.monotonic() - started < 20
        # The request timeout (3 s here) answers each stalled request 408 and closes its connection.
        for sock in slow:
            head, body = read_answer(sock)
            assert head.startswith(b"HTTP/1.1 408 Request Timeout"), head
            assert json.loads(body) == {"error": "request not complete within 3 s", "status": 408}
            assert sock.recv(100) == b""  # closed
    finally:
        for sock in slow:
            sock.close()
    assert [p.querystring for p in raw_events(pipe.nsqd, 1)] == ["e=pv&slow=other"]
    assert pipe.status()["counters"]["payloads_sunk"] == before + 1
    assert pipe.status()["requests"]["timeout"]["408"] >= 2
    still_serving(pipe)


def test_idle_keep_alive_connections_are_closed_quietly(pipe):
    with socket.create_connection(("127.0.0.1", pipe.collector.port), timeout=60) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 200") and body == b"ok"
        # Idle past collector.idle_connection_timeout_s (6 s here): closed without an answer.
        assert sock.recv(100) == b""
    still_serving(pipe)


def test_abrupt_disconnects(pipe):
    # Body cut short, then the client vanishes.
    raw_exchange(pipe, b"POST " + TP2.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc", read=False)
    # A full request whose client does not wait for the answer.
    raw_exchange(pipe, b"GET /i?e=pv&gone=1 HTTP/1.1\r\nHost: x\r\n\r\n", read=False)
    # Headers cut in the middle.
    raw_exchange(pipe, b"GET /i?e=pv HTTP/1.1\r\nHo", read=False)
    # An RST instead of a FIN.
    sock = socket.create_connection(("127.0.0.1", pipe.collector.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.sendall(b"GET /i?e=pv&rst=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.close()
    still_serving(pipe)
    # The complete requests were sunk (the answer may have found nobody): drain them.
    sunk = raw_events(pipe.nsqd, 2, timeout=15)
    assert {p.querystring for p in sunk} <= {"e=pv&gone=1", "e=pv&rst=1"}
    status = pipe.status()
    assert status["counters"]["requests_accepted"] == (
        status["counters"]["payloads_sunk"] + status["counters"]["dnt_dropped"] + status["counters"]["bounced"]
    )


def test_reserved_prefixes_are_never_sunk(pipe):
    before = pipe.status()["counters"]["payloads_sunk"]
    for path in ("/micro/all", "/iglu-server/api/schemas", "/elasticsearch/good/_search", "/kibana/app/x"):
        status, body = request(pipe, "GET", path)
        assert status == 404 and json.loads(body)["status"] == 404
    assert pipe.status()["counters"]["payloads_sunk"] == before
