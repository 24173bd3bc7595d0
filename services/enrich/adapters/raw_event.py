"""A raw event: one tracker event's parameters plus the collector context it arrived with.

Adapters turn a CollectorPayload into zero or more of these (Snowplow's ``RawEvent``); the
enrichment steps read them, and bad rows of the enrichment kinds carry them as ``raw`` (§4.4).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ...common.badrows import joda


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
        """The ``raw`` object of enrichment bad-row payloads, keys in Snowplow's order."""
        return {
            "vendor": self.vendor,
            "version": self.version,
            "parameters": [{"name": k, "value": v} for k, v in self.parameters.items()],
            "contentType": self.content_type,
            "loaderName": self.loader_name,
            "encoding": self.encoding,
            "hostname": self.hostname,
            "timestamp": joda(self.timestamp) if self.timestamp is not None else None,
            "ipAddress": self.ip,
            "useragent": self.useragent,
            "refererUri": self.referer,
            "headers": list(self.headers),
            "userId": self.nuid,
        }
