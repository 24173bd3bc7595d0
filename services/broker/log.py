"""A topic's durable storage: an append-only log of numbered records in size-bounded segments.

Each record is ``[u32 body length][u32 crc32][i64 timestamp ns][i64 deliver-at ns][body]``; a record's
sequence number is its segment's first number (the file name) plus its position.  Recovery drops a
torn tail; segments every channel has passed are deleted, so disk use follows the backlog.
"""

from __future__ import annotations

import bisect
import collections
import logging
import os
import struct
import zlib
from array import array
from pathlib import Path
from typing import Iterator, NamedTuple

log = logging.getLogger(__name__)

HEADER = struct.Struct("<IIqq")
_TAIL = struct.Struct("<qq")
SUFFIX = ".log"


class Record(NamedTuple):
    seq: int
    timestamp_ns: int
    deliver_at_ns: int
    body: bytes


class Segment:
    """One file of consecutive records; ``offsets[i]`` is where record ``first_seq + i`` starts."""

    def __init__(self, path: Path, first_seq: int, fd: int, offsets: array, size: int):
        self.path = path
        self.first_seq = first_seq
        self.fd = fd
        self.offsets = offsets
        self.size = size
        self.new_file = False  # its directory entry still needs an fsync

    @property
    def next_seq(self) -> int:
        return self.first_seq + len(self.offsets)

    def record_end(self, index: int) -> int:
        return self.offsets[index + 1] if index + 1 < len(self.offsets) else self.size


def encode(timestamp_ns: int, deliver_at_ns: int, body: bytes) -> bytes:
    tail = _TAIL.pack(timestamp_ns, deliver_at_ns)
    crc = zlib.crc32(body, zlib.crc32(tail))
    return HEADER.pack(len(body), crc, timestamp_ns, deliver_at_ns) + body


def _scan(path: Path) -> tuple[array, int]:
    """Offsets of the valid records in a segment and the length of its valid prefix."""
    offsets = array("Q")
    pos = 0
    with open(path, "rb", buffering=1 << 20) as handle:
        while True:
            head = handle.read(HEADER.size)
            if len(head) < HEADER.size:
                break
            length, crc, ts, due = HEADER.unpack(head)
            body = handle.read(length)
            if len(body) < length or zlib.crc32(body, zlib.crc32(head[8:])) != crc:
                break
            offsets.append(pos)
            pos += HEADER.size + length
    return offsets, pos


class TopicLog:
    """Append, read by sequence number, reclaim.  Writes go to the OS at once; durability is the
    :class:`~services.broker.commit.Committer`'s job (it fsyncs :attr:`dirty` segments)."""

    def __init__(self, directory: Path, segment_bytes: int, cache_bytes: int):
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.cache_bytes = cache_bytes
        self.segments: list[Segment] = []
        self._firsts: list[int] = []
        self.dirty: set[Segment] = set()
        self.dir_dirty = False
        # Recently appended records, so consumers that keep up never read the disk.
        self._cache: collections.deque[Record] = collections.deque()
        self._cache_size = 0
        self.bytes_written = 0
        self._open()

    # -- opening and recovery -------------------------------------------------------------

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        names = sorted(p for p in self.directory.iterdir() if p.suffix == SUFFIX and p.stem.isdigit())
        for path in names:
            offsets, valid = _scan(path)
            fd = os.open(path, os.O_RDWR)
            size = os.fstat(fd).st_size
            if valid < size:
                log.warning("%s: dropping %d bytes of torn or corrupt tail", path, size - valid)
                os.ftruncate(fd, valid)
                os.fsync(fd)
            seg = Segment(path, int(path.stem), fd, offsets, valid)
            if self.segments and seg.first_seq < self.segments[-1].next_seq:
                log.error("%s overlaps its predecessor; ignoring it", path)
                os.close(fd)
                continue
            self.segments.append(seg)
        if not self.segments:
            self._new_segment(0)
        self._firsts = [s.first_seq for s in self.segments]

    def _new_segment(self, first_seq: int) -> Segment:
        path = self.directory / f"{first_seq:020d}{SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        seg = Segment(path, first_seq, fd, array("Q"), 0)
        seg.new_file = True
        self.dir_dirty = True
        self.dirty.add(seg)
        self.segments.append(seg)
        self._firsts.append(first_seq)
        return seg

    # -- positions ----------------------------------------------------------------------

    @property
    def first_seq(self) -> int:
        return self.segments[0].first_seq

    @property
    def next_seq(self) -> int:
        return self.segments[-1].next_seq

    def count(self) -> int:
        return sum(len(s.offsets) for s in self.segments)

    def disk_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    # -- writing ------------------------------------------------------------------------

    def append(self, items: list[tuple[int, int, bytes]]) -> int:
        """Append ``(timestamp_ns, deliver_at_ns, body)`` records in one write; return the next seq."""
        seg = self.segments[-1]
        if seg.size >= self.segment_bytes and seg.offsets:
            seg = self._new_segment(seg.next_seq)
        chunks = []
        pos = seg.size
        seq = seg.next_seq
        for ts, due, body in items:
            data = encode(ts, due, body)
            chunks.append(data)
            seg.offsets.append(pos)
            pos += len(data)
            self._remember(Record(seq, ts, due, body))
            seq += 1
        blob = b"".join(chunks)
        view = memoryview(blob)
        written = 0
        while written < len(blob):
            written += os.pwrite(seg.fd, view[written:], seg.size + written)
        seg.size = pos
        self.bytes_written += len(blob)
        self.dirty.add(seg)
        return seq

    def _remember(self, record: Record) -> None:
        cache = self._cache
        if cache and cache[-1].seq + 1 != record.seq:
            cache.clear()
            self._cache_size = 0
        cache.append(record)
        self._cache_size += len(record.body) + 64
        while self._cache_size > self.cache_bytes and len(cache) > 1:
            old = cache.popleft()
            self._cache_size -= len(old.body) + 64

    # -- reading ------------------------------------------------------------------------

    def read(self, seq: int) -> Record | None:
        """The record numbered ``seq``, or None if it was reclaimed, lost, or never written."""
        cache = self._cache
        if cache and cache[0].seq <= seq <= cache[-1].seq:
            return cache[seq - cache[0].seq]
        for record in self.read_range(seq, seq + 1):
            return record
        return None

    def read_range(self, start: int, stop: int, max_bytes: int = 1 << 20) -> Iterator[Record]:
        """Records with ``start <= seq < stop`` in order (skipping gaps), reading disk in big chunks."""
        cache = self._cache
        seq = max(start, self.first_seq)
        budget = max_bytes
        while seq < stop and budget > 0:
            if cache and cache[0].seq <= seq <= cache[-1].seq:
                base = cache[0].seq
                while seq < stop and seq <= cache[-1].seq:
                    record = cache[seq - base]
                    budget -= len(record.body)
                    yield record
                    seq += 1
                    if budget <= 0:
                        return
                continue
            index = bisect.bisect_right(self._firsts, seq) - 1
            if index < 0:
                return
            seg = self.segments[index]
            if seq >= seg.next_seq:
                if index + 1 >= len(self.segments):
                    return
                seq = self.segments[index + 1].first_seq
                continue
            first = seq - seg.first_seq
            last = min(stop, seg.next_seq) - seg.first_seq  # exclusive
            begin = seg.offsets[first]
            # Extend the range while it fits the budget (always at least one record).
            end_index = first + 1
            while end_index < last and seg.offsets[end_index] - begin < budget:
                end_index += 1
            end = seg.record_end(end_index - 1)
            blob = os.pread(seg.fd, end - begin, begin)
            for i in range(first, end_index):
                offset = seg.offsets[i] - begin
                length, _crc, ts, due = HEADER.unpack_from(blob, offset)
                body = blob[offset + HEADER.size: offset + HEADER.size + length]
                budget -= length
                yield Record(seg.first_seq + i, ts, due, body)
            seq = seg.first_seq + end_index

    # -- reclaiming ---------------------------------------------------------------------

    def reclaim_before(self, seq: int) -> int:
        """Delete whole segments whose records are all below ``seq`` (never the active one)."""
        removed = 0
        while len(self.segments) > 1 and self.segments[0].next_seq <= seq:
            seg = self.segments.pop(0)
            self._firsts.pop(0)
            self.dirty.discard(seg)
            os.close(seg.fd)
            seg.path.unlink(missing_ok=True)
            removed += 1
        if removed:
            self.dir_dirty = True
        return removed

    def truncate_all(self) -> None:
        """Forget every record (topic empty): start a fresh segment numbered after the last one."""
        next_seq = self.next_seq
        self._cache.clear()
        self._cache_size = 0
        old = self.segments
        self.segments, self._firsts = [], []
        self._new_segment(next_seq)
        for seg in old:
            self.dirty.discard(seg)
            os.close(seg.fd)
            seg.path.unlink(missing_ok=True)

    def close(self) -> None:
        for seg in self.segments:
            try:
                os.close(seg.fd)
            except OSError:
                pass
        self.segments = []
        self.dirty.clear()
