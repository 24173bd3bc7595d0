"""Durable storage: the segmented log (append, read, recovery of a torn tail, reclaiming), and the
broker's data dir across restarts (backlogs, ephemeral names, bounded disk use)."""

from __future__ import annotations

import asyncio

from services.broker.log import TopicLog

from .conftest import run_broker


def test_log_appends_reads_and_reopens(tmp_path):
    log = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=0)
    assert log.append([(1, 0, b"a"), (2, 5, b"bb")]) == 2
    assert log.append([(3, 0, b"ccc")]) == 3
    assert log.read(1).body == b"bb" and log.read(1).deliver_at_ns == 5
    log.close()
    again = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=0)
    assert [r.body for r in again.read_range(0, 10)] == [b"a", b"bb", b"ccc"]
    assert again.next_seq == 3
    again.close()


def test_a_torn_tail_is_dropped_and_appending_continues(tmp_path):
    log = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=0)
    log.append([(1, 0, b"whole"), (2, 0, b"also whole")])
    path = log.segments[-1].path
    log.close()
    with open(path, "ab") as handle:
        handle.write(b"\x40\x00\x00\x00garbage-from-a-crash")  # a header promising 64 bytes
    again = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=0)
    assert [r.body for r in again.read_range(0, 10)] == [b"whole", b"also whole"]
    again.append([(3, 0, b"after")])
    again.close()
    third = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=0)
    assert [r.body for r in third.read_range(0, 10)] == [b"whole", b"also whole", b"after"]
    third.close()


def test_a_corrupt_record_is_not_delivered(tmp_path):
    log = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=0)
    log.append([(1, 0, b"good"), (2, 0, b"flipped")])
    seg = log.segments[-1]
    offset = seg.offsets[1] + 24 + 2
    log.close()
    with open(seg.path, "r+b") as handle:
        handle.seek(offset)
        handle.write(b"X")
    again = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=0)
    assert [r.body for r in again.read_range(0, 10)] == [b"good"]
    again.close()


def test_segments_roll_over_and_are_reclaimed(tmp_path):
    log = TopicLog(tmp_path, segment_bytes=256, cache_bytes=0)
    for i in range(100):
        log.append([(i, 0, b"x" * 40)])
    assert len(log.segments) > 10
    assert [r.seq for r in log.read_range(0, 100, max_bytes=1 << 30)] == list(range(100))
    log.reclaim_before(50)
    assert log.first_seq <= 50 < log.segments[1].first_seq or log.first_seq == 50
    assert all(s.next_seq > 50 for s in log.segments)
    assert log.read(10) is None and log.read(60).seq == 60
    log.reclaim_before(100)
    assert len(log.segments) == 1  # the active segment always stays
    log.close()
    assert len(list(tmp_path.glob("*.log"))) == 1


def test_consumed_data_is_reclaimed_from_disk(home):
    async def scenario(b):
        sub = await b.raw()
        sub.send(b"SUB reclaim c")
        assert await sub.frame() == (0, b"OK")
        sub.send(b"RDY 100")
        pub = await b.raw()
        for i in range(20):
            pub.send(b"MPUB reclaim", _mpub([b"%04d" % i + b"x" * 200] * 25))
            assert await pub.frame() == (0, b"OK")
        for _ in range(500):
            _, _, msg_id, _ = await sub.message()
            sub.send(b"FIN " + msg_id)
        topic = b.broker.topics["reclaim"]
        for _ in range(200):  # the checkpoint (100 ms) lets the next tick delete old segments
            if len(topic.log.segments) == 1:
                break
            await asyncio.sleep(0.05)
        return len(topic.log.segments), topic.log.disk_bytes(), len(list(topic.log.directory.glob("*.log")))

    segments, disk, files = run_broker(home, scenario, broker__segment_bytes=4096)
    assert segments == 1 and files == 1
    assert disk < 4096 + 25 * 250


def test_backlog_without_channels_survives_a_restart_for_the_first_channel(home):
    async def publish(b):
        pub = await b.raw()
        pub.send(b"MPUB waiting", _mpub([b"w1", b"w2"]))
        return await pub.frame()

    assert run_broker(home, publish) == (0, b"OK")

    async def consume(b):
        sub = await b.raw()
        sub.send(b"SUB waiting first")
        assert await sub.frame() == (0, b"OK")
        sub.send(b"RDY 10")
        return sorted([(await sub.message())[3] for _ in range(2)])

    assert run_broker(home, consume) == [b"w1", b"w2"]


def test_a_later_channel_starts_at_the_end(home):
    async def scenario(b):
        pub = await b.raw()
        pub.send(b"PUB later_ch", b"old")
        assert await pub.frame() == (0, b"OK")
        first = await b.raw()
        first.send(b"SUB later_ch first")
        assert await first.frame() == (0, b"OK")
        second = await b.raw()
        second.send(b"SUB later_ch second")
        assert await second.frame() == (0, b"OK")
        second.send(b"RDY 10")
        pub.send(b"PUB later_ch", b"new")
        assert await pub.frame() == (0, b"OK")
        return (await second.message())[3], b.broker.topics["later_ch"].channels["first"].depth()

    assert run_broker(home, scenario) == (b"new", 2)


def test_ephemeral_channel_goes_when_its_last_client_leaves(home):
    async def scenario(b):
        sub = await b.raw()
        sub.send(b"SUB eph watch#ephemeral")
        assert await sub.frame() == (0, b"OK")
        topic = b.broker.topics["eph"]
        present = "watch#ephemeral" in topic.channels
        await sub.close()
        for _ in range(100):
            if "watch#ephemeral" not in topic.channels:
                break
            await asyncio.sleep(0.02)
        files = list((topic.directory / "channels").glob("*")) if (topic.directory / "channels").exists() else []
        return present, "watch#ephemeral" in topic.channels, files

    present, still, files = run_broker(home, scenario)
    assert present and not still and files == []


def test_ephemeral_topics_are_not_kept_across_restarts(home):
    async def scenario(b):
        pub = await b.raw()
        pub.send(b"PUB tmp#ephemeral", b"x")
        assert await pub.frame() == (0, b"OK")
        return "tmp#ephemeral" in b.broker.topics

    assert run_broker(home, scenario)
    assert not (home / "broker" / "topics" / "t-tmp#ephemeral").exists()

    async def after(b):
        return "tmp#ephemeral" in b.broker.topics

    assert run_broker(home, after) is False


def test_not_fsyncing_mode_still_acknowledges(home):
    async def scenario(b):
        pub = await b.raw()
        pub.send(b"PUB fast", b"x")
        frame = await pub.frame()
        return frame, b.broker.committer.fsync

    assert run_broker(home, scenario, durability__fsync=False) == ((0, b"OK"), False)


def _mpub(bodies: list[bytes]) -> bytes:
    import struct

    return struct.pack(">i", len(bodies)) + b"".join(struct.pack(">i", len(x)) + x for x in bodies)


def test_recent_publishes_are_read_from_memory_as_whole_batches_and_older_ones_from_disk(tmp_path):
    log = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=64 * 1024)
    for batch in range(300):  # 300 publishes of 10 x 100 B: the first ones leave the cache
        assert log.append_batch(batch, 0, [b"%03d-%d" % (batch, i) + b"." * 94 for i in range(10)]) == 10 * batch + 10
    batches = list(log.read_batches(2990 - 5, 3000))
    assert [(b.first, len(b.bodies)) for b in batches] == [(2985, 5), (2990, 10)]  # a publish's tail, a whole one
    assert batches[1].timestamp_ns == 299 and batches[1].bodies[0].startswith(b"299-0")
    records = list(log.read_range(0, 3000, max_bytes=1 << 30))
    assert [r.seq for r in records] == list(range(3000))
    assert all(r.body.startswith(b"%03d-%d" % (r.seq // 10, r.seq % 10)) and r.timestamp_ns == r.seq // 10
               for r in records)
    assert log.read(5).body.startswith(b"000-5") and log.read(2999).body.startswith(b"299-9")
    assert log.read(3000) is None
    log.close()
    again = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=0)
    assert [r.body for r in again.read_range(0, 3000, max_bytes=1 << 30)] == [r.body for r in records]
    again.close()


def test_records_read_back_from_disk_come_in_batches_of_one_publish(tmp_path):
    log = TopicLog(tmp_path, segment_bytes=1 << 20, cache_bytes=0)
    log.append_batch(1, 0, [b"a", b"b", b"c"])
    log.append_batch(2, 0, [b"d"])
    log.append_batch(2, 7, [b"e", b"f"])
    assert [(b.first, b.timestamp_ns, b.deliver_at_ns, b.bodies) for b in log.read_batches(1, 10)] == [
        (1, 1, 0, [b"b", b"c"]), (3, 2, 0, [b"d"]), (4, 2, 7, [b"e", b"f"])]
    log.close()
