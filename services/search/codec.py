"""JSON in and out of the node, and ``_source`` as stored: orjson where it agrees with the stdlib, and
deflate against a per-index dictionary (an enriched event's ``_source`` shrinks from ~3.4 KB to ~0.4 KB).

A stored source is TEXT (plain JSON, as every version before compression wrote it) or a BLOB (raw deflate
with the index's dictionary), so data dirs of earlier versions read as they are.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import orjson

# a source shorter than this is kept as text, and is never taken as the dictionary
MIN_DICT = 256
MAX_DICT = 32 * 1024


def loads(data: bytes | str) -> Any:
    """``json.loads``; orjson first (4-5x faster), the stdlib where orjson refuses (integers beyond 64 bits,
    NaN, lone surrogates), so accepted input and its values are the stdlib's."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(obj: Any) -> str:
    """Compact JSON text (the responses); the stdlib for what orjson cannot write (integers beyond 64 bits)."""
    try:
        return orjson.dumps(obj).decode("utf-8")
    except TypeError:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def dumps_bytes(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class SourceCodec:
    """Compression of one index's ``_source`` values with a dictionary fixed at the index's first real document."""

    def __init__(self, dictionary: bytes | None):
        self.dictionary = dictionary
        self._primed = None
        self._unprimed = None

    def _packer(self):
        # priming a compressor with the dictionary costs more than compressing a document: prime once, copy.
        # An 8 KiB window (the dictionary's last 8 KiB) halves the copy and keeps the ratio on enriched
        # events; the 32 KiB inflater reads these streams and those written with a 32 KiB window alike.
        if self._primed is None:
            self._primed = zlib.compressobj(1, zlib.DEFLATED, -13, 8, zlib.Z_DEFAULT_STRATEGY, self.dictionary)
        return self._primed.copy()

    def choose(self, raw: bytes) -> bool:
        """Take ``raw`` (the first source long enough) as the dictionary; True when it was taken (persist it)."""
        if self.dictionary is not None or len(raw) < MIN_DICT:
            return False
        self.dictionary = bytes(raw[:MAX_DICT])
        self._primed = self._unprimed = None
        return True

    def encode(self, raw: bytes) -> bytes | str:
        if self.dictionary is None or len(raw) < MIN_DICT:
            return raw.decode("utf-8")
        packer = self._packer()
        return packer.compress(raw) + packer.flush()

    def text(self, stored: bytes | str) -> bytes | str:
        """The JSON text of a stored source."""
        if isinstance(stored, str):
            return stored
        if self._unprimed is None:
            self._unprimed = zlib.decompressobj(-15, self.dictionary)
        unpacker = self._unprimed.copy()
        return unpacker.decompress(stored) + unpacker.flush()

    def load(self, stored: bytes | str) -> Any:
        return loads(self.text(stored))
