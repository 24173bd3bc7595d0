"""Spiders and robots (``iab_spiders_and_robots_enrichment``): the ``com.iab.snowplow/spiders_and_robots``
entity.  The IAB/ABC list is proprietary: with ``uri`` ``package://crawlerdetect`` (the shipped default)
the open ``crawlerdetect`` list stands in for the exclude file; real IAB files are used when given.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import urllib.parse
from collections import OrderedDict
from pathlib import Path

from crawlerdetect import CrawlerDetect

from . import assets, parameters
from .registry import ConfigError, Enrichment

SCHEMA = "iglu:com.iab.snowplow/spiders_and_robots/jsonschema/1-0-0"
FILES = {"ipFile": "ip_exclude_current_cidr.txt", "excludeUseragentFile": "exclude_current.txt",
         "includeUseragentFile": "include_current.txt"}
PARAMS = parameters.strict({
    **{key: {"type": "object", "properties": {"database": {"enum": [name]}, "uri": {"type": "string"}},
             "required": ["database", "uri"]} for key, name in FILES.items()},
    "includeUseragents": parameters.STRINGS,
    "excludeUseragents": parameters.STRINGS,
}, list(FILES))
SUBSTITUTE = "crawlerdetect"
BROWSER = {"spiderOrRobot": False, "category": "BROWSER", "reason": "PASSED_ALL", "primaryImpact": "NONE"}


def _robot(reason: str) -> dict:
    return {"spiderOrRobot": True, "category": "ACTIVE_SPIDER_OR_ROBOT", "reason": reason, "primaryImpact": "UNKNOWN"}


def _lines(path: Path) -> list[str]:
    # IAB files are pipe-delimited with the pattern first; '#' starts a comment.
    out = []
    for line in path.read_text("utf-8", errors="replace").splitlines():
        first = line.split("|", 1)[0].strip()
        if first and not first.startswith("#"):
            out.append(first)
    return out


@dataclasses.dataclass
class IabConf:
    networks: tuple
    include: tuple[str, ...] | None  # None: no include list (crawlerdetect mode), every UA may pass
    extra_include: tuple[str, ...]
    exclude: tuple[str, ...]
    crawlers: CrawlerDetect | None
    cache: OrderedDict = dataclasses.field(default_factory=OrderedDict)


def classify(conf: IabConf, ip: str | None, useragent: str | None) -> dict:
    if ip and conf.networks:
        try:
            address = ipaddress.ip_address(ip)
            if any(address in net for net in conf.networks):
                return _robot("FAILED_IP_EXCLUDE")
        except ValueError:
            pass
    ua = (useragent or "").lower()
    hit = conf.cache.get(ua)
    if hit is None:
        hit = conf.cache[ua] = _classify_ua(conf, ua)
        if len(conf.cache) > 10_000:
            conf.cache.popitem(last=False)
    return dict(hit)


def _classify_ua(conf: IabConf, ua: str) -> dict:
    forced = any(p in ua for p in conf.extra_include)
    if conf.include is not None and not forced and not any(p in ua for p in conf.include):
        return {**_robot("FAILED_UA_INCLUDE"), "category": "SPIDER_OR_ROBOT"}
    if any(p in ua for p in conf.exclude):
        return _robot("FAILED_UA_EXCLUDE")
    if conf.crawlers is not None and not forced and ua and conf.crawlers.isCrawler(ua):
        return _robot("FAILED_UA_EXCLUDE")
    return dict(BROWSER)


class IabSpidersAndRobots(Enrichment):
    name = "iab_spiders_and_robots_enrichment"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow.enrichments/iab_spiders_and_robots_enrichment/jsonschema/1-0-*"
    slot = 10

    def parse(self, config):
        params = parameters.check(config, PARAMS)
        found: dict[str, list[str] | None] = {}
        errors = []
        for key, name in FILES.items():
            uri = params[key]["uri"]
            if urllib.parse.urlsplit(uri).netloc == SUBSTITUTE and uri.startswith("package:"):
                found[key] = None
                continue
            try:
                found[key] = _lines(assets.resolve(uri, name, self.home))
            except assets.AssetError as exc:
                errors.append(f"data.parameters.{key}: {exc}")
        networks = []
        for cidr in found.get("ipFile") or ():
            try:
                networks.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                errors.append(f"data.parameters.ipFile: {cidr!r} is not a CIDR network")
                break
        if errors:
            raise ConfigError(errors)
        lower = lambda items: tuple(p.lower() for p in items or ())  # noqa: E731 - matching is case-insensitive
        substitute = found["excludeUseragentFile"] is None
        return IabConf(
            networks=tuple(networks),
            include=None if found["includeUseragentFile"] is None else lower(found["includeUseragentFile"]),
            extra_include=lower(params.get("includeUseragents")),
            exclude=lower(found["excludeUseragentFile"]) + lower(params.get("excludeUseragents")),
            crawlers=CrawlerDetect() if substitute else None,
        )

    async def enrich(self, event, ctx, conf):
        return [{"schema": SCHEMA, "data": classify(conf, event.user_ipaddress, event.useragent)}]
