"""pynsq 0.9.1 Writer/Reader against the broker process (reference: nsq-and-libraries.md §1)."""

from __future__ import annotations

import asyncio
import time

import nsq

from mini_kernel.testing.processes import ServiceProcess

from .nsqtools import FAST_ENV, Pub, Sub, channel_stats, free_port, until


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_pub_mpub_reach_a_reader_once_each(broker):
    address = f"127.0.0.1:{broker.port}"

    async def scenario():
        pub = await Pub(address).ready()
        assert await pub.pub("orders", b"one") == b"OK"
        assert await pub.mpub("orders", [b"two", b"three", b"four"]) == b"OK"
        sub = Sub(address, "orders", "c")
        await until(lambda: len(sub.received) >= 4, what="4 messages")
        await asyncio.sleep(0.3)
        sub.close()
        pub.close()
        return sub.received

    received = run(scenario())
    assert sorted(r[0] for r in received) == [b"four", b"one", b"three", b"two"]
    assert all(r[1] == 1 for r in received)  # first delivery: attempts 1
    assert all(len(r[2]) == 16 for r in received)  # nsqd ids: 16 ASCII hex chars
    c = channel_stats(broker.url, "orders", "c")
    assert c["depth"] == 0 and c["in_flight_count"] == 0 and c["message_count"] == 4


def test_dpub_is_not_delivered_before_its_delay(broker):
    address = f"127.0.0.1:{broker.port}"

    async def scenario():
        sub = Sub(address, "later", "c")
        pub = await Pub(address).ready()
        await until(sub.connected, what="reader connected")
        sent = time.monotonic()
        assert await pub.dpub("later", 1500, b"deferred") == b"OK"
        assert await pub.pub("later", b"now") == b"OK"
        await until(lambda: len(sub.received) >= 2, what="both messages")
        sub.close()
        pub.close()
        return sent, {r[0]: r[3] for r in sub.received}

    sent, at = run(scenario())
    assert at[b"deferred"] - sent >= 1.4
    assert at[b"now"] < at[b"deferred"]


def test_req_redelivers_with_attempts_counted(broker):
    address = f"127.0.0.1:{broker.port}"

    def decide(message: nsq.Message):
        if message.attempts < 3:
            message.enable_async()
            message.requeue(backoff=False, time_ms=50 * message.attempts)
            return None
        return True

    async def scenario():
        pub = await Pub(address).ready()
        sub = Sub(address, "retry", "c", decide=decide)
        assert await pub.pub("retry", b"flaky") == b"OK"
        await until(lambda: len(sub.received) >= 3, what="3 deliveries")
        await asyncio.sleep(0.3)
        sub.close()
        pub.close()
        return sub.received

    received = run(scenario())
    assert [r[1] for r in received] == [1, 2, 3]
    assert len({r[2] for r in received}) == 1  # the same message id each time
    c = channel_stats(broker.url, "retry", "c")
    assert c["requeue_count"] == 2 and c["depth"] == 0 and c["in_flight_count"] == 0


def test_msg_timeout_requeues_with_attempts_plus_one(broker):
    address = f"127.0.0.1:{broker.port}"

    def decide(message: nsq.Message):
        return None if message.attempts == 1 else True  # first delivery: never answered

    async def scenario():
        pub = await Pub(address).ready()
        sub = Sub(address, "slow", "c", decide=decide, msg_timeout=1)
        assert await pub.pub("slow", b"x") == b"OK"
        await until(lambda: len(sub.received) >= 2, what="redelivery after msg_timeout")
        await asyncio.sleep(0.2)
        sub.close()
        pub.close()
        return sub.received

    received = run(scenario())
    assert [r[1] for r in received] == [1, 2]
    assert received[1][3] - received[0][3] >= 0.9
    assert channel_stats(broker.url, "slow", "c")["timeout_count"] == 1


def test_touch_extends_the_timeout(broker):
    address = f"127.0.0.1:{broker.port}"
    held: list[nsq.Message] = []

    def decide(message: nsq.Message):
        held.append(message)
        return None

    async def scenario():
        pub = await Pub(address).ready()
        sub = Sub(address, "touchy", "c", decide=decide, msg_timeout=1)
        assert await pub.pub("touchy", b"x") == b"OK"
        await until(lambda: held, what="delivery")
        for _ in range(8):  # 2.4 s in all, well past the 1 s msg_timeout
            await asyncio.sleep(0.3)
            held[0].touch()
        held[0].finish()
        await asyncio.sleep(0.5)
        sub.close()
        pub.close()
        return sub.received

    received = run(scenario())
    assert len(received) == 1
    c = channel_stats(broker.url, "touchy", "c")
    assert c["timeout_count"] == 0 and c["in_flight_count"] == 0 and c["depth"] == 0


def test_heartbeats_keep_an_idle_connection_alive(broker):
    address = f"127.0.0.1:{broker.port}"

    async def scenario():
        sub = Sub(address, "quiet", "c", heartbeat_interval=1)
        await until(sub.connected, what="reader connected")
        conn = next(iter(sub.reader.conns.values()))
        beats = []
        conn.on(nsq.event.HEARTBEAT, lambda **kw: beats.append(time.monotonic()))
        await asyncio.sleep(3.5)  # idle for more than 3 intervals: only heartbeats and NOPs flow
        still = next(iter(sub.reader.conns.values()), None)
        pub = await Pub(address).ready()
        assert await pub.pub("quiet", b"after idling") == b"OK"
        await until(lambda: sub.received, what="message after idling")
        sub.close()
        pub.close()
        return beats, still is conn

    beats, same_connection = run(scenario())
    assert len(beats) >= 2
    assert same_connection


def test_two_channels_each_get_every_message(broker):
    address = f"127.0.0.1:{broker.port}"
    bodies = [b"m%d" % i for i in range(30)]

    async def scenario():
        a = Sub(address, "fanout", "a")
        b = Sub(address, "fanout", "b")
        await until(lambda: a.connected() and b.connected(), what="readers connected")
        pub = await Pub(address).ready()
        assert await pub.mpub("fanout", bodies[:10]) == b"OK"
        for body in bodies[10:]:
            assert await pub.pub("fanout", body) == b"OK"
        await until(lambda: len(a.received) >= 30 and len(b.received) >= 30, what="both channels")
        await asyncio.sleep(0.2)
        a.close()
        b.close()
        pub.close()
        return a.bodies(), b.bodies()

    got_a, got_b = run(scenario())
    assert sorted(got_a) == sorted(bodies)
    assert sorted(got_b) == sorted(bodies)


def test_messages_published_before_any_channel_wait_for_the_first(broker):
    address = f"127.0.0.1:{broker.port}"

    async def scenario():
        pub = await Pub(address).ready()
        assert await pub.mpub("early", [b"e1", b"e2"]) == b"OK"
        sub = Sub(address, "early", "first")
        await until(lambda: len(sub.received) >= 2, what="backlog")
        sub.close()
        pub.close()
        return sub.bodies()

    assert sorted(run(scenario())) == [b"e1", b"e2"]


def test_two_readers_share_one_channel(broker):
    address = f"127.0.0.1:{broker.port}"
    bodies = [b"s%d" % i for i in range(60)]

    async def scenario():
        a = Sub(address, "shared", "workers", max_in_flight=5)
        b = Sub(address, "shared", "workers", max_in_flight=5)
        await until(lambda: a.connected() and b.connected(), what="readers connected")
        await asyncio.sleep(0.3)  # both have sent RDY
        pub = await Pub(address).ready()
        for i in range(0, 60, 6):
            assert await pub.mpub("shared", bodies[i:i + 6]) == b"OK"
        await until(lambda: len(a.received) + len(b.received) >= 60, what="all messages")
        await asyncio.sleep(0.3)
        a.close()
        b.close()
        pub.close()
        return a.bodies(), b.bodies()

    got_a, got_b = run(scenario())
    assert got_a and got_b  # both consumers got work
    assert sorted(got_a + got_b) == sorted(bodies)  # each message went to exactly one of them


def test_reader_and_writer_reconnect_after_a_broker_restart(mini_home):
    tcp, http = free_port(), free_port()
    args = ["--broker-tcp-port", str(tcp), "--broker-http-port", str(http)]
    proc = ServiceProcess("broker", "services.broker", mini_home, env=FAST_ENV, args=args).start()
    address = f"127.0.0.1:{tcp}"
    try:
        async def scenario():
            # Through nsqlookupd's /lookup (served by the broker) the reader re-discovers it quickly.
            sub = Sub(None, "restart", "c", lookupd_http_addresses=[f"http://127.0.0.1:{http}"],
                      lookupd_poll_interval=1, lookupd_poll_jitter=0.0)
            pub = await Pub(address).ready()
            assert await pub.pub("restart", b"before") == b"OK"
            await until(lambda: sub.received, what="first message")
            proc.stop()
            await until(lambda: not sub.connected() and not pub.writer.conns, what="clients see the close")
            await asyncio.get_running_loop().run_in_executor(None, proc.start)
            await pub.ready()
            assert await pub.pub("restart", b"after") == b"OK"
            await until(lambda: b"after" in sub.bodies(), what="message after restart")
            sub.close()
            pub.close()
            return sub.bodies()

        assert run(scenario()) == [b"before", b"after"]
    finally:
        proc.stop()
