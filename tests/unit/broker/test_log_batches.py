"""The log's batch paths: a publish that fails half-written leaves no trace in the numbering, and
batch reads agree with record reads wherever the cache boundary falls."""

from __future__ import annotations

import errno
import os

import pytest

from services.broker import log as log_mod
from services.broker.log import TopicLog


def test_a_publish_whose_write_fails_leaves_no_phantom_records(tmp_path, monkeypatch):
    log = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=1 << 20)
    assert log.append_batch(1, 0, [b"first"]) == 1
    real = os.pwrite
    calls = []

    def short_then_full(fd, data, offset):
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, bytes(data[:30]), offset)  # the first record and a bit: then the disk fills
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(log_mod.os, "pwrite", short_then_full)
    with pytest.raises(OSError):
        log.append_batch(2, 0, [b"lost-1", b"lost-2"])
    monkeypatch.setattr(log_mod.os, "pwrite", real)
    assert log.next_seq == 1
    assert log.append_batch(3, 0, [b"after"]) == 2
    assert [(r.seq, r.body) for r in log.read_range(0, 10)] == [(0, b"first"), (1, b"after")]
    log.close()
    again = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=0)
    assert [(r.seq, r.body) for r in again.read_range(0, 10)] == [(0, b"first"), (1, b"after")]
    again.close()


@pytest.mark.parametrize("cache_bytes", [0, 200, 1 << 20])
def test_batch_reads_match_record_reads_for_every_range(tmp_path, cache_bytes):
    log = TopicLog(tmp_path, segment_bytes=300, cache_bytes=cache_bytes)
    expected = []
    for n, size in enumerate([1, 3, 1, 5, 2, 4, 1, 1, 6]):
        bodies = [b"%d-%d-" % (n, i) + b"x" * 20 for i in range(size)]
        log.append_batch(n + 1, 0, bodies)
        expected += bodies
    for start in range(len(expected)):
        for stop in range(start, len(expected) + 2):
            batches = list(log.read_batches(start, stop))
            flat = [body for batch in batches for body in batch.bodies]
            assert flat == expected[start:stop], (start, stop)
            seqs = [batch.first + i for batch in batches for i in range(len(batch.bodies))]
            assert seqs == list(range(start, min(stop, len(expected))))
            assert all(len({batch.timestamp_ns}) == 1 for batch in batches)
    for seq, body in enumerate(expected):
        assert log.read(seq).body == body
    log.close()
