"""Adapters: a loaded collector payload -> raw events, by the payload's vendor/version.

``adapt(payload, iglu)`` returns the raw events or raises :class:`AdapterFailure`, whose ``kind``
names the bad row (``adapter_failures`` or ``tracker_protocol_violations``, snowplow-formats.md §2.1).
"""

from __future__ import annotations

from typing import Any

from .failure import AdapterFailure
from .raw_event import RawEvent

__all__ = ["AdapterFailure", "RawEvent", "adapt", "SUPPORTED"]


async def adapt(payload, iglu: Any) -> list[RawEvent]:
    from . import iglu_webhook, redirect, tracker_protocol

    api = (payload.vendor, payload.version)
    if api == ("com.snowplowanalytics.snowplow", "tp1"):
        return tracker_protocol.tp1(payload)
    if api == ("com.snowplowanalytics.snowplow", "tp2"):
        return await tracker_protocol.tp2(payload, iglu)
    if api == ("r", "tp2"):
        return redirect.redirect(payload)
    if api == ("com.snowplowanalytics.iglu", "v1"):
        return iglu_webhook.iglu_webhook(payload)
    raise AdapterFailure("adapter_failures", [{
        "field": "vendor/version", "value": f"{payload.vendor}/{payload.version}",
        "expectation": "vendor/version combination is not supported",
    }])


SUPPORTED = (
    ("com.snowplowanalytics.snowplow", "tp1"),
    ("com.snowplowanalytics.snowplow", "tp2"),
    ("r", "tp2"),
    ("com.snowplowanalytics.iglu", "v1"),
)
