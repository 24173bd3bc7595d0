"""Durability: nothing the broker acknowledged is lost when it is killed with SIGKILL mid-stream,
and every message not FIN'd before the kill is delivered again (duplicates allowed)."""

from __future__ import annotations

import asyncio

from mini_kernel.testing.processes import ServiceProcess

from .nsqtools import FAST_ENV, Pub, Sub, channel_stats, free_port, until


def test_kill9_mid_stream_loses_nothing_acknowledged(mini_home):
    tcp, http = free_port(), free_port()
    args = ["--broker-tcp-port", str(tcp), "--broker-http-port", str(http)]
    proc = ServiceProcess("broker", "services.broker", mini_home, env=FAST_ENV, args=args).start()
    address = f"127.0.0.1:{tcp}"
    acked: set[bytes] = set()
    try:
        async def before_kill():
            pub = await Pub(address).ready()
            sub = Sub(address, "durable", "c", max_in_flight=20)  # consumes (and FINs) meanwhile
            stop = asyncio.Event()

            async def publisher(k: int) -> None:
                n = 0
                while not stop.is_set():
                    bodies = [b"p%d-%d-%d" % (k, n, i) for i in range(25)]
                    n += 1
                    data = await pub.mpub("durable", bodies)
                    if data != b"OK":
                        return
                    acked.update(bodies)

            tasks = [asyncio.ensure_future(publisher(k)) for k in range(8)]
            await until(lambda: len(acked) >= 3000, timeout=60, what="3000 acknowledged messages")
            proc.kill9()  # mid-stream: publishes are in flight on every task
            stop.set()
            await asyncio.wait(tasks, timeout=30)
            got_before = set(sub.bodies())
            sub.close()
            pub.close()
            return got_before

        got_before = asyncio.run(before_kill())
        proc.start()

        async def after_restart():
            sub = Sub(address, "durable", "c", max_in_flight=200)
            missing = lambda: acked - got_before - set(sub.bodies())  # noqa: E731
            await until(lambda: not missing(), timeout=60, what="every acknowledged message")
            await until(lambda: channel_stats(proc.url, "durable", "c")["depth"] == 0, what="drained")
            sub.close()
            return set(sub.bodies())

        got_after = asyncio.run(after_restart())
        assert acked <= got_before | got_after
        assert len(acked) >= 3000
    finally:
        proc.stop()


def test_clean_restart_redelivers_unfinished_and_keeps_finished(mini_home):
    args = ["--broker-tcp-port", str(free_port()), "--broker-http-port", str(free_port())]
    proc = ServiceProcess("broker", "services.broker", mini_home, env=FAST_ENV, args=args).start()
    address = f"127.0.0.1:{proc.port}"
    try:
        async def first():
            pub = await Pub(address).ready()
            assert await pub.mpub("keep", [b"k%d" % i for i in range(10)]) == b"OK"
            # FIN the even ones; hold the odd ones in flight when the broker stops.
            sub = Sub(address, "keep", "c", decide=lambda m: True if int(m.body[1:]) % 2 == 0 else None)
            await until(lambda: len(sub.received) >= 10, what="10 deliveries")
            await asyncio.sleep(0.3)  # FINs reach the broker
            proc.stop()
            sub.close()
            pub.close()

        asyncio.run(first())
        proc.start()

        async def second():
            sub = Sub(address, "keep", "c")
            await until(lambda: len(sub.received) >= 5, what="redelivery")
            await asyncio.sleep(0.5)
            sub.close()
            return sub.received

        received = asyncio.run(second())
        assert sorted(r[0] for r in received) == [b"k1", b"k3", b"k5", b"k7", b"k9"]
        assert all(r[1] >= 2 for r in received)  # attempts survive the restart
    finally:
        proc.stop()
