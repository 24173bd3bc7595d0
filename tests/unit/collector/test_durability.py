"""The spool and the sink: 2xx only once durable; spooled in order while the broker is down; replayed."""

from __future__ import annotations

import asyncio
import os

import pytest

from services.collector.sink import Sink
from services.collector.spool import Spool, SpoolFull
from services.common.bus import BAD, RAW

from .helpers import CollectorTestCase, MemoryPublisher


def run(coro):
    return asyncio.run(coro)


def test_spool_round_trip_and_reset(tmp_path):
    async def main():
        spool = Spool(tmp_path, fsync=True)
        await spool.append([(RAW, b"a"), (BAD, b"bb")])
        await spool.append([(RAW, b"c" * 1000)])
        assert spool.depth == 3
        records, offset = await spool.read(2)
        assert records == [(RAW, b"a"), (BAD, b"bb")]
        await spool.advance(offset, 2)
        assert spool.depth == 1
        records, offset = await spool.read(10)
        assert records == [(RAW, b"c" * 1000)]
        await spool.advance(offset, 1)
        assert spool.depth == 0 and os.path.getsize(tmp_path / "spool.log") == 0
        spool.close()

    run(main())


def test_spool_survives_reopen_and_cuts_a_torn_tail(tmp_path):
    async def main():
        spool = Spool(tmp_path)
        await spool.append([(RAW, b"one"), (RAW, b"two"), (RAW, b"three")])
        records, offset = await spool.read(1)
        await spool.advance(offset, 1)
        spool.close()
        with open(tmp_path / "spool.log", "ab") as fh:  # a crash in the middle of an append
            fh.write(b"\x00\x00\x00\x10\x12")
        again = Spool(tmp_path)
        assert again.depth == 2 and again.torn_bytes_dropped == 5
        records, _ = await again.read(10)
        assert records == [(RAW, b"two"), (RAW, b"three")]
        await again.append([(RAW, b"four")])
        records, _ = await again.read(10)
        assert records[-1] == (RAW, b"four")
        again.close()

    run(main())


def test_spool_full(tmp_path):
    async def main():
        spool = Spool(tmp_path, max_bytes=100)
        with pytest.raises(SpoolFull):
            await spool.append([(RAW, b"x" * 200)])
        spool.close()

    run(main())


def test_sink_batches_one_tick_into_one_publish(tmp_path):
    async def main():
        publisher = MemoryPublisher()
        calls = []
        original = publisher.publish

        async def counting(topic, bodies):
            calls.append(len(bodies))
            await original(topic, bodies)

        publisher.publish = counting
        sink = Sink(publisher, Spool(tmp_path))
        await asyncio.gather(*(sink.submit([(RAW, str(i).encode())]) for i in range(50)))
        assert calls == [50]
        assert [b for _, b in publisher.published] == [str(i).encode() for i in range(50)]
        await sink.close()

    run(main())


def test_sink_spools_while_down_and_replays_in_order(tmp_path):
    async def main():
        publisher = MemoryPublisher()
        publisher.up = False
        sink = Sink(publisher, Spool(tmp_path))
        sink.start()
        for i in range(20):
            await sink.submit([(RAW, b"%d" % i)])
        assert sink.spool.depth == 20 and not sink.healthy()
        publisher.up = True
        await sink.submit([(RAW, b"20")])  # arrives while the spool waits: spooled behind it, for order
        for _ in range(200):
            if sink.spool.depth == 0:
                break
            await asyncio.sleep(0.05)
        assert [b for _, b in publisher.published] == [b"%d" % i for i in range(21)]
        assert sink.healthy()
        await sink.close()

    run(main())


def test_slow_broker_times_out_into_the_spool(tmp_path):
    async def main():
        publisher = MemoryPublisher()
        publisher.hang = True
        sink = Sink(publisher, Spool(tmp_path), publish_timeout_s=0.2)
        await asyncio.wait_for(sink.submit([(RAW, b"x")]), 5)
        assert sink.spool.depth == 1
        await sink.close(grace_s=0.5)

    run(main())


def test_spool_of_a_previous_run_is_replayed(tmp_path):
    async def main():
        publisher = MemoryPublisher()
        publisher.up = False
        sink = Sink(publisher, Spool(tmp_path))
        await sink.submit([(RAW, b"kept")])
        await sink.close()
        publisher = MemoryPublisher()
        sink = Sink(publisher, Spool(tmp_path))
        assert sink.spool.depth == 1
        sink.start()
        for _ in range(200):
            if publisher.published:
                break
            await asyncio.sleep(0.05)
        assert publisher.published == [(RAW, b"kept")]
        await sink.close()

    run(main())


class SpoolFullAnswers503(CollectorTestCase):
    def get_app(self):
        app = super().get_app()
        self.publisher.up = False
        self.sink.spool.max_bytes = 10
        return app

    def test_503_when_nothing_can_keep_the_event(self):
        response = self.req("/i?e=pv")
        assert response.code == 503
        assert self._app.status()["counters"]["requests_accepted"] == 0


class BrokerDownStillAnswers200(CollectorTestCase):
    def test_spooled_requests_are_acknowledged(self):
        self.publisher.up = False
        for _ in range(5):
            assert self.req("/i?e=pv").code == 200
        assert self.sink.spool.depth == 5
        assert self.req("/sink-health").code == 503


def test_concurrent_appends_share_syncs_and_keep_order(tmp_path, monkeypatch):
    syncs = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (syncs.append(fd), real(fd)))

    async def main():
        spool = Spool(tmp_path, fsync=True)
        await asyncio.gather(*(spool.append([(RAW, b"%d" % i)]) for i in range(100)))
        records, _ = await spool.read(1000)
        assert records == [(RAW, b"%d" % i) for i in range(100)]
        spool.close()

    run(main())
    assert 1 <= len(syncs) < 100
