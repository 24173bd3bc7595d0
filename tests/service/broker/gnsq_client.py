"""gnsq (gevent) scenarios against a running broker, run as a subprocess so gevent never touches
the test process's event loop: ``python -m tests.service.broker.gnsq_client TCP HTTP SCENARIO``.
Prints one JSON object with what the scenario observed."""

from __future__ import annotations

import json
import sys
import time

import gevent
import gnsq


def wait(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("gnsq scenario timed out")
        gevent.sleep(0.02)


def consume(tcp, topic, channel, handler=None, **kwargs):
    received = []

    def on_message(consumer, message):
        received.append({"body": message.body.decode(), "attempts": message.attempts,
                         "id": message.id.decode(), "at": time.monotonic()})
        if handler is not None:
            handler(message)

    kwargs.setdefault("max_in_flight", 20)
    consumer = gnsq.Consumer(topic, channel, [f"127.0.0.1:{tcp}"], message_handler=on_message,
                             heartbeat_interval=1, max_tries=0, **kwargs)
    consumer.start(block=False)
    return consumer, received


def stop(*consumers):
    for consumer in consumers:
        consumer.close()
        consumer.join(timeout=10)


def core(tcp, http):
    producer = gnsq.Producer([f"127.0.0.1:{tcp}"])
    producer.start()
    out = {}
    consumer, received = consume(tcp, "g_core", "c")
    other, received_other = consume(tcp, "g_core", "other")
    wait(lambda: consumer._connections and other._connections)
    gevent.sleep(0.3)
    out["pub"] = producer.publish("g_core", b"one").decode()
    out["mpub"] = producer.multipublish("g_core", [b"two", b"three"]).decode()
    sent = time.monotonic()
    out["dpub"] = producer.publish("g_core", b"deferred", defer=1200).decode()
    wait(lambda: len(received) >= 4 and len(received_other) >= 4)
    gevent.sleep(0.3)
    out["bodies"] = sorted(r["body"] for r in received)
    out["other_bodies"] = sorted(r["body"] for r in received_other)
    out["attempts"] = sorted({r["attempts"] for r in received})
    out["deferred_after"] = next(r["at"] for r in received if r["body"] == "deferred") - sent
    stop(consumer, other)
    producer.close()
    producer.join(timeout=10)
    return out


def requeue(tcp, http):
    producer = gnsq.Producer([f"127.0.0.1:{tcp}"])
    producer.start()

    def handler(message):
        message.enable_async()
        if message.attempts < 3:
            message.requeue(time_ms=50, backoff=False)
        else:
            message.finish()

    consumer, received = consume(tcp, "g_req", "c", handler=handler)
    wait(lambda: consumer._connections)
    producer.publish("g_req", b"flaky")
    wait(lambda: len(received) >= 3)
    gevent.sleep(0.3)
    stop(consumer)
    producer.close()
    producer.join(timeout=10)
    return {"attempts": [r["attempts"] for r in received], "ids": len({r["id"] for r in received})}


def timeout(tcp, http):
    producer = gnsq.Producer([f"127.0.0.1:{tcp}"])
    producer.start()

    def handler(message):
        if message.attempts == 1:
            message.enable_async()  # never answered: the broker must time it out (its default 1 s)

    consumer, received = consume(tcp, "g_timeout", "c", handler=handler)
    wait(lambda: consumer._connections)
    producer.publish("g_timeout", b"slow")
    wait(lambda: len(received) >= 2)
    stop(consumer)
    producer.close()
    producer.join(timeout=10)
    return {"attempts": [r["attempts"] for r in received]}


def shared(tcp, http):
    producer = gnsq.Producer([f"127.0.0.1:{tcp}"])
    producer.start()
    a, got_a = consume(tcp, "g_shared", "workers", max_in_flight=4)
    b, got_b = consume(tcp, "g_shared", "workers", max_in_flight=4)
    wait(lambda: a._connections and b._connections)
    gevent.sleep(0.5)
    bodies = [b"s%d" % i for i in range(40)]
    for i in range(0, 40, 5):
        producer.multipublish("g_shared", bodies[i:i + 5])
    wait(lambda: len(got_a) + len(got_b) >= 40)
    gevent.sleep(0.3)
    stop(a, b)
    producer.close()
    producer.join(timeout=10)
    return {"a": sorted(r["body"] for r in got_a), "b": sorted(r["body"] for r in got_b)}


def touch(tcp, http):
    producer = gnsq.Producer([f"127.0.0.1:{tcp}"])
    producer.start()
    held = []

    def handler(message):
        message.enable_async()
        held.append(message)

    consumer, received = consume(tcp, "g_touch", "c", handler=handler)
    wait(lambda: consumer._connections)
    producer.publish("g_touch", b"long job")
    wait(lambda: held)
    for _ in range(8):  # 2.4 s, past the broker's 1 s msg_timeout
        gevent.sleep(0.3)
        held[0].touch()
    held[0].finish()
    gevent.sleep(0.5)
    stop(consumer)
    producer.close()
    producer.join(timeout=10)
    return {"deliveries": len(received)}


def http_api(tcp, http):
    client = gnsq.NsqdHTTPClient("127.0.0.1", http)
    out = {"ping": client.ping().decode(), "version": client.info()["version"]}
    client.create_topic("g_http")
    client.create_channel("g_http", "c")
    out["pub"] = client.publish("g_http", b"h1").decode()
    out["mpub"] = client.multipublish("g_http", [b"h2", b"h3"]).decode()
    out["mpub_binary"] = client.multipublish("g_http", [b"h4\nwith newline", b"h5"], binary=True).decode()
    stats = client.stats(topic="g_http")
    topic = stats["topics"][0]
    out["depth"] = topic["channels"][0]["depth"]
    consumer, received = consume(tcp, "g_http", "c")
    wait(lambda: len(received) >= 5)
    stop(consumer)
    out["bodies"] = sorted(r["body"] for r in received)
    client.empty_channel("g_http", "c")
    client.delete_channel("g_http", "c")
    client.delete_topic("g_http")
    out["topics_after"] = [t["topic_name"] for t in client.stats()["topics"]]
    return out


if __name__ == "__main__":
    tcp_port, http_port, scenario = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    result = globals()[scenario](tcp_port, http_port)
    print(json.dumps(result))
