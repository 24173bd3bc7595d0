"""IP anonymization (``anon_ip``): the end of ``user_ipaddress`` replaced by ``x``.

IPv4 keeps ``4 - anonOctets`` octets (``203.0.113.7`` with 2 → ``203.0.x.x``); IPv6 is written in full
(eight groups, no leading zeros) with the last ``anonSegments`` groups replaced.  Anything else is kept.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from . import parameters
from .registry import Enrichment

PARAMS = parameters.strict({
    "anonOctets": {"type": "integer", "minimum": 1, "maximum": 4},
    "anonSegments": {"type": "integer", "minimum": 1, "maximum": 8},
}, ["anonOctets"])

# Snowplow anonymises this many IPv6 segments when a 1-0-0 config has no anonSegments.
DEFAULT_SEGMENTS = 2


@dataclasses.dataclass(frozen=True)
class AnonIpConf:
    octets: int
    segments: int


def anonymize(ip: str | None, octets: int, segments: int) -> str | None:
    if not ip:
        return ip
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv4Address):
        parts = str(address).split(".")
        return ".".join(parts[: 4 - octets] + ["x"] * octets)
    groups = [format(int(g, 16), "x") for g in address.exploded.split(":")]
    return ":".join(groups[: 8 - segments] + ["x"] * segments)


class AnonIp(Enrichment):
    name = "anon_ip"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow/anon_ip/jsonschema/1-0-*"
    slot = 180

    def parse(self, config):
        params = parameters.check(config, PARAMS)
        return AnonIpConf(int(params["anonOctets"]), int(params.get("anonSegments", DEFAULT_SEGMENTS)))

    async def enrich(self, event, ctx, conf):
        event.user_ipaddress = anonymize(event.user_ipaddress, conf.octets, conf.segments)
        return []
