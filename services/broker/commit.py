"""Group commit: publishes are answered OK only after their records are fdatasync'd.

Every publish that reaches the OS while one fsync pass runs waits for the next pass, which syncs
all dirty segments at once; so many concurrent publishers share each fdatasync and throughput
holds.  With ``durability.fsync = false`` records are acknowledged once written to the OS.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .log import TopicLog

log = logging.getLogger(__name__)


class Committer:
    def __init__(self, fsync: bool):
        self.fsync = fsync
        self._waiting: list[tuple[TopicLog, int, Callable[[int], None], asyncio.Future]] = []
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-fsync")
        self.passes = 0
        self.synced_records = 0
        self.sync_seconds = 0.0

    def commit(self, topic_log: TopicLog, upto: int, visible: Callable[[int], None]) -> asyncio.Future:
        """A future resolved once ``topic_log``'s records below ``upto`` are durable; ``visible(upto)``
        is called first, so consumers only ever see acknowledged records."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((topic_log, upto, visible, future))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        return future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            # Let every publish already read from the sockets join this pass.
            await asyncio.sleep(0)
            batch, self._waiting = self._waiting, []
            error: Exception | None = None
            if self.fsync:
                jobs = []
                for topic_log in {entry[0] for entry in batch}:
                    fds = [seg.fd for seg in topic_log.dirty]
                    topic_log.dirty.clear()
                    dir_sync = topic_log.dir_dirty
                    topic_log.dir_dirty = False
                    jobs.append((fds, str(topic_log.directory) if dir_sync else None))
                started = time.perf_counter()
                try:
                    await loop.run_in_executor(self._executor, _sync, jobs)
                except OSError as exc:
                    log.error("fsync failed: %s", exc)
                    error = exc
                self.sync_seconds += time.perf_counter() - started
            self.passes += 1
            for topic_log, upto, visible, future in batch:
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                    continue
                self.synced_records += 1
                visible(upto)
                future.set_result(None)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def _sync(jobs: list[tuple[list[int], str | None]]) -> None:
    for fds, directory in jobs:
        for fd in fds:
            try:
                os.fdatasync(fd)
            except OSError as exc:
                # A segment reclaimed or a topic deleted while this pass ran: nothing to keep.
                if exc.errno != 9:  # EBADF
                    raise
        if directory is not None:
            try:
                dir_fd = os.open(directory, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
