"""The bus: pynsq Writer/Reader wrappers carrying DESIGN §6's delivery policies.

``Publisher.publish(topic, bodies)`` resolves only when nsqd answered ``OK`` (the broker's OK means
"acknowledged").  ``consume(...)`` runs an async handler per message: success FINs, an exception
REQs with backoff, and the ``bus.max_attempts``-th failure publishes a ``generic_error`` bad row to
``BadEvents`` and then FINs — pynsq's silent ``max_tries`` drop is switched off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Sequence

import nsq

from . import badrows
from .settings import Settings

log = logging.getLogger(__name__)

RAW = "RawEvents"
ENRICHED = "EnrichedEvents"
BAD = "BadEvents"
BAD_ES = "BadElasticsearchEvents"
PII = "PiiEvents"
TOPICS = (RAW, ENRICHED, BAD, BAD_ES, PII)
# Channels that exist from the start so no consumer misses a backlog (Mini's names).
CHANNELS = {
    RAW: ("enrich",),
    ENRICHED: ("ESLoaderChannelGood",),
    BAD: ("ESLoaderChannelBad",),
    BAD_ES: ("archive",),
    PII: ("archive",),
}


class PublishError(RuntimeError):
    """The broker did not acknowledge a publish (no connection, error frame, or closed)."""


def tcp_addresses(settings: Settings) -> list[str]:
    address = settings["nsqd.tcp_address"]
    return [a.strip() for a in address.split(",") if a.strip()] if address else []


class _Writer(nsq.Writer):
    """pynsq's Writer, quiet about the broken reads that follow our own ``close()``."""

    closing = False

    def _on_connection_error(self, conn: Any, error: Any, **kwargs: Any) -> None:
        if not self.closing:
            super()._on_connection_error(conn, error, **kwargs)
            return
        queue = getattr(conn, "callback_queue", [])
        while queue:  # still fail every pending publish, as pynsq does, without an ERROR log
            queue.pop(0)(conn, error)


class _Reader(nsq.Reader):
    """pynsq's Reader, quiet about the broken reads that follow our own ``close()``."""

    closing = False

    def _on_connection_error(self, conn: Any, error: Any, **kwargs: Any) -> None:
        if not self.closing:
            super()._on_connection_error(conn, error, **kwargs)

    def close(self) -> None:
        self.closing = True
        super().close()


class Publisher:
    """A pynsq Writer whose publishes are awaitable and resolve on the broker's acknowledgement."""

    def __init__(self, settings: Settings, *, reconnect_interval: float = 0.5):
        addresses = tcp_addresses(settings)
        if not addresses:
            raise PublishError("no nsqd address configured (nsqd.tcp_address / MINI_NSQD_TCP_ADDRESS)")
        self._writer = _Writer(addresses, reconnect_interval=reconnect_interval)

    def connected(self) -> bool:
        return any(conn.connected() for conn in self._writer.conns.values())

    async def wait_connected(self, timeout: float = 10.0) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.connected():
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def publish(self, topic: str, bodies: Sequence[bytes]) -> None:
        """Publish bodies to ``topic`` in one MPUB; raise :class:`PublishError` unless acknowledged."""
        if not bodies:
            return
        future: asyncio.Future = asyncio.get_running_loop().create_future()

        def done(conn: Any, data: Any) -> None:
            if future.done():
                return
            if isinstance(data, (nsq.Error, Exception)):
                future.set_exception(PublishError(f"publish to {topic} failed: {data}"))
            else:
                future.set_result(None)

        if len(bodies) == 1:
            self._writer.pub(topic, bodies[0], callback=done)
        else:
            self._writer.mpub(topic, list(bodies), callback=done)
        await future

    def close(self) -> None:
        self._writer.closing = True
        for conn in list(self._writer.conns.values()):
            conn.close()
        # Stop reconnecting: pynsq schedules reconnects from the close callback.
        self._writer.connect_to_nsqd = lambda *a, **k: None


Handler = Callable[[bytes, int], Awaitable[None]]


class Consumer:
    """A pynsq Reader on ``topic``/``channel`` that never drops a message silently."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        channel: str,
        handler: Handler,
        *,
        publisher: Publisher,
        processor: badrows.Processor,
        max_in_flight: int = 100,
        msg_timeout_s: float = 60.0,
        give_up_topic: str = BAD,
        retry_delay_ms: int = 100,
        retry_max_delay_ms: int = 10_000,
        output_buffer_timeout_ms: int | None = 5,
    ):
        self.max_attempts = int(settings["bus.max_attempts"])
        self.handler = handler
        self.publisher = publisher
        self.processor = processor
        # Where a given-up message's generic_error goes (the sinks use BadElasticsearchEvents, so a bad
        # row never loops back into the bad sink's own input).
        self.give_up_topic = give_up_topic
        # REQ delay after failed attempt n: retry_delay_ms * 2**(n-1), capped.
        self.retry_delay_ms = retry_delay_ms
        self.retry_max_delay_ms = retry_max_delay_ms
        self.topic = topic
        self.counters = {"received": 0, "finished": 0, "requeued": 0, "gave_up": 0}
        self._tasks: set[asyncio.Future] = set()
        lookupd = [f"http://{a}" if "://" not in a else a for a in settings["nsqlookupd.http_addresses"]]
        kwargs: dict[str, Any] = dict(
            topic=topic,
            channel=channel,
            message_handler=self._on_message,
            max_tries=0,  # never pynsq's silent drop: giving up is ours (a bad row)
            max_in_flight=max_in_flight,
            msg_timeout=msg_timeout_s,  # pynsq takes seconds (it sends ms to nsqd)
        )
        if output_buffer_timeout_ms is not None:
            # How long nsqd may hold message frames to batch them. pynsq's default (250 ms per hop)
            # would dominate a sandbox's send-to-searchable latency; None keeps pynsq's default.
            kwargs["output_buffer_timeout"] = int(output_buffer_timeout_ms)
        if lookupd:
            kwargs["lookupd_http_addresses"] = lookupd
            kwargs["lookupd_poll_interval"] = 5
        else:
            kwargs["nsqd_tcp_addresses"] = tcp_addresses(settings)
        self._reader = _Reader(**kwargs)

    def _on_message(self, message: nsq.Message) -> None:
        message.enable_async()
        self.counters["received"] += 1
        task = asyncio.ensure_future(self._process(message))
        # Keep a reference: the event loop holds tasks only weakly.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, message: nsq.Message) -> None:
        try:
            await self.handler(message.body, message.attempts)
        except Exception as exc:  # noqa: BLE001 - every failure is turned into data below
            await self._failed(message, exc)
            return
        if not message.has_responded():
            message.finish()
            self.counters["finished"] += 1

    async def _failed(self, message: nsq.Message, exc: Exception) -> None:
        if message.attempts < self.max_attempts:
            delay_ms = min(self.retry_delay_ms * 2 ** (message.attempts - 1), self.retry_max_delay_ms)
            log.warning("%s: attempt %d failed (%s); requeued in %d ms", self.topic, message.attempts, exc, delay_ms)
            if not message.has_responded():
                message.requeue(backoff=False, time_ms=delay_ms)
                self.counters["requeued"] += 1
            return
        row = badrows.generic_error(
            self.processor,
            [f"{self.topic}: gave up after {message.attempts} attempts: {type(exc).__name__}: {exc}"],
            badrows.raw_payload(message.body),
        )
        try:
            await self.publisher.publish(self.give_up_topic, [row])
        except PublishError as pub_exc:
            log.error("%s: could not publish generic_error bad row (%s); requeued", self.topic, pub_exc)
            if not message.has_responded():
                message.requeue(backoff=False, time_ms=1000)
                self.counters["requeued"] += 1
            return
        log.error("%s: message failed %d times; written to %s as generic_error", self.topic, message.attempts,
                  self.give_up_topic)
        if not message.has_responded():
            message.finish()
            self.counters["gave_up"] += 1

    def close(self) -> None:
        self._reader.close()
