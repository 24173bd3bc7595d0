"""User-agent parsing (``ua_parser_config``): the ``ua_parser_context`` entity from ``useragent``.

Uses the ``ua-parser`` package with its bundled (``ua-parser-builtins``) rules, or a custom
``regexes.yaml`` given as ``uri`` + ``database``; results are cached per distinct user agent.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Any, Callable

import ua_parser as uap

from . import assets, parameters
from .registry import ConfigError, Enrichment

SCHEMA = "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0"
PARAMS = parameters.strict({"database": {"type": "string"}, "uri": {"type": "string"}})
CACHE_SIZE = 10_000


def _version(family: str | None, *parts: str | None) -> str:
    # Snowplow: family, then " major", then ".minor" ".patch" … for each part present.
    text = family or ""
    for i, part in enumerate(parts):
        if part is None:
            continue
        text += (" " if i == 0 else ".") + part
    return text


def context(result: Any) -> dict[str, Any]:
    ua, os_, device = result.user_agent, result.os, result.device
    ua_family = ua.family if ua else "Other"
    os_family = os_.family if os_ else "Other"
    ua_parts = (ua.major, ua.minor, ua.patch) if ua else (None, None, None)
    os_parts = (os_.major, os_.minor, os_.patch, os_.patch_minor) if os_ else (None,) * 4
    return {
        "useragentFamily": ua_family,
        "useragentMajor": ua_parts[0],
        "useragentMinor": ua_parts[1],
        "useragentPatch": ua_parts[2],
        "useragentVersion": _version(ua_family, *ua_parts),
        "osFamily": os_family,
        "osMajor": os_parts[0],
        "osMinor": os_parts[1],
        "osPatch": os_parts[2],
        "osPatchMinor": os_parts[3],
        "osVersion": _version(os_family, *os_parts),
        "deviceFamily": device.family if device else "Other",
    }


class Cached:
    """A bounded cache of ``ua_parser_context`` data per user-agent string."""

    def __init__(self, parse: Callable[[str], Any], size: int = CACHE_SIZE):
        self._parse, self._size, self._items = parse, size, OrderedDict()

    def __call__(self, useragent: str) -> dict[str, Any]:
        hit = self._items.get(useragent)
        if hit is None:
            result = self._parse(useragent)
            hit = self._items[useragent] = context(result.complete() if hasattr(result, "complete") else result)
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(useragent)
        return dict(hit)  # a copy: later enrichments may edit derived contexts


@dataclasses.dataclass(frozen=True)
class UaConf:
    lookup: Cached


class UaParser(Enrichment):
    name = "ua_parser_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow/ua_parser_config/jsonschema/1-0-*"
    slot = 30

    def parse(self, config):
        params = parameters.check(config, PARAMS, params_required=False)
        if bool(params.get("uri")) != bool(params.get("database")):
            raise ConfigError(["data.parameters: 'uri' and 'database' go together (custom regexes.yaml)"])
        if not params.get("uri"):
            return UaConf(Cached(uap.parse))
        try:
            path = assets.resolve(params["uri"], params["database"], self.home)
            parser = uap.Parser(uap.BasicResolver(uap.loaders.load_yaml(path)))
        except assets.AssetError as exc:
            raise ConfigError([f"data.parameters: {exc}"]) from None
        except Exception as exc:  # noqa: BLE001 - a broken rules file is a config error
            raise ConfigError([f"data.parameters.database: cannot load {params['database']}: {exc}"]) from None
        return UaConf(Cached(parser.parse))

    async def enrich(self, event, ctx, conf):
        if not event.useragent:
            return []
        return [{"schema": SCHEMA, "data": conf.lookup(event.useragent)}]
