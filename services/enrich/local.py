"""Enrich without the bus: build a CollectorPayload from a querystring or a POST body, run it
through the pipeline in-process, and read the outcome (``mini enrich``, ``POST /enrich``, notebooks).

    >>> outcome = run_sync(querystring="e=pv&p=web&tv=js-4.6.8&url=https://example.com/")
    >>> outcome.good[0].decode().split("\\t")[5]
    'page_view'
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from .. import __version__
from ..common.collector_payload import CollectorPayload, encode
from ..common.enriched_event import EnrichedEvent
from ..common.settings import Settings
from .enrichments.registry import EnrichmentSet
from .pipeline import Outcome, Pipeline
from .state import V_ETL

COLLECTOR = f"mini-collector-{__version__}-nsq"
TP2 = "/com.snowplowanalytics.snowplow/tp2"
JSON_CT = "application/json; charset=utf-8"


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def record(*, querystring: str | None = None, body: str | None = None, path: str | None = None,
           headers: list[str] | None = None, ip: str = "127.0.0.1", useragent: str | None = None,
           timestamp_ms: int | None = None, nuid: str | None = None, content_type: str | None = None) -> bytes:
    """A serialized CollectorPayload as the collector would write it for this request."""
    is_post = body is not None
    path = path or (TP2 if is_post else "/i")
    headers = list(headers or [])
    if useragent and not any(h.lower().startswith("user-agent:") for h in headers):
        headers.insert(0, f"User-Agent: {useragent}")
    if is_post:
        content_type = content_type or JSON_CT
        headers.append(content_type)
    payload = CollectorPayload(
        ip_address=ip, timestamp=timestamp_ms or int(time.time() * 1000), encoding="UTF-8", collector=COLLECTOR,
        user_agent=useragent, path=path, querystring=(querystring or "").lstrip("?"), body=body, headers=headers,
        content_type=content_type if is_post else None, hostname="127.0.0.1",
        network_user_id=nuid or str(uuid.uuid4()),
    )
    return encode(payload)


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """The outcome as JSON: TSV lines, their fields by name, bad rows parsed, and the counts."""
    good = [line.decode("utf-8") for line in outcome.good]
    return {
        "outcome": outcome.payload_outcome,
        "events": dict(outcome.events),
        "good": good,
        "good_events": [EnrichedEvent.from_tsv(line).as_dict() for line in good],
        "bad": [json.loads(row) for row in outcome.bad],
        "pii": [p.decode("utf-8", "replace") for p in outcome.pii],
    }


def pipeline_for(settings: Settings | None = None, enrichments: EnrichmentSet | None = None,
                 iglu: Any = None) -> Pipeline:
    """A pipeline with the configured resolver (and, by default, no enrichments)."""
    if iglu is None:
        from ..iglu.client import IgluClient
        from .service import load_settings

        settings = settings or load_settings()
        iglu = IgluClient.from_settings(settings, home=settings.home)
    live = enrichments or EnrichmentSet()
    return Pipeline(iglu, lambda: live, v_etl=V_ETL)


async def run(record_bytes: bytes | None = None, *, pipeline: Pipeline | None = None, **request: Any) -> Outcome:
    """Run one payload (Thrift bytes, or ``querystring=``/``body=`` … as for :func:`record`)."""
    pipeline = pipeline or pipeline_for()
    return await pipeline.process(record_bytes if record_bytes is not None else record(**request))


def run_sync(record_bytes: bytes | None = None, **kwargs: Any) -> Outcome:
    return asyncio.run(run(record_bytes, **kwargs))
