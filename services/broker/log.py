"""A topic's durable storage: an append-only log of numbered records in size-bounded segments.

Each record is ``[u32 body length][u32 crc32][i64 timestamp ns][i64 deliver-at ns][body]``; a record's
sequence number is its segment's first number (the file name) plus its position.  Recovery drops a
torn tail; segments every channel has passed are deleted, so disk use follows the backlog.  Recent
publishes stay in memory as they arrived (one entry per PUB/MPUB), so consumers that keep up read
whole batches without touching the disk or building a record per message.
"""

from __future__ import annotations

import bisect
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


class Batch(NamedTuple):
    """Consecutive records sharing their timestamps (one publish): ``first`` .. ``first + len(bodies) - 1``."""

    first: int
    timestamp_ns: int
    deliver_at_ns: int
    bodies: list[bytes]


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
        # Recently appended batches, so consumers that keep up never read the disk: a list read
        # from ``_cache_base`` on (older entries are dropped in bulk) and the batches' first seqs.
        self._cache: list[Batch] = []
        self._cache_firsts: list[int] = []
        self._cache_base = 0
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
        """Append ``(timestamp_ns, deliver_at_ns, body)`` records; return the next seq."""
        seq = self.next_seq
        for ts, due, body in items:
            seq = self.append_batch(ts, due, [body])
        return seq

    def append_batch(self, timestamp_ns: int, deliver_at_ns: int, bodies: list[bytes]) -> int:
        """Append one publish's records (same timestamps) in one write; return the next seq."""
        seg = self.segments[-1]
        if seg.size >= self.segment_bytes and seg.offsets:
            seg = self._new_segment(seg.next_seq)
        first = seg.next_seq
        # The crc covers (timestamps, body); the timestamps' part is computed once per publish.
        tail_crc = zlib.crc32(_TAIL.pack(timestamp_ns, deliver_at_ns))
        pack, crc32, head = HEADER.pack, zlib.crc32, HEADER.size
        offsets = seg.offsets
        known = len(offsets)
        chunks = []
        pos = seg.size
        size = 0
        for body in bodies:
            n = len(body)
            chunks.append(pack(n, crc32(body, tail_crc), timestamp_ns, deliver_at_ns))
            chunks.append(body)
            offsets.append(pos)
            pos += head + n
            size += n
        blob = b"".join(chunks)
        view = memoryview(blob)
        written = 0
        try:
            while written < len(blob):
                written += os.pwrite(seg.fd, view[written:], seg.size + written)
        except OSError:
            # Disk full or failing: the publish is refused, so none of its records may exist (the
            # offsets would number phantoms; a written prefix on disk would come back on restart).
            del offsets[known:]
            try:
                os.ftruncate(seg.fd, seg.size)
            except OSError:
                pass
            raise
        seg.size = pos
        self.bytes_written += len(blob)
        self.dirty.add(seg)
        self._remember(Batch(first, timestamp_ns, deliver_at_ns, bodies), size)
        return first + len(bodies)

    def _remember(self, batch: Batch, size: int) -> None:
        cache = self._cache
        if len(cache) > self._cache_base:
            last = cache[-1]
            if last.first + len(last.bodies) != batch.first:
                self._drop_cache()
        cache.append(batch)
        self._cache_firsts.append(batch.first)
        self._cache_size += size + 64 * len(batch.bodies)
        base = self._cache_base
        while self._cache_size > self.cache_bytes and len(cache) - base > 1:
            old = cache[base]
            cache[base] = None  # type: ignore[call-overload]  (its bodies are freed now, the slot later)
            self._cache_size -= sum(map(len, old.bodies)) + 64 * len(old.bodies)
            base += 1
        if base > 256 and base * 2 > len(cache):
            del cache[:base]
            del self._cache_firsts[:base]
            base = 0
        self._cache_base = base

    def _drop_cache(self) -> None:
        self._cache.clear()
        self._cache_firsts.clear()
        self._cache_base = 0
        self._cache_size = 0

    def _cached(self, seq: int) -> int:
        """Index in ``_cache`` of the batch holding ``seq``, or -1 when it is not cached."""
        cache = self._cache
        base = self._cache_base
        if len(cache) <= base or seq < cache[base].first:
            return -1
        last = cache[-1]
        if seq >= last.first + len(last.bodies):
            return -1
        return bisect.bisect_right(self._cache_firsts, seq, base) - 1

    # -- reading ------------------------------------------------------------------------

    def read(self, seq: int) -> Record | None:
        """The record numbered ``seq``, or None if it was reclaimed, lost, or never written."""
        index = self._cached(seq)
        if index >= 0:
            batch = self._cache[index]
            return Record(seq, batch.timestamp_ns, batch.deliver_at_ns, batch.bodies[seq - batch.first])
        for record in self.read_range(seq, seq + 1):
            return record
        return None

    def read_range(self, start: int, stop: int, max_bytes: int = 1 << 20) -> Iterator[Record]:
        """Records with ``start <= seq < stop`` in order (skipping gaps), reading disk in big chunks."""
        for batch in self.read_batches(start, stop, max_bytes):
            for i, body in enumerate(batch.bodies):
                yield Record(batch.first + i, batch.timestamp_ns, batch.deliver_at_ns, body)

    def read_batches(self, start: int, stop: int, max_bytes: int = 1 << 20) -> Iterator[Batch]:
        """The records with ``start <= seq < stop`` in order (skipping gaps), as runs sharing their
        timestamps: whole publishes from memory, single records from disk (read in big chunks).
        About ``max_bytes`` of bodies at most (always at least one record)."""
        cache = self._cache
        seq = max(start, self.first_seq)
        budget = max_bytes
        while seq < stop and budget > 0:
            index = self._cached(seq)
            if index >= 0:
                for index in range(index, len(cache)):
                    batch = cache[index]
                    lo = seq - batch.first
                    hi = min(len(batch.bodies), stop - batch.first)
                    bodies = batch.bodies if lo == 0 and hi == len(batch.bodies) else batch.bodies[lo:hi]
                    budget -= sum(map(len, bodies))
                    yield Batch(seq, batch.timestamp_ns, batch.deliver_at_ns, bodies)
                    seq += len(bodies)
                    if seq >= stop or budget <= 0:
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
            # Consecutive records with the same timestamps (one publish) come out as one batch.
            run: list[bytes] = []
            run_first = run_ts = run_due = 0
            offsets, unpack, head = seg.offsets, HEADER.unpack_from, HEADER.size
            for i in range(first, end_index):
                offset = offsets[i] - begin
                length, _crc, ts, due = unpack(blob, offset)
                if run and (ts != run_ts or due != run_due):
                    yield Batch(run_first, run_ts, run_due, run)
                    run = []
                if not run:
                    run_first, run_ts, run_due = seg.first_seq + i, ts, due
                run.append(blob[offset + head: offset + head + length])
                budget -= length
            if run:
                yield Batch(run_first, run_ts, run_due, run)
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
        self._drop_cache()
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
