"""services.common.bus through the real broker: retries never lose a message, and a message that
fails every time ends as a generic_error bad row on BadEvents (DESIGN §6 durability words)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import jsonschema

from services.common import badrows, bus
from services.common import settings as settings_mod
from tests.service.broker.nsqtools import FAST_ENV, Sub, until

ROOT = Path(__file__).resolve().parents[3]
IGLU_CENTRAL = Path(os.environ.get("MINI_TEST_IGLU_CENTRAL", ROOT.parent / "shared" / "iglu-central"))
GENERIC_ERROR = IGLU_CENTRAL / "schemas/com.snowplowanalytics.snowplow.badrows/generic_error/jsonschema/1-0-0"


def bus_settings(address: str, attempts: int = 10):
    return settings_mod.load(settings_mod.COMMON, args={"nsqd.tcp_address": address, "bus.max_attempts": attempts},
                             env={})


def test_a_message_failing_nine_times_is_processed_on_the_tenth(spawn):
    broker = spawn("broker", "services.broker", env=FAST_ENV)
    address = f"127.0.0.1:{broker.port}"
    seen: list[int] = []
    done: list[bytes] = []

    async def handler(body: bytes, attempts: int) -> None:
        seen.append(attempts)
        if attempts < 10:
            raise RuntimeError(f"transient failure {attempts}")
        done.append(body)

    async def scenario():
        settings = bus_settings(address)
        publisher = bus.Publisher(settings)
        assert await publisher.wait_connected()
        consumer = bus.Consumer(settings, "bus_retry", "c", handler, publisher=publisher,
                                processor=badrows.ENRICH, retry_delay_ms=1, retry_max_delay_ms=20)
        await publisher.publish("bus_retry", [b"precious"])
        await until(lambda: done, what="the tenth attempt")
        await asyncio.sleep(0.3)
        consumer.close()
        publisher.close()
        return consumer.counters

    counters = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert seen == list(range(1, 11))
    assert done == [b"precious"]
    assert counters["requeued"] == 9 and counters["gave_up"] == 0


def test_a_message_failing_every_time_becomes_a_generic_error_bad_row(spawn):
    broker = spawn("broker", "services.broker", env=FAST_ENV)
    address = f"127.0.0.1:{broker.port}"
    attempts_seen: list[int] = []

    async def handler(body: bytes, attempts: int) -> None:
        attempts_seen.append(attempts)
        raise ValueError("cannot handle this")

    async def scenario():
        settings = bus_settings(address)
        publisher = bus.Publisher(settings)
        assert await publisher.wait_connected()
        consumer = bus.Consumer(settings, "bus_poison", "c", handler, publisher=publisher,
                                processor=badrows.ENRICH, retry_delay_ms=1, retry_max_delay_ms=20)
        bad = Sub(address, bus.BAD, bus.CHANNELS[bus.BAD][0])
        await publisher.publish("bus_poison", [b"poison \xff"])
        await until(lambda: bad.received, what="the bad row")
        await asyncio.sleep(0.5)  # nothing else arrives: no loop, no second bad row
        consumer.close()
        bad.close()
        publisher.close()
        return consumer.counters, bad.bodies()

    counters, rows = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert attempts_seen == list(range(1, 11))
    assert counters["gave_up"] == 1
    assert len(rows) == 1
    row = json.loads(rows[0])
    assert row["schema"] == "iglu:com.snowplowanalytics.snowplow.badrows/generic_error/jsonschema/1-0-0"
    schema = json.loads(GENERIC_ERROR.read_text())
    jsonschema.Draft4Validator(schema).validate(row["data"])
    assert "cannot handle this" in row["data"]["failure"]["errors"][0]
    assert row["data"]["processor"]["artifact"] == "mini-enrich"


def test_publish_without_a_broker_raises_publish_error():
    async def scenario():
        settings = bus_settings("127.0.0.1:1")
        publisher = bus.Publisher(settings)
        try:
            await publisher.publish("anything", [b"x"])
        except bus.PublishError as exc:
            return str(exc)
        finally:
            publisher.close()

    assert "publish to anything failed" in asyncio.run(scenario())
