"""Messages delivered as whole publishes (batches): flow control, REQ/TOUCH/timeouts/disconnects of
batch members, shared channels, DPUB, empty/delete, disk reclaim, the FIN read delay and restarts, all
over real sockets against an in-process broker (FIN frame parsing: test_fin_frames.py)."""

from __future__ import annotations

import asyncio

from .conftest import clients, consumer, mpub, nothing_more, publish, run_broker, until


# -- flow control -------------------------------------------------------------------------------

def test_rdy_lowered_below_in_flight_holds_delivery_until_in_flight_drops_below_it(home):
    async def scenario(b):
        raw = await consumer(b, "t", rdy=10)
        await publish(b, "t", [b"a%d" % i for i in range(10)])
        ids = [(await raw.message())[2] for _ in range(10)]
        (conn,) = clients(b, "t")
        raw.send(b"RDY 3")
        for msg_id in ids[:5]:
            raw.send(b"FIN " + msg_id)
        raw.send(b"NOP")
        await until(lambda: len(conn.in_flight) == 5 and conn.ready_count == 3, "5 FINs and RDY 3")
        await publish(b, "t", [b"b%d" % i for i in range(10)])
        held = await nothing_more(raw)  # 5 in flight > RDY 3: nothing may be sent
        peak = [len(conn.in_flight)]
        for msg_id in ids[5:8]:
            raw.send(b"FIN " + msg_id)  # in flight 2 < RDY 3: exactly one more
        first = await raw.message()
        await until(lambda: len(conn.in_flight) == 3, "in flight back to RDY")
        peak.append(len(conn.in_flight))
        extra = await nothing_more(raw)
        return held, first, peak, extra, conn.ready_count

    held, first, peak, extra, ready = run_broker(home, scenario)
    assert held and extra
    assert first[3] == b"b0" and first[1] == 1
    assert peak == [5, 3] and ready == 3


def test_batch_is_split_by_rdy_across_consumers_and_never_exceeds_it(home):
    async def scenario(b):
        raws = [await consumer(b, "t", rdy=3) for _ in range(3)]
        await publish(b, "t", [b"m%d" % i for i in range(30)])
        got = [[await raw.message() for _ in range(3)] for raw in raws]
        conns = clients(b, "t")
        at_rest = [len(c.in_flight) for c in conns]
        quiet = [await nothing_more(raw) for raw in raws]
        # Drain the rest, FINing each as it arrives.
        seen = [m[2] for ms in got for m in ms]
        for raw, ms in zip(raws, got):
            for m in ms:
                raw.send(b"FIN " + m[2])
        while len(seen) < 30:
            for raw in raws:
                try:
                    m = await raw.message(timeout=0.2)
                except asyncio.TimeoutError:
                    continue
                assert all(len(c.in_flight) <= c.ready_count for c in conns)
                seen.append(m[2])
                raw.send(b"FIN " + m[2])
        return at_rest, quiet, seen

    at_rest, quiet, seen = run_broker(home, scenario)
    assert at_rest == [3, 3, 3] and all(quiet)
    assert len(seen) == 30 and len(set(seen)) == 30  # disjoint: no message to two consumers


# -- batch members: REQ, TOUCH, timeout, disconnect ---------------------------------------------

def test_timeouts_of_a_batch_redeliver_only_unfinished_untouched_members(home):
    async def scenario(b):
        raw = await consumer(b, "t", rdy=5, msg_timeout=3000)
        await publish(b, "t", [b"%d" % i for i in range(5)])
        first = [await raw.message() for _ in range(5)]
        ids = [m[2] for m in first]
        raw.send(b"FIN " + ids[0])
        raw.send(b"REQ " + ids[1] + b" 0")
        again = await raw.message()  # the REQ'd one, at once, attempt 2
        raw.send(b"FIN " + again[2])
        redelivered = [await raw.message(timeout=15) for _ in range(3)]  # ids 2..4 time out
        return ids, again, redelivered, b.broker.get_topic("t").channels["c"].timeout_count

    ids, again, redelivered, timeouts = run_broker(home, scenario)
    assert again[2] == ids[1] and again[1] == 2
    assert sorted(m[2] for m in redelivered) == sorted(ids[2:])
    assert all(m[1] == 2 for m in redelivered)
    assert timeouts == 3


def test_touch_of_a_batch_member_keeps_it_past_the_batch_deadline(home):
    async def scenario(b):
        raw = await consumer(b, "t", rdy=3, msg_timeout=3000)
        await publish(b, "t", [b"%d" % i for i in range(3)])
        ids = [(await raw.message())[2] for _ in range(3)]
        channel = b.broker.get_topic("t").channels["c"]
        raw.send(b"TOUCH " + ids[0])
        # Keep TOUCHing ids[0] until the other two have timed out.
        timed_out = []
        while len(timed_out) < 2:
            try:
                m = await raw.message(timeout=0.5)
                timed_out.append(m[2])
                raw.send(b"FIN " + m[2])
            except asyncio.TimeoutError:
                pass
            raw.send(b"TOUCH " + ids[0])
        await until(lambda: channel.timeout_count == 2, "two timeouts")
        raw.send(b"FIN " + ids[0])
        raw.send(b"NOP")
        await until(lambda: not channel.unfinished, "all finished")
        return ids, timed_out, channel.timeout_count

    ids, timed_out, timeouts = run_broker(home, scenario)
    assert sorted(timed_out) == sorted(ids[1:]) and timeouts == 2


def test_disconnect_with_part_of_a_batch_in_flight_requeues_the_rest_with_attempts(home):
    async def scenario(b):
        a = await consumer(b, "t", rdy=10)
        await publish(b, "t", [b"%d" % i for i in range(10)])
        got = [await a.message() for _ in range(10)]
        for m in got[:4]:
            a.send(b"FIN " + m[2])
        a.send(b"NOP")
        channel = b.broker.get_topic("t").channels["c"]
        await until(lambda: len(channel.unfinished) == 6, "4 FINs")
        await a.close()
        await until(lambda: not channel.clients, "a gone")
        b2 = await consumer(b, "t", rdy=10)
        again = [await b2.message() for _ in range(6)]
        quiet = await nothing_more(b2)
        return got, again, quiet

    got, again, quiet = run_broker(home, scenario)
    assert [m[2] for m in again] == [m[2] for m in got[4:]]
    assert all(m[1] == 2 for m in again) and quiet


# -- DPUB, empty, delete ------------------------------------------------------------------------

def test_deferred_publish_between_batches_waits_and_the_batches_do_not(home):
    async def scenario(b):
        pub = await b.raw()
        pub.send(b"MPUB t", mpub([b"a0", b"a1", b"a2"]))
        pub.send(b"DPUB t 3000", b"later")
        pub.send(b"MPUB t", mpub([b"b0", b"b1"]))
        assert [await pub.frame() for _ in range(3)] == [(0, b"OK")] * 3
        raw = await consumer(b, "t", rdy=10)  # first channel: inherits everything published
        now = [await raw.message() for _ in range(5)]
        channel = b.broker.get_topic("t").channels["c"]
        deferred = channel.deferred_count
        later = await raw.message(timeout=15)
        return now, deferred, later

    now, deferred, later = run_broker(home, scenario)
    assert [m[3] for m in now] == [b"a0", b"a1", b"a2", b"b0", b"b1"]
    assert deferred == 1 and later[3] == b"later" and later[1] == 1


def test_channel_empty_with_a_batch_in_flight_then_fins_fail_softly_and_delivery_goes_on(home):
    async def scenario(b):
        import urllib.request

        raw = await consumer(b, "t", rdy=5)
        await publish(b, "t", [b"%d" % i for i in range(5)])
        ids = [(await raw.message())[2] for _ in range(5)]
        loop = asyncio.get_running_loop()
        request = urllib.request.Request(f"{b.url}/channel/empty?topic=t&channel=c", method="POST")
        await loop.run_in_executor(None, lambda: urllib.request.urlopen(request, timeout=10).read())
        raw.send(b"FIN " + ids[0])
        error = await raw.frame()
        await publish(b, "t", [b"new"])
        after = await raw.message()
        return ids, error, after

    ids, error, after = run_broker(home, scenario)
    assert error == (1, b"E_FIN_FAILED FIN " + ids[0] + b" failed ID not in flight")
    assert after[3] == b"new"


def test_topic_delete_with_batches_cached_and_in_flight_closes_consumers_and_starts_afresh(home):
    async def scenario(b):
        import urllib.request

        raw = await consumer(b, "t", rdy=3)
        await publish(b, "t", [b"%d" % i for i in range(8)])
        [await raw.message() for _ in range(3)]
        loop = asyncio.get_running_loop()
        request = urllib.request.Request(f"{b.url}/topic/delete?topic=t", method="POST")
        await loop.run_in_executor(None, lambda: urllib.request.urlopen(request, timeout=10).read())
        closed = await raw.is_closed()
        fresh = await consumer(b, "t", rdy=10)
        await publish(b, "t", [b"after"])
        m = await fresh.message()
        quiet = await nothing_more(fresh)
        return closed, m, quiet

    closed, m, quiet = run_broker(home, scenario)
    assert closed and m[3] == b"after" and m[1] == 1 and quiet


# -- disk -------------------------------------------------------------------------------------

def test_segments_are_reclaimed_once_every_channel_finished_them_and_not_before(home):
    async def scenario(b):
        fast = await consumer(b, "t", "fast", rdy=50)
        slow = await consumer(b, "t", "slow", rdy=50)
        topic = b.broker.get_topic("t")
        for n in range(6):
            await publish(b, "t", [b"%d-%d-" % (n, i) + b"x" * 200 for i in range(10)])
        fast_ids = [(await fast.message())[2] for _ in range(50)]
        slow_ids = [(await slow.message())[2] for _ in range(50)]
        for msg_id in fast_ids:
            fast.send(b"FIN " + msg_id)
        fast.send(b"NOP")
        channel = topic.channels["fast"]
        await until(lambda: channel.finish_count == 50 and channel.durable_floor >= 50, "fast checkpointed")
        for _ in range(5):
            b.broker.tick()
        kept = len(topic.log.segments)
        for msg_id in slow_ids:
            slow.send(b"FIN " + msg_id)
        slow.send(b"NOP")
        await until(lambda: len(topic.log.segments) < kept, "reclaimed")
        # Everything a channel still needs is readable: the last 10 messages of each.
        rest_fast = [(await fast.message())[3] for _ in range(10)]
        rest_slow = [(await slow.message())[3] for _ in range(10)]
        first_left = topic.log.first_seq
        return kept, rest_fast, rest_slow, first_left

    kept, rest_fast, rest_slow, first_left = run_broker(home, scenario, broker__segment_bytes=1024,
                                                        broker__cache_bytes=1024)
    assert kept == 6  # one ~2.3 KB publish per 1 KB segment: none reclaimed while "slow" held them
    assert rest_fast == rest_slow == [b"5-%d-" % i + b"x" * 200 for i in range(10)]
    assert first_left == 50  # the five segments both channels finished, never the one still read


# -- read delay (broker.consumer_read_delay_ms) ------------------------------------------------

def test_a_lockstep_rdy_1_consumer_is_never_made_to_wait_for_its_fins_to_be_read(home):
    """With RDY 1 every read has its one message in flight again by the time it ends: a read delay
    would hold such a consumer (pynsq's default) to one message per delay."""

    async def scenario(b):
        await publish(b, "t", [b"%d" % i for i in range(20)])
        raw = await consumer(b, "t", rdy=1)
        naps = []
        for _ in range(20):
            m = await raw.message()
            (conn,) = clients(b, "t")
            naps.append(conn._napping)
            raw.send(b"FIN " + m[2])
        return naps

    assert run_broker(home, scenario, broker__consumer_read_delay_ms=60_000) == [False] * 20


def test_a_consumer_holding_most_of_its_rdy_still_gets_the_rest_and_its_fins_are_read(home):
    """A busy consumer's reads are delayed, but what it waits for still arrives (no deadlock) and
    everything it sends is read after the pause."""

    async def scenario(b):
        raw = await consumer(b, "t", rdy=64, heartbeat_interval=2000)
        await publish(b, "t", [b"a%d" % i for i in range(40)])
        held = [await raw.message() for _ in range(40)]
        (conn,) = clients(b, "t")
        raw.send(b"NOP")  # a read while 40 of 64 are in flight: the next one waits
        await until(lambda: conn._napping, "a read delay")
        await publish(b, "t", [b"b%d" % i for i in range(24)])
        held += [await raw.message() for _ in range(24)]
        for m in held:
            raw.send(b"FIN " + m[2])
        channel = b.broker.get_topic("t").channels["c"]
        await until(lambda: channel.finish_count == 64, "every FIN read")
        beat = await raw.frame(skip_heartbeats=False, timeout=10)
        return conn.closed, beat

    closed, beat = run_broker(home, scenario, broker__consumer_read_delay_ms=1000)
    assert not closed and beat == (0, b"_heartbeat_")


# -- restart from a crash image ------------------------------------------------------------------

import pytest  # noqa: E402


@pytest.mark.parametrize("checkpoint_ms", [100, 600_000])
def test_restart_from_a_copy_taken_mid_batch_redelivers_exactly_the_unfinished(home, tmp_path, checkpoint_ms):
    """The data dir copied while the broker runs is what a kill -9 leaves (every write reached the
    OS): after a restart on it, everything not FIN'd comes again and no flushed FIN'd one does."""
    import shutil

    crash = tmp_path / "crash-home"

    async def before(b):
        raw = await consumer(b, "t", rdy=25)
        for n in range(3):
            await publish(b, "t", [b"%d-%d" % (n, i) for i in range(10)])
        got = [await raw.message() for _ in range(25)]  # 5 of the last batch still unsent
        finished = [m for i, m in enumerate(got) if i % 3 != 1]
        for m in finished:
            raw.send(b"FIN " + m[2])
        raw.send(b"NOP")
        channel = b.broker.get_topic("t").channels["c"]
        await until(lambda: channel.finish_count == len(finished), "FINs read")
        b.broker.tick()  # appends the acks (a tick also runs on its own every 20 ms)
        assert not channel._acks
        shutil.copytree(home, crash)  # the crash image: no close, no final checkpoint
        return [m[3] for m in finished]

    async def after(b):
        raw = await consumer(b, "t", rdy=100)
        again = []
        while True:
            try:
                m = await raw.message(timeout=1.0)
            except asyncio.TimeoutError:
                break
            again.append(m[3])
            raw.send(b"FIN " + m[2])
        await publish(b, "t", [b"new-%d" % i for i in range(3)])
        new = [(await raw.message())[3] for _ in range(3)]
        return again, new

    finished = run_broker(home, before, broker__checkpoint_ms=checkpoint_ms)
    again, new = run_broker(crash, after, broker__checkpoint_ms=checkpoint_ms)
    everything = [b"%d-%d" % (n, i) for n in range(3) for i in range(10)]
    assert sorted(again) == sorted(set(everything) - set(finished))
    assert len(again) == len(set(again))
    assert new == [b"new-0", b"new-1", b"new-2"]
