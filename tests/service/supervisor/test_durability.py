"""Durability through the stack: publish N messages, ``kill -9`` the broker mid-stream, let the
supervisor restart it, and receive every acknowledged message (duplicates allowed, losses not).
"""

from __future__ import annotations

import asyncio
import urllib.request

import nsq

from services.common import bus
from services.common.settings import COMMON, load

N = 2000
BATCH = 50
TOPIC = "DurabilityTest"
CHANNEL = "check"


async def publish_all(stack, settings, kill_after: int) -> set[bytes]:
    """Publish N numbered messages, retrying each batch until acknowledged; kill -9 the broker once."""
    publisher = bus.Publisher(settings, reconnect_interval=0.2)
    assert await publisher.wait_connected(30)
    acknowledged: set[bytes] = set()
    killed = False
    loop = asyncio.get_running_loop()
    for start in range(0, N, BATCH):
        bodies = [f"msg-{i:06d}".encode() for i in range(start, start + BATCH)]
        deadline = loop.time() + 120
        while True:
            try:
                await asyncio.wait_for(publisher.publish(TOPIC, bodies), 10)
                acknowledged.update(bodies)
                break
            except (bus.PublishError, asyncio.TimeoutError):
                # not acknowledged: the broker is down or restarting; this batch may or may not have
                # been stored, so it is retried (the check below only counts acknowledged messages)
                assert loop.time() < deadline, "the broker never came back"
                await asyncio.sleep(0.2)
        if not killed and start >= kill_after:
            await loop.run_in_executor(None, lambda: stack.kill9("broker", wait=False))
            killed = True
    publisher.close()
    return acknowledged


async def receive(settings, expected: set[bytes], timeout: float = 120) -> set[bytes]:
    received: set[bytes] = set()
    done = asyncio.Event()

    def handler(message: nsq.Message) -> bool:
        received.add(message.body)
        if expected <= received:
            done.set()
        return True

    reader = nsq.Reader(topic=TOPIC, channel=CHANNEL, message_handler=handler, max_in_flight=500,
                        nsqd_tcp_addresses=bus.tcp_addresses(settings), max_tries=0)
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except asyncio.TimeoutError:
        pass
    reader.close()
    return received


def test_every_acknowledged_message_survives_kill9_of_the_broker(mini_stack_factory):
    stack = mini_stack_factory(services=("broker",))
    settings = load(COMMON, env=stack.env)
    # the channel exists before publishing, so it must receive everything
    http = settings["nsqd.http_address"]
    for path in (f"/topic/create?topic={TOPIC}", f"/channel/create?topic={TOPIC}&channel={CHANNEL}"):
        urllib.request.urlopen(urllib.request.Request(f"http://{http}{path}", method="POST", data=b""), timeout=10)

    acknowledged = asyncio.run(publish_all(stack, settings, kill_after=N // 2))
    assert len(acknowledged) == N
    broker = stack.wait_healthy("broker")
    assert broker["restarts"] == 1

    received = asyncio.run(receive(settings, acknowledged))
    missing = acknowledged - received
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:5]}"
    assert received <= {f"msg-{i:06d}".encode() for i in range(N)}
