"""Referer parsing (``referer_parser`` 2-0-x): ``refr_medium``, ``refr_source``, ``refr_term``.

The referer's host (and path) is looked up in a Snowplow-format referers database — by default the
one shipped in the ``referer-parser`` package — stripping subdomains until a match; the page's own host
and ``internalDomains`` give ``internal``; an unknown http(s) referer gives ``unknown``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from . import assets, parameters, querystring
from .registry import ConfigError, Enrichment

PARAMS = parameters.strict({
    "internalDomains": parameters.STRINGS,
    "database": {"type": "string"},
    "uri": {"type": "string"},
    "referrers": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": parameters.strict({
        "domains": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "parameters": parameters.STRINGS,
    }, ["domains"])}},
}, ["internalDomains", "database", "uri"])


def packaged_database() -> Path:
    import referer_parser  # the maintained package whose data file we ship with

    return Path(referer_parser.__file__).parent / "data" / "referers.json"


@dataclasses.dataclass(frozen=True)
class Known:
    medium: str
    source: str
    params: tuple[str, ...]


def load(data: dict[str, Any], into: dict[str, Known] | None = None) -> dict[str, Known]:
    """``{medium: {source: {domains, parameters}}}`` → host-or-host/path → Known."""
    table = {} if into is None else into
    for medium, sources in data.items():
        for source, spec in sources.items():
            known = Known(medium, source, tuple(spec.get("parameters") or ()))
            for domain in spec["domains"]:
                table[domain] = known
    return table


@dataclasses.dataclass(frozen=True)
class RefererConf:
    table: dict[str, Known]
    internal: frozenset[str]


def lookup(table: dict[str, Known], host: str, path: str) -> Known | None:
    first = "/" + path.split("/")[1] if path.count("/") >= 1 and len(path) > 1 else ""
    while host:
        for key in (host + path, host + first, host) if path else (host,):
            if key in table:
                return table[key]
        if "." not in host:
            return None
        host = host.split(".", 1)[1]
    return None


def classify(conf: RefererConf, scheme: str | None, host: str | None, path: str | None, query: str | None,
             page_host: str | None) -> tuple[str, str | None, str | None] | None:
    """(medium, source, term) for a referer, or None when it is not an http(s) URL."""
    if scheme not in ("http", "https") or not host:
        return None
    host = host.lower()
    if host == (page_host or "").lower() or host in conf.internal:
        return ("internal", None, None)
    known = lookup(conf.table, host, path or "")
    if known is None:
        return ("unknown", None, None)
    term = None
    if known.medium == "search" and known.params:
        qs = querystring.parse(query)
        term = next((qs[p] for p in known.params if p in qs), None)
    return (known.medium, known.source, term)


class RefererParser(Enrichment):
    name = "referer_parser"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow/referer_parser/jsonschema/2-0-*"
    slot = 50

    def parse(self, config):
        params = parameters.check(config, PARAMS)
        try:
            path = assets.resolve(params["uri"], params["database"], self.home, fallback=packaged_database())
            table = load(json.loads(path.read_text("utf-8")))
        except assets.AssetError as exc:
            raise ConfigError([f"data.parameters: {exc}"]) from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError([f"data.parameters.database: {params['database']} is not a referers database: {exc}"]) from None
        load(params.get("referrers") or {}, table)
        return RefererConf(table, frozenset(d.lower() for d in params["internalDomains"]))

    async def enrich(self, event, ctx, conf):
        found = classify(conf, event.refr_urlscheme, event.refr_urlhost, event.refr_urlpath, event.refr_urlquery,
                         event.page_urlhost)
        if found:
            event.refr_medium, event.refr_source, event.refr_term = found
        return []
