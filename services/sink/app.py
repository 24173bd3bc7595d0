"""One sink process: the bus consumer feeding the loader, the archive (bad sink), and the admin HTTP port.

Admin routes: ``GET /health``, ``GET /status`` (ledger counters ``received = indexed + rejected``),
``POST /reset`` (empty both indexes, recreate mappings), ``POST /retention`` (sweep now;
optional JSON body ``{"days": N}``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from services.common import badrows, bus
from services.common.http import ApiError, BaseHandler, HealthHandler, NotFoundHandler, StatusHandler
from services.common.settings import Settings

from . import archive, documents, mappings, retention
from .loader import Loader, bad_publisher

log = logging.getLogger(__name__)

SOURCES = {  # kind → (topic, channel, document builder)
    "good": (bus.ENRICHED, "ESLoaderChannelGood", documents.good_document),
    "bad": (bus.BAD, "ESLoaderChannelBad", documents.bad_document),
}


class Sink:
    """The running sink (``Running`` for the service runner)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.kind = settings["sink.kind"]
        self.index = mappings.index_name(self.kind, settings)
        self.es = mappings.client(settings)
        # One thread per concurrent _bulk, plus one for retention and reset.
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=int(settings["sink.concurrency"]) + 1,
                                                              thread_name_prefix="sink-os")
        self.admin_lock = asyncio.Lock()
        self.publisher: bus.Publisher | None = None
        self.loader: Loader | None = None
        self.consumers: list[bus.Consumer] = []
        self.archives: list[archive.Archive] = []
        self.ports: dict[str, int] = {}
        self.server: tornado.httpserver.HTTPServer | None = None
        self.started = time.time()
        self.last_sweep: dict[str, Any] | None = None
        self._sweeper: asyncio.Task | None = None

    async def in_executor(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def open(self) -> None:
        await self._ensure_indexes()
        self.publisher = bus.Publisher(self.settings)
        topic, channel, to_document = SOURCES[self.kind]
        self.loader = Loader(self.settings, self.es, self.index, to_document, bad_publisher(self.publisher),
                             self.executor)
        self.loader.start()
        self.consumers.append(self._consumer(topic, channel, self.loader.handle))
        if self.kind == "bad" and self.settings["sink.archive"]:
            for topic in archive.TOPICS:
                arch = archive.Archive(self.settings, self.settings.home, topic)
                self.archives.append(arch)
                self.consumers.append(self._consumer(topic, "archive", arch.handle, max_in_flight=50))
        self._sweeper = asyncio.ensure_future(self._sweep_loop())

    def _consumer(self, topic: str, channel: str, handler, max_in_flight: int | None = None) -> bus.Consumer:
        consumer = bus.Consumer(
            self.settings, topic, channel, handler, publisher=self.publisher, processor=badrows.SINK,
            max_in_flight=max_in_flight or int(self.settings["sink.max_in_flight"]),
            # A message the sink gives up on must not loop back into the bad sink's own input.
            give_up_topic=bus.BAD_ES,
            # Latency over batching: the broker should not hold our message frames (nsqd default 250 ms).
            output_buffer_timeout_ms=int(self.settings["sink.output_buffer_timeout_ms"]),
        )
        return consumer

    async def _ensure_indexes(self, timeout: float = 60.0) -> None:
        """Create both indexes if missing, waiting for the cluster to answer (it starts in layer 0 too)."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            try:
                for kind in mappings.KINDS:
                    await self.in_executor(mappings.ensure_index, self.es, kind, self.settings)
                return
            except Exception as exc:  # noqa: BLE001 - retried until the deadline, then raised
                if time.monotonic() > deadline:
                    raise RuntimeError(f"OpenSearch at {self.settings['opensearch.url']} unusable: {exc}") from exc
                log.info("waiting for OpenSearch (%s)", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _sweep_loop(self) -> None:
        interval = max(1.0, float(self.settings["sink.retention_interval_s"]))
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - retention must never stop the sink
                log.warning("retention sweep failed: %s", exc)
            await asyncio.sleep(interval)

    async def sweep(self, days: float | None = None) -> dict[str, Any]:
        """This sink's index (and, for the bad sink, the archive) under the retention policy."""
        deleted = await self.in_executor(
            lambda: retention.sweep(self.es, self.settings, kinds=(self.kind,), days=days))
        files = sum(arch.sweep() for arch in self.archives)
        self.last_sweep = {"at": time.time(), "deleted": deleted, "archive_files_deleted": files}
        return self.last_sweep

    async def reset(self) -> dict[str, str]:
        """Empty both indexes and recreate the mappings, with this sink's bulk writes paused."""
        async with self.admin_lock, self.loader.pause():
            return await self.in_executor(retention.reset_indexes, self.es, self.settings)

    def health(self) -> str | None:
        if self.publisher is not None and not self.publisher.connected():
            return "not connected to the broker"
        return None

    def status(self) -> dict[str, Any]:
        counters = dict(self.loader.counters) if self.loader else {}
        if self.loader and self.consumers:
            # A message given up after bus.max_attempts became a generic_error on BadElasticsearchEvents:
            # part of the ledger as received and rejected.
            gave_up = self.consumers[0].counters["gave_up"]
            counters["received"] += gave_up
            counters["rejected"] += gave_up
            counters["gave_up"] = gave_up
        for arch in self.archives:
            name = arch.dir.name
            counters[f"archived_{name}"] = arch.counters["archived"]
        return {
            "counters": counters,
            "kind": self.kind,
            "index": self.index,
            "opensearch_url": self.settings["opensearch.url"],
            "last_error": self.loader.last_error if self.loader else None,
            "last_batch": dict(self.loader.timings) if self.loader else None,
            "last_sweep": self.last_sweep,
            "uptime_s": round(time.time() - self.started, 1),
        }

    async def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for consumer in self.consumers:
            consumer.close()  # stop taking messages, then let the in-flight ones settle
        if self.loader is not None:
            await self.loader.close()
        for arch in self.archives:
            arch.close()
        if self.publisher is not None:
            self.publisher.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


class ResetHandler(BaseHandler):
    def initialize(self, sink: Sink) -> None:
        self.sink = sink

    async def post(self) -> None:
        try:
            done = await self.sink.reset()
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            raise ApiError(502, f"reset failed: {exc}") from None
        self.write_json({"reset": done})


class RetentionHandler(BaseHandler):
    def initialize(self, sink: Sink) -> None:
        self.sink = sink

    async def post(self) -> None:
        body = self.json_body() if self.request.body else None
        days = body.get("days") if isinstance(body, dict) else None
        if days is not None and not isinstance(days, (int, float)):
            raise ApiError(400, "days must be a number")
        try:
            result = await self.sink.sweep(days)
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            raise ApiError(502, f"retention sweep failed: {exc}") from None
        self.write_json(result)


def make_app(sink: Sink) -> tornado.web.Application:
    return tornado.web.Application(
        [
            (r"/health", HealthHandler, {"check": sink.health}),
            (r"/status", StatusHandler, {"status": sink.status}),
            (r"/reset", ResetHandler, {"sink": sink}),
            (r"/retention", RetentionHandler, {"sink": sink}),
        ],
        default_handler_class=NotFoundHandler,
    )


async def start(settings: Settings) -> Sink:
    sink = Sink(settings)
    await sink.open()
    sink.server = tornado.httpserver.HTTPServer(make_app(sink))
    sockets = tornado.netutil.bind_sockets(int(settings["sink.port"]), address=settings["sink.host"])
    sink.server.add_sockets(sockets)
    sink.ports = {"port": sockets[0].getsockname()[1]}
    return sink
