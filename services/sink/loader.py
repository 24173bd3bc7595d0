"""The loader: messages → documents → ``_bulk`` batches, flushed by size or after a short interval.

A message is finished only once the index acknowledged its document, or once the bad row replacing
it (index rejection, unparseable record) was acknowledged by the broker on BadElasticsearchEvents.
Anything else (cluster down, retryable item errors past the retry budget) hands the message back to
the broker, which redelivers it; ``_id``s are deterministic, so redelivery never duplicates.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import time
from typing import Any, Callable, Mapping

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError

from services.common import bus

from . import documents
from .documents import Document, LoaderBadRow

log = logging.getLogger(__name__)

# Bulk item errors that mean "this document can never go in" (§5.1); all others are retried.
REJECT_TYPES = frozenset({
    "mapper_parsing_exception", "document_parsing_exception", "illegal_argument_exception",
    "strict_dynamic_mapping_exception", "mapper_exception",
})


class BulkFailed(RuntimeError):
    """The batch could not be written within the retry budget; its messages go back to the broker."""


class _Pending:
    __slots__ = ("document", "line", "future")

    def __init__(self, document: Document, line: bytes, future: asyncio.Future):
        self.document = document
        self.line = line
        self.future = future


class Loader:
    """Batches documents for one index; ``handle`` is the bus handler of one message."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        es: OpenSearch,
        index: str,
        to_document: Callable[[bytes], Document | LoaderBadRow],
        publish_bad: Callable[[bytes], Any],
        executor: concurrent.futures.Executor,
    ):
        self.es = es
        self.index = index
        self.to_document = to_document
        self.publish_bad = publish_bad
        self.executor = executor
        self.interval = max(0.0, int(settings["sink.flush_interval_ms"]) / 1000)
        self.batch_bytes = int(settings["sink.batch_bytes"])
        self.batch_docs = int(settings["sink.batch_docs"])
        self.retries = max(1, int(settings["sink.retries"]))
        self.backoff = int(settings["sink.retry_backoff_ms"]) / 1000
        self.refresh = settings["sink.refresh"]
        self.counters = {
            "received": 0, "indexed": 0, "rejected": 0, "parse_errors": 0, "index_rejections": 0,
            "retries": 0, "handed_back": 0, "batches": 0, "in_flight": 0,
        }
        # Where a document's time goes (last batch): waiting in the batch, and the _bulk round trip.
        self.timings = {"batch_wait_ms": 0.0, "bulk_ms": 0.0, "batch_docs": 0,
                        "avg_batch_wait_ms": 0.0, "avg_bulk_ms": 0.0, "avg_batch_docs": 0.0}
        self.last_error: str | None = None
        self._batch: list[_Pending] = []
        self._batch_size = 0
        self._first_at = 0.0
        self._taken_first = 0.0
        self._has_docs = asyncio.Event()
        self._full = asyncio.Event()
        self._paused = asyncio.Lock()  # held by reset so no bulk races a deleted index
        self._slots = asyncio.Semaphore(max(1, int(settings["sink.concurrency"])))
        self._writing: set[asyncio.Task] = set()
        self._task: asyncio.Task | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._flush_loop())

    async def handle(self, body: bytes, attempts: int) -> None:
        """One message: resolves when its outcome is durable; raises to hand it back to the broker."""
        self.counters["received"] += 1
        self.counters["in_flight"] += 1
        try:
            outcome = self.to_document(body)
            if isinstance(outcome, Document):
                outcome = await self._index(outcome)
            else:
                self.counters["parse_errors"] += 1
            if isinstance(outcome, LoaderBadRow):
                await self.publish_bad(outcome.row)
                self.counters["rejected"] += 1
            else:
                self.counters["indexed"] += 1
        except BaseException:
            # Not an outcome: the broker redelivers it, and the ledger counts that delivery again.
            self.counters["received"] -= 1
            self.counters["handed_back"] += 1
            raise
        finally:
            self.counters["in_flight"] -= 1

    async def _index(self, document: Document) -> LoaderBadRow | None:
        action = {"index": {"_index": self.index, "_id": document.id}}
        line = (json.dumps(action) + "\n" + json.dumps(document.source, ensure_ascii=False) + "\n").encode()
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        if not self._batch:
            self._first_at = time.monotonic()
        self._batch.append(_Pending(document, line, future))
        self._batch_size += len(line)
        self._has_docs.set()
        if self._batch_size >= self.batch_bytes or len(self._batch) >= self.batch_docs:
            self._full.set()
        return await future

    async def _flush_loop(self) -> None:
        while True:
            await self._has_docs.wait()
            wait = self._first_at + self.interval - time.monotonic()
            if wait > 0 and not self._full.is_set() and not self._closing:
                try:
                    await asyncio.wait_for(self._full.wait(), timeout=wait)
                except asyncio.TimeoutError:
                    pass
            # At most sink.concurrency requests in flight; meanwhile the next batch keeps filling.
            await self._slots.acquire()
            async with self._paused:
                batch = self._take()
                task = asyncio.ensure_future(self._write(batch, time.monotonic() - self._taken_first))
                self._writing.add(task)
                task.add_done_callback(self._writing.discard)

    async def _write(self, batch: list[_Pending], waited_s: float) -> None:
        started = time.monotonic()
        wait_ms = round(waited_s * 1000, 1)
        try:
            await self._send(batch)
        except Exception as exc:  # noqa: BLE001 - a bug must not stall the loop: hand the batch back
            log.exception("%s: writing a batch failed", self.index)
            self.last_error = f"{type(exc).__name__}: {exc}"
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(BulkFailed(self.last_error))
        finally:
            self._slots.release()
        self.timings.update(batch_wait_ms=wait_ms, bulk_ms=round((time.monotonic() - started) * 1000, 1),
                            batch_docs=len(batch))
        for key in ("batch_wait_ms", "bulk_ms", "batch_docs"):  # moving averages (last ~20 batches)
            avg = self.timings[f"avg_{key}"]
            self.timings[f"avg_{key}"] = round(avg + (self.timings[key] - avg) * 0.05, 2)

    def _take(self) -> list[_Pending]:
        self._taken_first = self._first_at
        batch, self._batch, self._batch_size = self._batch, [], 0
        self._has_docs.clear()
        self._full.clear()
        return batch

    async def _send(self, batch: list[_Pending]) -> None:
        """Write the batch, retrying the request and retryable items; settle every future."""
        pending = batch
        delay = self.backoff
        for attempt in range(1, self.retries + 1):
            try:
                response = await asyncio.get_running_loop().run_in_executor(
                    self.executor, self._bulk, b"".join(p.line for p in pending)
                )
            except (OSConnectionError, TransportError, OSError) as exc:
                self.last_error = f"_bulk failed: {exc}"
                retry = pending
            else:
                self.counters["batches"] += 1
                retry = self._settle(pending, response.get("items", []))
            if not retry:
                return
            pending = retry
            if attempt < self.retries:
                self.counters["retries"] += 1
                log.warning("%s: %d documents not written (%s); retry %d in %.1f s",
                            self.index, len(pending), self.last_error, attempt, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        for p in pending:
            if not p.future.done():
                p.future.set_exception(BulkFailed(self.last_error or "bulk failed"))

    def _bulk(self, body: bytes) -> dict[str, Any]:
        return self.es.bulk(body=body, refresh=self.refresh)

    def _settle(self, pending: list[_Pending], items: list[dict[str, Any]]) -> list[_Pending]:
        if len(items) != len(pending):
            self.last_error = f"_bulk answered {len(items)} items for {len(pending)} documents"
            return pending
        retry: list[_Pending] = []
        for p, item in zip(pending, items):
            result = next(iter(item.values()))
            status = int(result.get("status", 500))
            if 200 <= status < 300:
                p.future.set_result(None)
                continue
            error = result.get("error") or {}
            kind = error.get("type", "unknown") if isinstance(error, dict) else "unknown"
            reason = error.get("reason", str(error)) if isinstance(error, dict) else str(error)
            if kind in REJECT_TYPES:
                self.counters["index_rejections"] += 1
                p.future.set_result(documents.index_rejection(p.document, kind, reason))
            else:
                self.last_error = f"{kind}: {reason}"
                retry.append(p)
        return retry

    @contextlib.asynccontextmanager
    async def pause(self):
        """``async with loader.pause():`` no bulk request runs inside the block (in-flight ones finish first)."""
        async with self._paused:
            while self._writing:
                await asyncio.gather(*list(self._writing), return_exceptions=True)
            yield

    async def close(self) -> None:
        self._closing = True
        self._full.set()
        if self._task is not None:
            # Let the last batch go out (its messages then FIN), then stop.
            deadline = time.monotonic() + 5
            while (self._batch or self.counters["in_flight"]) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass


def bad_publisher(publisher: bus.Publisher) -> Callable[[bytes], Any]:
    """Publish a loader bad row to BadElasticsearchEvents (raises unless the broker acknowledged)."""

    async def publish(row: bytes) -> None:
        await publisher.publish(bus.BAD_ES, [row])

    return publish
