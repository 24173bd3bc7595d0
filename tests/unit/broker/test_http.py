"""The HTTP API: nsqd 1.3's endpoints and error bodies, nsqlookupd's /lookup, /health and /status."""

from __future__ import annotations

import asyncio
import struct

import httpx

from .conftest import run_broker

CHANNEL_KEYS = {"channel_name", "depth", "backend_depth", "in_flight_count", "deferred_count", "message_count",
                "requeue_count", "timeout_count", "client_count", "clients", "paused", "e2e_processing_latency"}
TOPIC_KEYS = {"topic_name", "channels", "depth", "backend_depth", "message_count", "message_bytes", "paused",
              "e2e_processing_latency"}


def http(home, scenario, **overrides):
    async def wrapped(b):
        async with httpx.AsyncClient(base_url=b.url, timeout=30) as client:
            return await scenario(b, client)

    return run_broker(home, wrapped, **overrides)


def test_ping_info_health_status(home):
    async def scenario(b, client):
        return [await client.get(p) for p in ("/ping", "/info", "/health", "/status")]

    ping, info, health, status = http(home, scenario)
    assert (ping.status_code, ping.text) == (200, "OK")
    assert set(info.json()) == {"version", "broadcast_address", "hostname", "http_port", "tcp_port", "start_time"}
    assert info.json()["version"] == "1.3.0"
    assert health.status_code == 200
    counters = status.json()["counters"]
    assert {"published", "connections", "depth", "in_flight", "disk_bytes", "fsync_passes"} <= set(counters)


def test_pub_mpub_and_stats_shape(home):
    async def scenario(b, client):
        replies = [
            await client.post("/pub", params={"topic": "h"}, content=b"one"),
            await client.post("/mpub", params={"topic": "h"}, content=b"two\nthree\n"),
            await client.post("/mpub", params={"topic": "h", "binary": "true"},
                              content=struct.pack(">ii", 2, 4) + b"fo\nr" + struct.pack(">i", 4) + b"five"),
            await client.post("/channel/create", params={"topic": "h", "channel": "c"}),
        ]
        stats = (await client.get("/stats", params={"format": "json", "topic": "h"})).json()
        return replies, stats

    replies, stats = http(home, scenario)
    assert [(r.status_code, r.text) for r in replies[:3]] == [(200, "OK")] * 3
    assert replies[3].status_code == 200
    assert {"version", "health", "start_time", "topics", "producers"} <= set(stats)
    (topic,) = stats["topics"]
    assert set(topic) == TOPIC_KEYS
    assert topic["topic_name"] == "h" and topic["message_count"] == 5
    (channel,) = topic["channels"]
    assert set(channel) == CHANNEL_KEYS
    # The first channel inherits what was published before it existed.
    assert channel["depth"] == 5 and channel["in_flight_count"] == 0


def test_pub_errors_are_nsqd_error_bodies(home):
    async def scenario(b, client):
        return [
            await client.post("/pub", content=b"x"),
            await client.post("/pub", params={"topic": "bad topic!"}, content=b"x"),
            await client.post("/pub", params={"topic": "t"}, content=b""),
            await client.post("/pub", params={"topic": "t"}, content=b"x" * 2000),
            await client.post("/pub", params={"topic": "t", "defer": "soon"}, content=b"x"),
            await client.post("/mpub", params={"topic": "t", "binary": "true"}, content=b"\x00\x00"),
            await client.post("/mpub", params={"topic": "t"}, content=b"y" * 5000),
            await client.post("/channel/create", params={"topic": "t", "channel": "no/slash"}),
            await client.post("/channel/delete", params={"topic": "t", "channel": "never"}),
            await client.post("/topic/delete", params={"topic": "never"}),
            await client.get("/pub"),
            await client.get("/no/such/path"),
        ]

    replies = http(home, scenario, broker__max_msg_size=1024, broker__max_body_size=4096)
    assert [(r.status_code, r.json()) for r in replies] == [
        (400, {"message": "MISSING_ARG_TOPIC"}),
        (400, {"message": "INVALID_TOPIC"}),
        (400, {"message": "MSG_EMPTY"}),
        (413, {"message": "MSG_TOO_BIG"}),
        (400, {"message": "INVALID_DEFER"}),
        (400, {"message": "BAD_BODY"}),
        (413, {"message": "BODY_TOO_BIG"}),
        (400, {"message": "INVALID_CHANNEL"}),
        (404, {"message": "CHANNEL_NOT_FOUND"}),
        (404, {"message": "TOPIC_NOT_FOUND"}),
        (405, {"message": "METHOD_NOT_ALLOWED"}),
        (404, {"message": "NOT_FOUND"}),
    ]


def test_pub_with_defer_is_counted_as_deferred(home):
    async def scenario(b, client):
        await client.post("/channel/create", params={"topic": "d", "channel": "c"})
        raw = await b.raw()
        raw.send(b"SUB d c")
        assert await raw.frame() == (0, b"OK")
        raw.send(b"RDY 5")
        assert (await client.post("/pub", params={"topic": "d", "defer": "60000"}, content=b"later")).text == "OK"
        await asyncio.sleep(0.2)
        return (await client.get("/stats", params={"format": "json", "topic": "d"})).json()

    channel = http(home, scenario)["topics"][0]["channels"][0]
    assert channel["deferred_count"] == 1 and channel["in_flight_count"] == 0 and channel["depth"] == 0


def test_topic_and_channel_admin(home):
    async def scenario(b, client):
        post = client.post
        await post("/topic/create", params={"topic": "adm"})
        await post("/channel/create", params={"topic": "adm", "channel": "a"})
        await post("/channel/create", params={"topic": "adm", "channel": "b"})
        await post("/mpub", params={"topic": "adm"}, content=b"1\n2\n3")
        await post("/channel/empty", params={"topic": "adm", "channel": "a"})
        stats = (await client.get("/stats?format=json&topic=adm")).json()["topics"][0]
        depths = {c["channel_name"]: c["depth"] for c in stats["channels"]}
        await post("/channel/delete", params={"topic": "adm", "channel": "b"})
        after_delete = (await client.get("/stats?format=json&topic=adm")).json()["topics"][0]
        lookup = (await client.get("/lookup", params={"topic": "adm"})).json()
        missing = await client.get("/lookup", params={"topic": "nope"})
        await post("/topic/delete", params={"topic": "adm"})
        gone = (await client.get("/stats?format=json&topic=adm")).json()["topics"]
        return depths, [c["channel_name"] for c in after_delete["channels"]], lookup, missing, gone, b

    depths, channels, lookup, missing, gone, b = http(home, scenario)
    assert depths == {"a": 0, "b": 3}
    assert channels == ["a"]
    assert lookup["channels"] == ["a"]
    (producer,) = lookup["producers"]
    assert producer["tcp_port"] == b.port and producer["http_port"] == b.http_port
    assert {"broadcast_address", "hostname", "version", "remote_address"} <= set(producer)
    assert (missing.status_code, missing.json()) == (404, {"message": "TOPIC_NOT_FOUND"})
    assert gone == []
    assert not (home / "broker" / "topics" / "t-adm").exists()


def test_topic_empty_drops_what_waits_for_a_first_channel(home):
    async def scenario(b, client):
        await client.post("/mpub", params={"topic": "e"}, content=b"1\n2")
        await client.post("/topic/empty", params={"topic": "e"})
        await client.post("/channel/create", params={"topic": "e", "channel": "c"})
        return (await client.get("/stats?format=json&topic=e")).json()["topics"][0]

    topic = http(home, scenario)
    assert topic["depth"] == 0 and topic["channels"][0]["depth"] == 0


def test_pipeline_topics_and_channels_exist_from_the_start(home):
    async def scenario(b, client):
        return (await client.get("/stats?format=json")).json()

    stats = http(home, scenario)
    names = {t["topic_name"]: [c["channel_name"] for c in t["channels"]] for t in stats["topics"]}
    assert names == {
        "RawEvents": ["enrich"],
        "EnrichedEvents": ["ESLoaderChannelGood"],
        "BadEvents": ["ESLoaderChannelBad"],
        "BadElasticsearchEvents": ["archive"],
        "PiiEvents": ["archive"],
    }


def test_paused_channel_holds_messages_until_unpaused(home):
    async def scenario(b, client):
        raw = await b.raw()
        raw.send(b"SUB paused c")
        assert await raw.frame() == (0, b"OK")
        raw.send(b"RDY 5")
        await client.post("/channel/pause", params={"topic": "paused", "channel": "c"})
        await client.post("/pub", params={"topic": "paused"}, content=b"held")
        try:
            early = await raw.message(timeout=0.5)
        except asyncio.TimeoutError:
            early = None
        stats = (await client.get("/stats?format=json&topic=paused")).json()["topics"][0]["channels"][0]
        await client.post("/channel/unpause", params={"topic": "paused", "channel": "c"})
        later = await raw.message()
        return early, stats, later

    early, stats, later = http(home, scenario)
    assert early is None and stats["paused"] is True and stats["depth"] == 1
    assert later[3] == b"held"
