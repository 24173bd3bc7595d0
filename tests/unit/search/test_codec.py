"""Stored ``_source`` compression: round trips, and sources written by earlier versions still read."""

import json
import random
import zlib

from services.search.codec import SourceCodec


def doc(rng, size):
    return json.dumps({"app_id": "shop", "n": rng.randint(0, 10**9), "text": "".join(
        rng.choice("abcdefgh ") for _ in range(size))}).encode()


def test_round_trips_small_large_and_beyond_the_window():
    rng = random.Random(3)
    codec = SourceCodec(None)
    first = doc(rng, 40_000)  # the dictionary is capped at 32 KiB, the compressor's window is 8 KiB
    assert codec.choose(first)
    for raw in [first, doc(rng, 10), doc(rng, 300), doc(rng, 5_000), doc(rng, 20_000), doc(rng, 70_000)]:
        stored = codec.encode(raw)
        assert SourceCodec(codec.dictionary).text(stored) == (raw if isinstance(stored, bytes) else raw.decode())


def test_sources_compressed_with_a_32k_window_still_read():
    rng = random.Random(5)
    dictionary = doc(rng, 30_000)[:32 * 1024]
    old = zlib.compressobj(1, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, dictionary)
    raw = doc(rng, 12_000)
    stored = old.compress(raw) + old.flush()
    assert SourceCodec(dictionary).text(stored) == raw
