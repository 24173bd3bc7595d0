"""Enrich's ledger (DESIGN §6): per payload one payload-level outcome or one outcome per event.

``payloads = cpform + adapter_failures + tracker_protocol_violations + with_events`` and
``events = good + schema_violations + enrichment_failures + size_violation``; ``check`` says whether
the counters satisfy both.
"""

from __future__ import annotations

import collections
from typing import Any

PAYLOAD_OUTCOMES = ("cpform", "adapter_failures", "tracker_protocol_violations", "with_events")
EVENT_OUTCOMES = ("good", "schema_violations", "enrichment_failures", "size_violation")


class Ledger:
    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    def add(self, outcome) -> None:
        c = self.counts
        c["payloads"] += 1
        c["payloads_" + outcome.payload_outcome] += 1
        c["bad_rows"] += len(outcome.bad)
        c["good_lines"] += len(outcome.good)
        c["pii_events"] += len(outcome.pii)
        for kind, n in outcome.events.items():
            c["events"] += n
            c["events_" + kind] += n

    def as_dict(self) -> dict[str, Any]:
        out = {"payloads": 0, "events": 0, "bad_rows": 0, "good_lines": 0, "pii_events": 0}
        out.update({f"payloads_{k}": 0 for k in PAYLOAD_OUTCOMES})
        out.update({f"events_{k}": 0 for k in EVENT_OUTCOMES})
        out.update(self.counts)
        return out

    def check(self) -> bool:
        d = self.as_dict()
        return (d["payloads"] == sum(d[f"payloads_{k}"] for k in PAYLOAD_OUTCOMES)
                and d["events"] == sum(d[f"events_{k}"] for k in EVENT_OUTCOMES))
