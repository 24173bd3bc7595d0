"""The TCP protocol byte by byte: negotiation, commands, and nsqd 1.3's errors (fatal or not).

Expected strings come from nsqd 1.3's protocol (reference/nsq-and-libraries.md §1)."""

from __future__ import annotations

import asyncio
import struct

from services.broker import protocol

from .conftest import run_broker

NSQD_IDENTIFY_KEYS = ["max_rdy_count", "version", "max_msg_timeout", "msg_timeout", "tls_v1", "deflate",
                      "deflate_level", "max_deflate_level", "snappy", "sample_rate", "auth_required",
                      "output_buffer_size", "output_buffer_timeout"]


def test_identify_answers_like_nsqd_and_offers_no_tls_snappy_deflate(home):
    async def scenario(b):
        raw = await b.raw()
        answer = await raw.identify(tls_v1=True, snappy=True, deflate=True, msg_timeout=5000)
        await raw.close()
        return answer

    answer = run_broker(home, scenario)
    assert list(answer) == NSQD_IDENTIFY_KEYS
    assert answer["max_rdy_count"] == 2500 and answer["version"] == "1.3.0"
    assert answer["max_msg_timeout"] == 900000 and answer["msg_timeout"] == 5000
    assert answer["tls_v1"] is False and answer["snappy"] is False and answer["deflate"] is False
    assert answer["auth_required"] is False


def test_identify_without_feature_negotiation_answers_ok(home):
    async def scenario(b):
        raw = await b.raw()
        raw.send(b"IDENTIFY", b'{"client_id": "x"}')
        frame = await raw.frame()
        await raw.close()
        return frame

    assert run_broker(home, scenario) == (0, b"OK")


def expect_fatal(home, steps, code_prefix: bytes, **overrides):
    """Run ``steps(raw)``; the next frame must be the error, then the connection closes, and a
    second client is still served."""

    async def scenario(b):
        raw = await b.raw()
        await steps(raw)
        kind, data = await raw.frame()
        closed = await raw.is_closed()
        other = await b.raw()
        other.send(b"PUB still_serving", b"x")
        after = await other.frame()
        await other.close()
        return kind, data, closed, after

    kind, data, closed, after = run_broker(home, scenario, **overrides)
    assert (kind, data[:len(code_prefix)]) == (protocol.FRAME_ERROR, code_prefix), data
    assert closed
    assert after == (0, b"OK")
    return data


def send(*args):
    async def steps(raw):
        raw.send(*args)
    return steps


def test_bad_magic_is_refused(home):
    async def scenario(b):
        raw = await b.raw(magic=b"  V1")
        frame = await raw.frame()
        return frame, await raw.is_closed()

    assert run_broker(home, scenario) == ((1, b"E_BAD_PROTOCOL"), True)


def test_unknown_command_is_fatal_invalid(home):
    assert expect_fatal(home, send(b"HELLO world"), b"E_INVALID") == b"E_INVALID invalid command HELLO"


def test_invalid_json_in_identify_is_fatal_bad_body(home):
    expect_fatal(home, send(b"IDENTIFY", b"{not json"), b"E_BAD_BODY IDENTIFY failed to decode JSON body")


def test_identify_heartbeat_out_of_range_is_fatal(home):
    data = expect_fatal(home, send(b"IDENTIFY", b'{"heartbeat_interval": 10}'), b"E_BAD_BODY")
    assert data == b"E_BAD_BODY IDENTIFY heartbeat interval (10) is invalid"


def test_pub_to_an_invalid_topic_is_fatal_bad_topic(home):
    data = expect_fatal(home, send(b"PUB bad*topic", b"x"), b"E_BAD_TOPIC")
    assert data == b'E_BAD_TOPIC PUB topic name "bad*topic" is not valid'


def test_topic_names_longer_than_64_are_invalid(home):
    expect_fatal(home, send(b"PUB " + b"t" * 65, b"x"), b"E_BAD_TOPIC")


def test_sub_to_an_invalid_channel_is_fatal_bad_channel(home):
    data = expect_fatal(home, send(b"SUB good bad/channel"), b"E_BAD_CHANNEL")
    assert data == b'E_BAD_CHANNEL SUB channel name "bad/channel" is not valid'


def test_oversized_pub_is_fatal_bad_message(home):
    data = expect_fatal(home, send(b"PUB big", b"x" * 1025), b"E_BAD_MESSAGE", broker__max_msg_size=1024)
    assert data == b"E_BAD_MESSAGE PUB message too big 1025 > 1024"


def test_empty_pub_is_fatal_bad_message(home):
    expect_fatal(home, send(b"PUB t", b""), b"E_BAD_MESSAGE PUB invalid message body size 0")


def test_oversized_mpub_body_is_fatal_bad_body(home):
    body = struct.pack(">i", 1) + struct.pack(">i", 3000) + b"x" * 3000
    data = expect_fatal(home, send(b"MPUB t", body), b"E_BAD_BODY", broker__max_body_size=2048)
    assert data == b"E_BAD_BODY MPUB body too big 3008 > 2048"


def test_truncated_mpub_is_fatal_bad_message(home):
    body = struct.pack(">i", 3) + struct.pack(">i", 1) + b"a"
    expect_fatal(home, send(b"MPUB t", body), b"E_BAD_MESSAGE MPUB failed to read message(1) body size")


def test_mpub_with_an_oversized_message_is_fatal(home):
    body = struct.pack(">i", 1) + struct.pack(">i", 600) + b"x" * 600
    expect_fatal(home, send(b"MPUB t", body), b"E_BAD_MESSAGE MPUB message too big 600 > 512",
                 broker__max_msg_size=512)


def test_rdy_before_sub_is_fatal_invalid(home):
    expect_fatal(home, send(b"RDY 10"), b"E_INVALID cannot RDY in current state")


def test_rdy_above_max_is_fatal_invalid(home):
    async def steps(raw):
        raw.send(b"SUB t c")
        assert await raw.frame() == (0, b"OK")
        raw.send(b"RDY 2501")

    expect_fatal(home, steps, b"E_INVALID RDY count 2501 out of range 0-2500")


def test_fin_with_a_malformed_id_is_fatal_invalid(home):
    async def steps(raw):
        raw.send(b"SUB t c")
        assert await raw.frame() == (0, b"OK")
        raw.send(b"FIN 123")

    expect_fatal(home, steps, b"E_INVALID invalid message ID")


def test_dpub_out_of_range_is_fatal_invalid(home):
    expect_fatal(home, send(b"DPUB t 3600001", b"x"), b"E_INVALID DPUB timeout 3600001 out of range 0-3600000")


def test_fin_req_touch_of_unknown_ids_are_not_fatal(home):
    async def scenario(b):
        raw = await b.raw()
        raw.send(b"SUB t c")
        assert await raw.frame() == (0, b"OK")
        errors = []
        for line in (b"FIN 00000000000000ff", b"REQ 00000000000000ff 0", b"TOUCH 00000000000000ff"):
            raw.send(line)
            errors.append(await raw.frame())
        raw.send(b"NOP")
        raw.send(b"RDY 1")
        pub = await b.raw()
        pub.send(b"PUB t", b"still here")
        assert await pub.frame() == (0, b"OK")
        msg = await raw.message()
        await raw.close()
        await pub.close()
        return errors, msg

    errors, msg = run_broker(home, scenario)
    assert errors == [
        (1, b"E_FIN_FAILED FIN 00000000000000ff failed ID not in flight"),
        (1, b"E_REQ_FAILED REQ 00000000000000ff failed ID not in flight"),
        (1, b"E_TOUCH_FAILED TOUCH 00000000000000ff failed ID not in flight"),
    ]
    assert msg[1] == 1 and msg[3] == b"still here"


def test_only_the_receiving_client_may_fin(home):
    async def scenario(b):
        a, other = await b.raw(), await b.raw()
        for raw in (a, other):
            raw.send(b"SUB t c")
            assert await raw.frame() == (0, b"OK")
        a.send(b"RDY 1")
        pub = await b.raw()
        pub.send(b"PUB t", b"m")
        assert await pub.frame() == (0, b"OK")
        _, _, msg_id, _ = await a.message()
        other.send(b"FIN " + msg_id)
        error = await other.frame()
        a.send(b"FIN " + msg_id)
        a.send(b"NOP")
        await a.close()
        await other.close()
        return msg_id, error

    msg_id, error = run_broker(home, scenario)
    assert error == (1, b"E_FIN_FAILED FIN " + msg_id + b" failed client does not own message")


def test_cls_answers_close_wait_and_stops_delivery(home):
    async def scenario(b):
        raw = await b.raw()
        raw.send(b"SUB t c")
        assert await raw.frame() == (0, b"OK")
        raw.send(b"CLS")
        answer = await raw.frame()
        raw.send(b"RDY 5")
        raw.send(b"PUB t", b"x")  # not allowed after CLS? nsqd still accepts publishes
        reply = await raw.frame()
        try:
            extra = await raw.frame(timeout=0.5)
        except asyncio.TimeoutError:
            extra = None
        await raw.close()
        return answer, reply, extra

    answer, reply, extra = run_broker(home, scenario)
    assert answer == (0, b"CLOSE_WAIT")
    assert reply == (0, b"OK")
    assert extra is None  # no message delivered to a closing client


def test_pipelined_publishes_are_answered_in_order(home):
    async def scenario(b):
        raw = await b.raw()
        raw.send(b"SUB other c")  # subscribed (RDY 0), so an unknown FIN is a non-fatal error
        assert await raw.frame() == (0, b"OK")
        for i in range(200):
            if i % 7 == 3:
                raw.send(b"FIN 0000000000000000")  # an error between publishes keeps its place
            elif i % 5 == 0:
                raw.send(b"MPUB ordered", struct.pack(">ii", 1, 1) + b"m")
            else:
                raw.send(b"PUB ordered", b"%d" % i)
        frames = [await raw.frame() for _ in range(200)]
        return frames

    frames = run_broker(home, scenario)
    for i, frame in enumerate(frames):
        if i % 7 == 3:
            assert frame == (1, b"E_FIN_FAILED FIN 0000000000000000 failed ID not in flight")
        else:
            assert frame == (0, b"OK")


def test_abrupt_disconnect_mid_body_leaves_the_broker_serving(home):
    async def scenario(b):
        raw = await b.raw()
        raw.send_bytes(b"PUB t\n" + struct.pack(">i", 1000) + b"partial")
        await asyncio.sleep(0.05)
        await raw.close()
        sub = await b.raw()
        sub.send(b"SUB t c")
        raw.send_bytes(b"")
        assert await sub.frame() == (0, b"OK")
        sub.send(b"RDY 10")
        pub = await b.raw()
        pub.send(b"PUB t", b"whole")
        assert await pub.frame() == (0, b"OK")
        msg = await sub.message()
        await sub.close()
        await pub.close()
        return msg, b.broker.topics["t"].message_count

    msg, count = run_broker(home, scenario)
    assert msg[3] == b"whole" and count == 1  # the partial publish was never stored


def test_heartbeat_frames_are_sent_at_the_negotiated_interval(home):
    async def scenario(b):
        raw = await b.raw()
        await raw.identify(heartbeat_interval=1000)
        frames = []
        for _ in range(2):
            frames.append(await raw.frame(timeout=5, skip_heartbeats=False))
            raw.send(b"NOP")
        await raw.close()
        return frames

    assert run_broker(home, scenario) == [(0, b"_heartbeat_")] * 2


def test_a_client_silent_for_two_heartbeats_is_closed(home):
    async def scenario(b):
        raw = await b.raw()
        await raw.identify(heartbeat_interval=1000)
        return await raw.is_closed(timeout=10)

    assert run_broker(home, scenario)


def test_sub_with_heartbeats_disabled_is_refused(home):
    async def steps(raw):
        await raw.identify(heartbeat_interval=-1)
        raw.send(b"SUB t c")

    expect_fatal(home, steps, b"E_INVALID cannot SUB with heartbeats disabled")
