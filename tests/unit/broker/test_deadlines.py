"""Deadlines: one entry per batch, stale tokens skipped, trimming keeps exactly the live entries."""

from __future__ import annotations

from services.broker.deadlines import DEFERRED, IN_FLIGHT, Deadlines, Entry


def test_a_batch_entry_times_out_only_members_still_on_their_first_delivery():
    unfinished = {seq: Entry(1, IN_FLIGHT, "c", 1) for seq in range(10, 15)}
    d = Deadlines()
    d.time_out(100, 10, 1, 5)
    del unfinished[10]  # FIN'd
    unfinished[11].token = 2  # TOUCHed: its own later deadline
    d.time_out(200, 11, 2)
    unfinished[12].state, unfinished[12].token = DEFERRED, 2  # REQ'd with a delay
    d.defer(150, 12, 2)
    assert [s for s, _ in d.expired(99, unfinished)] == []
    assert [s for s, _ in d.expired(100, unfinished)] == [13, 14]
    assert [s for s, _ in d.due(150, unfinished)] == [12]
    assert [s for s, _ in d.expired(200, unfinished)] == [11]
    assert d.timeouts == [] and d.deferred == []


def test_trim_drops_finished_batches_and_keeps_any_with_a_live_member():
    d = Deadlines()
    unfinished = {}
    for first in range(0, 100_000, 10):
        d.time_out(first, first, 1, 10)
    unfinished[99_995] = Entry(1, IN_FLIGHT, "c", 1)  # one live member of the last batch
    unfinished[99_996] = Entry(1, IN_FLIGHT, "c", 2)  # TOUCHed: its batch entry is stale for it
    d.trim(unfinished)
    assert d.timeouts == [(99_990, 99_990, 1, 10)]
    d.trim({})
    assert d.timeouts == [(99_990, 99_990, 1, 10)]  # too few to bother
