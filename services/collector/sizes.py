"""Size limits (snowplow-formats.md §1.7): a payload → records for RawEvents and size_violation bad rows.

Small payloads go through whole; a payload over ``max_payload_size`` is one bad row; in between, a
POST whose body is a self-describing JSON array is split greedily into payloads under the sink's
``max_bytes`` (Snowplow's ``SplitBatch``), and each event too big alone becomes a bad row.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from services.common import badrows
from services.common.bus import BAD, RAW
from services.common.collector_payload import CollectorPayload, encode, to_thrift_string

Record = tuple[str, bytes]  # (topic, body)


@dataclasses.dataclass(frozen=True)
class SizeLimits:
    max_payload_size: int = 1_048_576
    sink_max_bytes: int = 1_000_000

    def records(self, payload: CollectorPayload) -> tuple[list[Record], int]:
        """(records to publish, number of size_violation bad rows among them)."""
        data = encode(payload)
        size = len(data)
        if size < self.sink_max_bytes:
            return [(RAW, data)], 0
        if size > self.max_payload_size:
            row = self._violation(
                payload, size, self.max_payload_size,
                f"Payload exceeds max size of {self.max_payload_size}. Actual length: {size}",
            )
            return [(BAD, row)], 1
        return self._split(payload, size)

    def _violation(self, payload: CollectorPayload, actual: int, maximum: int, reason: str) -> bytes:
        return badrows.size_violation(
            badrows.COLLECTOR, maximum, actual, f"oversized collector payload: {reason}",
            to_thrift_string(payload, limit=maximum // 10),
        )

    def _split(self, payload: CollectorPayload, size: int) -> tuple[list[Record], int]:
        limit = self.sink_max_bytes
        if payload.body is None:
            return [(BAD, self._violation(payload, size, limit, "GET requests cannot be split"))], 1
        schema, events, problem = _split_body(payload.body)
        if problem:
            return [(BAD, self._violation(payload, size, limit, problem))], 1
        data_bytes = len(_dumps(events).encode("utf-8"))
        if size - data_bytes >= limit:
            reason = 'cannot split this POST request because event without "data" field is still too big'
            return [(BAD, self._violation(payload, size, limit, reason))], 1
        batches, too_big = _pack(events, limit - size + data_bytes)
        records: list[Record] = []
        for batch in batches:
            body = _dumps({"schema": schema, "data": batch})
            records.append((RAW, encode(dataclasses.replace(payload, body=body))))
        for event_size in too_big:
            reason = "this POST request split is still too large"
            records.append((BAD, self._violation(payload, event_size, limit, reason)))
        return records, len(too_big)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _split_body(body: str) -> tuple[str | None, list[Any], str | None]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        return None, [], f"cannot split POST payload which is not valid JSON: {exc}"
    if not isinstance(doc, dict) or not isinstance(doc.get("schema"), str) or "data" not in doc:
        return None, [], "cannot split POST payload which is not self-describing"
    if not isinstance(doc["data"], list):
        return None, [], "cannot split POST payload whose data is not an array"
    return doc["schema"], doc["data"], None


def _pack(events: list[Any], maximum: int) -> tuple[list[list[Any]], list[int]]:
    """Greedy packing of events whose JSON array stays under ``maximum`` bytes; sizes of loners too big."""
    batches: list[list[Any]] = []
    too_big: list[int] = []
    current: list[Any] = []
    current_size = 2  # the brackets
    for event in events:
        event_size = len(_dumps(event).encode("utf-8"))
        if event_size + 2 >= maximum:
            too_big.append(event_size)
            continue
        extra = event_size + (1 if current else 0)
        if current and current_size + extra >= maximum:
            batches.append(current)
            current, current_size = [], 2
            extra = event_size
        current.append(event)
        current_size += extra
    if current:
        batches.append(current)
    return batches, too_big
