"""The page URL's querystring as Snowplow's enrichments see it: decoded name → first value."""

from __future__ import annotations

import urllib.parse


def parse(query: str | None) -> dict[str, str]:
    """Decoded parameters; the first occurrence of a name wins, a bare ``name`` maps to ``""``."""
    out: dict[str, str] = {}
    if not query:
        return out
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        out.setdefault(name, value)
    return out
