"""The collector's sink: records in, a future out that resolves once they are durable.

Records submitted during one IOLoop tick are published together (one MPUB per topic and chunk);
the future resolves when the broker acknowledged them, or — broker down, slow past
``collector.publish_timeout_ms``, or a spool still being replayed (order) — once they are in the
:class:`~services.collector.spool.Spool`.  A background task replays the spool, in order, whenever
the broker takes writes again.  Delivery is at-least-once: a publish acknowledged after its timeout
is also spooled, and a crash between a replayed publish and its cursor write replays it again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, Sequence

from services.common.bus import BAD, RAW, PublishError

from .spool import Record, Spool

log = logging.getLogger(__name__)

_MAX_MPUB_BYTES = 4_000_000  # under nsqd's default --max-body-size (5 MiB)
_MAX_MPUB_COUNT = 1000


class PublisherLike(Protocol):
    def connected(self) -> bool: ...

    async def publish(self, topic: str, bodies: Sequence[bytes]) -> None: ...

    def close(self) -> None: ...


def _chunks(bodies: list[bytes]) -> list[list[bytes]]:
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for body in bodies:
        if current and (size + len(body) > _MAX_MPUB_BYTES or len(current) >= _MAX_MPUB_COUNT):
            chunks.append(current)
            current, size = [], 0
        current.append(body)
        size += len(body)
    if current:
        chunks.append(current)
    return chunks


class Sink:
    def __init__(
        self,
        publisher: PublisherLike | None,
        spool: Spool,
        *,
        publish_timeout_s: float = 2.0,
        replay_batch: int = 500,
    ):
        self.publisher = publisher
        self.spool = spool
        self.publish_timeout_s = publish_timeout_s
        self.replay_batch = replay_batch
        self.counters = {
            "payloads_published": 0,  # records acknowledged on RawEvents (direct or replayed)
            "bad_rows_published": 0,  # size_violation bad rows acknowledged on BadEvents
            "records_spooled": 0,
            "records_replayed": 0,
            "publish_batches": 0,
            "publish_failures": 0,
        }
        self._pending: list[tuple[list[Record], asyncio.Future]] = []
        self._scheduled = False
        self._inflight: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._closing = False
        self._replayer: asyncio.Task | None = None

    # -- submitting ---------------------------------------------------------------------------------

    def submit(self, records: list[Record]) -> asyncio.Future:
        """Queue records for this tick's batch; the future resolves when they are durable."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((records, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._deliver(batch))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    def broker_ready(self) -> bool:
        return self.publisher is not None and self.publisher.connected()

    def healthy(self) -> bool:
        """Broker takes writes and nothing waits in the spool (``/sink-health``)."""
        return self.broker_ready() and self.spool.depth == 0

    async def _publish(self, records: list[Record]) -> None:
        """Publish in order: consecutive records of one topic go in MPUB chunks."""
        assert self.publisher is not None
        groups: list[tuple[str, list[bytes]]] = []
        for topic, body in records:
            if groups and groups[-1][0] == topic:
                groups[-1][1].append(body)
            else:
                groups.append((topic, [body]))
        for topic, bodies in groups:
            for chunk in _chunks(bodies):
                await self.publisher.publish(topic, chunk)
        self.counters["publish_batches"] += 1
        for topic, _ in records:
            if topic == RAW:
                self.counters["payloads_published"] += 1
            elif topic == BAD:
                self.counters["bad_rows_published"] += 1

    async def _deliver(self, batch: list[tuple[list[Record], asyncio.Future]]) -> None:
        records = [record for items, _ in batch for record in items]
        error: BaseException | None = None
        published = False
        if self.spool.depth == 0 and self.broker_ready():
            try:
                await asyncio.wait_for(self._publish(records), self.publish_timeout_s)
                published = True
            except (PublishError, asyncio.TimeoutError) as exc:
                self.counters["publish_failures"] += 1
                log.warning("publish failed (%s); spooling %d records", exc or "timeout", len(records))
        if not published:
            try:
                await self.spool.append(records)
                self.counters["records_spooled"] += len(records)
                self._wake.set()
            except Exception as exc:  # noqa: BLE001 - SpoolFull, disk errors: the request gets a 503
                log.error("spool append failed: %s", exc)
                error = exc
        for _, future in batch:
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    # -- replay -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._replayer = asyncio.ensure_future(self._replay_loop())

    async def _replay_loop(self) -> None:
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), 0.25)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            while not self._closing and self.spool.depth > 0 and self.broker_ready():
                records, offset = await self.spool.read(self.replay_batch)
                if not records:
                    break
                try:
                    await asyncio.wait_for(self._publish(records), self.publish_timeout_s * 2)
                except (PublishError, asyncio.TimeoutError) as exc:
                    log.warning("spool replay paused: %s", exc or "timeout")
                    await asyncio.sleep(0.5)
                    break
                await self.spool.advance(offset, len(records))
                self.counters["records_replayed"] += len(records)
                if self.spool.depth == 0:
                    log.info("spool replayed completely")

    # -- shutdown -----------------------------------------------------------------------------------

    async def drain(self, grace_s: float = 5.0) -> None:
        """Flush the pending batch and wait for deliveries in flight (published or spooled)."""
        self._flush()
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=grace_s)

    async def close(self, grace_s: float = 5.0) -> None:
        """Drain, stop the replayer, close the spool and the publisher."""
        await self.drain(grace_s)
        self._closing = True
        self._wake.set()
        if self._replayer is not None:
            try:
                await asyncio.wait_for(self._replayer, grace_s)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        self.spool.close()
        if self.publisher is not None:
            self.publisher.close()

    def status(self) -> dict:
        return {**self.counters, "spool_depth": self.spool.depth, "broker_connected": self.broker_ready()}
