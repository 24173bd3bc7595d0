"""Request headers as the client sent them (name case and order), for the CollectorPayload.

Snowplow stores every header as ``Name: value`` with the client's own spelling and order; Tornado's
``HTTPHeaders`` keeps neither (names are title-cased, repeats grouped).  ``server.OriginServer``
keeps a copy of the raw header lines on each request's ``headers.raw_pairs``; without it (another
server, a future Tornado) the payload builder falls back to Tornado's view.
"""

from __future__ import annotations


def parse_raw_pairs(block: str) -> list[tuple[str, str]]:
    """``[(name, value), ...]`` from the header block (obs-fold continuation lines joined)."""
    pairs: list[tuple[str, str]] = []
    for line in block.split("\n"):
        line = line.rstrip("\r")
        if not line:
            continue
        if line[0] in " \t" and pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if sep:
            pairs.append((name, value.strip(" \t")))
    return pairs
