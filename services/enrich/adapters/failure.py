"""The adapter stage's failure: which bad-row type it becomes and its messages (§4.3)."""

from __future__ import annotations

from typing import Any


class AdapterFailure(Exception):
    """A payload the adapter rejects as a whole; ``kind`` is the bad-row schema name."""

    def __init__(self, kind: str, messages: list[dict[str, Any]]):
        super().__init__(f"{kind}: {messages}")
        self.kind = kind
        self.messages = messages


def input_data(field: str, value: Any, expectation: str) -> dict[str, Any]:
    return {"field": field, "value": value, "expectation": expectation}


def raw_event(payload, parameters: dict[str, str | None]):
    """A RawEvent carrying the payload's collector context."""
    from .raw_event import RawEvent

    return RawEvent(
        vendor=payload.vendor,
        version=payload.version,
        parameters=parameters,
        content_type=payload.content_type,
        loader_name=payload.collector,
        encoding=payload.encoding,
        hostname=payload.hostname,
        timestamp=payload.timestamp,
        ip=payload.ip,
        useragent=payload.useragent,
        referer=payload.referer,
        headers=payload.headers,
        nuid=payload.nuid,
    )
