"""The collector's durable spool: records the broker could not take, kept in order until replayed.

One append-only file ``spool.log`` (records ``[u32 body length][u32 crc32][u8 topic length][topic][body]``,
the CRC covering topic and body) and a
``cursor`` file (bytes already replayed) under ``$MINI_HOME/collector/spool``.  Appends are group
commits (one write + fdatasync per batch, unless ``durability.fsync=false``); all file work runs on one
worker thread, so appends, reads and the reset after a full replay never interleave.  On start, a torn
tail (a crash mid-append, never acknowledged) is cut off.
"""

from __future__ import annotations

import asyncio
import os
import struct
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

Record = tuple[str, bytes]
_HEADER = struct.Struct(">IIB")


class SpoolFull(RuntimeError):
    """The spool reached ``collector.spool_max_bytes``."""


def _settle(future: asyncio.Future, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class Spool:
    def __init__(self, directory: Path, *, fsync: bool = True, max_bytes: int = 1 << 30):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.max_bytes = max_bytes
        self._log_path = self.directory / "spool.log"
        self._cursor_path = self.directory / "cursor"
        self._fd = os.open(self._log_path, os.O_RDWR | os.O_CREAT, 0o644)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="collector-spool")
        self.depth = 0  # records not yet replayed
        self.size = 0
        self.cursor = 0
        self.appended = 0
        self.replayed = 0
        self.torn_bytes_dropped = 0
        # Appends waiting for the worker; whatever queues up during one fdatasync shares the next one.
        self._queue: list[tuple[list[Record], asyncio.Future, asyncio.AbstractEventLoop]] = []
        self._lock = threading.Lock()
        self._writing = False
        self._recover()

    # -- start-up -----------------------------------------------------------------------------------

    def _recover(self) -> None:
        self.size = os.fstat(self._fd).st_size
        try:
            self.cursor = int(self._cursor_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            self.cursor = 0
        if self.cursor > self.size:  # the log was reset after a full replay; the cursor write was lost
            self.cursor = 0
        offset, depth = self.cursor, 0
        while True:
            record = self._read_one(offset)
            if record is None:
                break
            offset, _, _ = record
            depth += 1
        if offset < self.size:
            self.torn_bytes_dropped = self.size - offset
            os.ftruncate(self._fd, offset)
            self._sync()
            self.size = offset
        self.depth = depth

    def _read_one(self, offset: int) -> tuple[int, str, bytes] | None:
        header = os.pread(self._fd, _HEADER.size, offset)
        if len(header) < _HEADER.size:
            return None
        length, crc, topic_length = _HEADER.unpack(header)
        data = os.pread(self._fd, topic_length + length, offset + _HEADER.size)
        if len(data) < topic_length + length or zlib.crc32(data) != crc:
            return None
        try:
            topic = data[:topic_length].decode("ascii")
        except UnicodeDecodeError:
            return None
        return offset + _HEADER.size + topic_length + length, topic, data[topic_length:]

    def _sync(self) -> None:
        if self.fsync:
            os.fdatasync(self._fd)

    # -- worker-thread operations -------------------------------------------------------------------

    def _append(self, records: list[Record]) -> None:
        chunks = []
        for topic, body in records:
            name = topic.encode("ascii")
            chunks.append(_HEADER.pack(len(body), zlib.crc32(body, zlib.crc32(name)), len(name)))
            chunks.append(name)
            chunks.append(body)
        data = b"".join(chunks)
        if self.size + len(data) > self.max_bytes:
            raise SpoolFull(f"spool is full ({self.size} of {self.max_bytes} bytes)")
        written = 0
        while written < len(data):
            written += os.pwrite(self._fd, data[written:], self.size + written)
        self._sync()
        self.size += len(data)
        self.depth += len(records)
        self.appended += len(records)

    def _read(self, max_records: int, max_bytes: int) -> tuple[list[Record], int]:
        records: list[Record] = []
        offset, total = self.cursor, 0
        while len(records) < max_records and total < max_bytes:
            record = self._read_one(offset)
            if record is None:
                break
            end, topic, body = record
            records.append((topic, body))
            total += len(body)
            offset = end
        return records, offset

    def _advance(self, offset: int, count: int) -> None:
        self.cursor = offset
        self.depth -= count
        self.replayed += count
        if self.cursor >= self.size:
            # Fully replayed: start the log afresh (a stale cursor beyond the end is read as 0).
            os.ftruncate(self._fd, 0)
            self._sync()
            self.size = self.cursor = 0
            self.depth = 0
        self._write_cursor()

    def _write_cursor(self) -> None:
        tmp = self._cursor_path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            fh.write(str(self.cursor))
            fh.flush()
            if self.fsync:
                os.fdatasync(fh.fileno())
        os.replace(tmp, self._cursor_path)

    # -- the async API ------------------------------------------------------------------------------

    def _commit_queued(self) -> None:
        """Worker: write every queued append with one sync, until the queue stays empty."""
        while True:
            with self._lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._writing = False
                    return
            results: list[BaseException | None]
            try:
                self._append([record for records, _, _ in batch for record in records])
                results = [None] * len(batch)
            except SpoolFull:
                # Together they do not fit: let each try alone, so the ones that fit are kept.
                results = []
                for records, _, _ in batch:
                    try:
                        self._append(records)
                        results.append(None)
                    except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                        results.append(exc)
            except Exception as exc:  # noqa: BLE001 - disk errors: handed to the waiting requests
                results = [exc] * len(batch)
            for (_, future, loop), error in zip(batch, results):
                loop.call_soon_threadsafe(_settle, future, error)

    async def append(self, records: list[Record]) -> None:
        """Durably append records (group commit); raises SpoolFull or OSError."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._queue.append((records, future, loop))
            start = not self._writing
            self._writing = True
        if start:
            self._executor.submit(self._commit_queued)
        await future

    async def read(self, max_records: int = 500, max_bytes: int = 4_000_000) -> tuple[list[Record], int]:
        """The oldest records not yet replayed, and the offset to :meth:`advance` to once published."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._read, max_records, max_bytes)

    async def advance(self, offset: int, count: int) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._advance, offset, count)

    def status(self) -> dict[str, int]:
        return {
            "depth": self.depth,
            "bytes": self.size - self.cursor,
            "appended": self.appended,
            "replayed": self.replayed,
            "torn_bytes_dropped": self.torn_bytes_dropped,
        }

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        try:
            os.close(self._fd)
        except OSError:
            pass
