"""Publishing outcomes: bodies for one topic from many concurrent messages share one MPUB.

Each caller awaits the broker's OK for its own bodies (at-least-once: the RawEvents message is
finished only afterwards); coalescing within one loop tick keeps the broker round trips per event low.
"""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

MAX_BATCH_BYTES = 4 * 1024 * 1024  # below nsqd's default --max-body-size (5 MB)
MAX_BATCH_COUNT = 500


class CoalescingPublisher:
    """``linger_s``: how long a publish may wait for others to share its MPUB (a full batch goes at once)."""

    def __init__(self, publisher: Any, linger_s: float = 0.002):
        self.publisher = publisher
        self.linger_s = linger_s
        self._pending: dict[str, list[tuple[Sequence[bytes], asyncio.Future]]] = {}
        self._count = 0
        self._timer: asyncio.TimerHandle | None = None

    async def publish(self, topic: str, bodies: Sequence[bytes]) -> None:
        if not bodies:
            return
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.setdefault(topic, []).append((bodies, future))
        self._count += len(bodies)
        if self._count >= MAX_BATCH_COUNT:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.linger_s, self._flush) if self.linger_s > 0 else loop.call_soon(self._flush)
        await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, {}
        self._count = 0
        for topic, items in pending.items():
            batch: list[tuple[Sequence[bytes], asyncio.Future]] = []
            size = count = 0
            for bodies, future in items:
                body_bytes = sum(len(b) for b in bodies)
                if batch and (size + body_bytes > MAX_BATCH_BYTES or count + len(bodies) > MAX_BATCH_COUNT):
                    self._send(topic, batch)
                    batch, size, count = [], 0, 0
                batch.append((bodies, future))
                size += body_bytes
                count += len(bodies)
            if batch:
                self._send(topic, batch)

    def _send(self, topic: str, batch: list[tuple[Sequence[bytes], asyncio.Future]]) -> None:
        bodies = [b for part, _ in batch for b in part]
        task = asyncio.ensure_future(self.publisher.publish(topic, bodies))

        def done(t: asyncio.Task) -> None:
            exc = t.exception()
            for _, future in batch:
                if future.done():
                    continue
                if exc is not None:
                    future.set_exception(exc)
                else:
                    future.set_result(None)

        task.add_done_callback(done)
