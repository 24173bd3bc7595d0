"""A RawEvents message whose processing keeps failing becomes one generic_error bad row (after
``bus.max_attempts``) and is finished: never dropped, never looping (DESIGN §6)."""

import asyncio
import json

import pytest

from mini_kernel.testing.processes import wait_for
from services.enrich.service import load_settings, start
from tests.service.enrich import support
from tests.unit.enrich import support as payloads

pytestmark = pytest.mark.slow


def test_repeated_failure_becomes_generic_error(spawn, mini_home, iglu_central_dir):
    broker = support.start_broker(spawn)
    broker.channel("BadEvents", "test")
    record = payloads.payload(querystring="e=pv&p=web&tv=js")

    async def run() -> dict:
        settings = load_settings({**support.enrich_env(broker, iglu_central_dir), "MINI_HOME": str(mini_home)})
        running = await start(settings)
        attempts = []

        async def broken(body):
            attempts.append(body)
            raise RuntimeError("simulated bug")

        running.state.pipeline.process = broken
        try:
            broker.mpub([record])
            for _ in range(600):
                if running.consumer.counters["gave_up"]:
                    break
                await asyncio.sleep(0.05)
            return {"attempts": len(attempts), **running.consumer.counters}
        finally:
            await running.close()

    counters = asyncio.run(run())
    assert counters["attempts"] == 3 and counters["gave_up"] == 1 and counters["requeued"] == 2
    (row,) = [json.loads(b) for b in broker.read("BadEvents", "test", 1)]
    assert row["schema"] == "iglu:com.snowplowanalytics.snowplow.badrows/generic_error/jsonschema/1-0-0"
    assert row["data"]["processor"]["artifact"] == "mini-enrich"
    assert "simulated bug" in row["data"]["failure"]["errors"][0]
    wait_for(lambda: broker.drained(), timeout=30, what="the message to be finished")
