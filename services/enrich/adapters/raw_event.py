"""A raw event: one tracker event's parameters plus the collector context it arrived with.

Adapters turn a CollectorPayload into zero or more of these (Snowplow's ``RawEvent``); the
enrichment steps read them, and bad rows of the enrichment kinds carry them as ``raw`` (§4.4).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ...common.badrows import fit, joda


@dataclasses.dataclass
class RawEvent:
    vendor: str
    version: str
    parameters: dict[str, str | None]
    content_type: str | None = None
    loader_name: str = ""  # the collector's name (CollectorPayload.collector) -> v_collector
    encoding: str = "UTF-8"
    hostname: str | None = None
    timestamp: int | None = None  # collector time, ms since epoch
    ip: str | None = None
    useragent: str | None = None
    referer: str | None = None
    headers: list[str] = dataclasses.field(default_factory=list)
    nuid: str | None = None

    @property
    def user_id(self) -> str | None:
        """Snowplow's name for the collector's network user id."""
        return self.nuid

    def as_payload_dict(self) -> dict[str, Any]:
        """The ``raw`` object of enrichment bad-row payloads, keys in Snowplow's order.

        Strings longer than the bad-row schema allows (e.g. a parameter value over 512) are cut so
        the row validates; the event's full ``contexts``/``unstruct_event`` text is in ``enriched``.
        """
        return {
            "vendor": fit(self.vendor, 64),
            "version": fit(self.version, 16),
            "parameters": [{"name": fit(k, 512), "value": fit(v, 512)} for k, v in self.parameters.items()],
            "contentType": fit(self.content_type, 256),
            "loaderName": fit(self.loader_name, 32),
            "encoding": fit(self.encoding, 32),
            "hostname": fit(self.hostname, 8192),
            "timestamp": joda(self.timestamp) if self.timestamp is not None else None,
            "ipAddress": fit(self.ip, 128),
            "useragent": fit(self.useragent, 4096),
            "refererUri": fit(self.referer, 8192),
            "headers": [fit(h, 8192) for h in self.headers],
            "userId": self.nuid,
        }
