"""The pipeline, as in Snowplow's diagram: load -> adapt -> enrich each event -> outputs.

``Pipeline.process(record)`` turns one RawEvents record into an :class:`Outcome`: the TSV lines for
EnrichedEvents, the bad rows for BadEvents and the records for PiiEvents.  It never raises for bad
data; every failure is a bad row (DESIGN §4).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from typing import Any, Callable

from .adapters import AdapterFailure, adapt
from .enrichments.conversions import format_ms
from .enrichments.manager import GOOD, Manager
from .enrichments.registry import EnrichmentSet
from .loaders.thrift import LoaderFailure, load
from .outputs import records


@dataclasses.dataclass
class Outcome:
    payload_outcome: str  # cpform | adapter_failures | tracker_protocol_violations | with_events
    good: list[bytes] = dataclasses.field(default_factory=list)
    bad: list[bytes] = dataclasses.field(default_factory=list)
    pii: list[bytes] = dataclasses.field(default_factory=list)
    events: collections.Counter = dataclasses.field(default_factory=collections.Counter)


class Pipeline:
    def __init__(self, iglu: Any, enrichments: Callable[[], EnrichmentSet], *, v_etl: str,
                 max_record_bytes: int = 1_000_000, **manager_options: Any):
        self.iglu = iglu
        self.manager = Manager(iglu, enrichments, v_etl=v_etl, **manager_options)
        self.max_record_bytes = max_record_bytes

    async def process(self, record: bytes) -> Outcome:
        outcome = await self._process(record)
        limit = self.max_record_bytes
        if any(len(row) > limit for row in outcome.bad):
            outcome.bad = [records.bounded(row, limit) for row in outcome.bad]
        return outcome

    async def _process(self, record: bytes) -> Outcome:
        etl_tstamp = format_ms(int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000))
        try:
            payload = load(record)
        except LoaderFailure as failure:
            return Outcome("cpform", bad=[records.cpform(record, m) for m in failure.messages])
        try:
            raw_events = await adapt(payload, self.iglu)
        except AdapterFailure as failure:
            return Outcome(failure.kind, bad=[records.adapter(failure.kind, payload, failure.messages)])
        outcome = Outcome("with_events")
        for raw in raw_events:
            result = await self.manager.enrich(raw, etl_tstamp)
            if result.kind != GOOD:
                outcome.bad.append(records.event_failure(result.kind, result.messages, result.event, raw))
                outcome.events[result.kind] += 1
                continue
            fits, data = records.good(result.event.to_tsv(), self.max_record_bytes)
            (outcome.good if fits else outcome.bad).append(data)
            outcome.events["good" if fits else "size_violation"] += 1
            if fits:
                outcome.pii.extend(_pii_record(p) for p in result.pii)
        return outcome


def _pii_record(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return records.encode_line(item)
    return records.encode_line(item.to_tsv())
