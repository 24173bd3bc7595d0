"""Shared helpers for enrich tests: a resolver over the Iglu Central copy (plus a test registry),
payload builders, and checks of bad rows against their Iglu Central schemas."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

from services.common.collector_payload import CollectorPayload, encode
from services.common.enriched_event import FIELDS, EnrichedEvent
from services.enrich.enrichments.registry import EnrichmentSet
from services.enrich.pipeline import Pipeline
from services.iglu.client import IgluClient

COLLECTOR = "mini-collector-0.1.0-nsq"
V_ETL = "mini-enrich-0.1.0"
TP2 = "/com.snowplowanalytics.snowplow/tp2"
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
CONTEXTS_1_0_0 = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"
CONTEXTS_1_0_1 = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
NUID = "ecdff4d0-9175-40ac-a8bb-325c49733607"
SELF_DESC = "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"
PROJECT_REGISTRY = Path(__file__).resolve().parents[3] / "services" / "config" / "iglu"


def resolver_config(*paths: Path) -> dict:
    return {"schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
            "data": {"cacheSize": 500, "cacheTtl": None, "repositories": [
                {"name": f"Embedded {i}", "priority": i, "vendorPrefixes": [],
                 "connection": {"embedded": {"path": str(p)}}} for i, p in enumerate(paths)]}}


def client(*paths: Path) -> IgluClient:
    return IgluClient.from_resolver_config(resolver_config(*paths))


def write_schema(root: Path, vendor: str, name: str, version: str, body: dict, **extra: Any) -> None:
    schema = {"$schema": SELF_DESC, **extra,
              "self": {"vendor": vendor, "name": name, "format": "jsonschema", "version": version}, **body}
    path = root / "schemas" / vendor / name / "jsonschema" / version
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))


def pipeline(iglu, enrichments: EnrichmentSet | None = None, **options) -> Pipeline:
    live = enrichments or EnrichmentSet()
    return Pipeline(iglu, lambda: live, v_etl=V_ETL, **options)


def payload(*, querystring: str = "", body: str | None = None, path: str | None = None,
            headers: list[str] | None = None, content_type: str | None = "application/json; charset=utf-8",
            timestamp: int = 1665398555000, ip: str = "10.0.0.1", useragent: str | None = "UA",
            nuid: str | None = NUID, **overrides: Any) -> bytes:
    is_post = body is not None
    fields = dict(
        ip_address=ip, timestamp=timestamp, encoding="UTF-8", collector=COLLECTOR, user_agent=useragent,
        path=path or (TP2 if is_post else "/i"), querystring=querystring, body=body,
        headers=list(headers or ([f"User-Agent: {useragent}"] if useragent else [])) +
        ([content_type] if is_post and content_type else []),
        content_type=content_type if is_post else None, hostname="c.example.com", network_user_id=nuid,
    )
    fields.update(overrides)
    return encode(CollectorPayload(**fields))


def post_body(*events: dict, schema: str = PAYLOAD_DATA) -> str:
    return json.dumps({"schema": schema, "data": list(events)})


def b64(obj: Any) -> str:
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def run(pipe: Pipeline, record: bytes):
    return asyncio.run(pipe.process(record))


def events(outcome) -> list[EnrichedEvent]:
    lines = [line.decode("utf-8") for line in outcome.good]
    for line in lines:
        assert len(line.split("\t")) == 131
    return [EnrichedEvent.from_tsv(line) for line in lines]


def bad_rows(outcome) -> list[dict]:
    return [json.loads(row) for row in outcome.bad]


def non_empty(event: EnrichedEvent) -> dict[str, str]:
    return {f: getattr(event, f) for f in FIELDS if getattr(event, f) is not None}


def assert_valid_bad_row(iglu_central: IgluClient, row: dict) -> None:
    result = asyncio.run(iglu_central.check(row))
    assert result.ok, json.dumps(result.error or result.not_iglu)[:2000]


def sdk_transform(line: str) -> dict:
    """The Python analytics SDK must read every line; the Scala SDK's mandatory fields must be set."""
    from snowplow_analytics_sdk.event_transformer import transform

    out = transform(line)
    fields = line.split("\t")
    assert len(fields) == 131
    for name in ("collector_tstamp", "event_id", "v_collector", "v_etl"):
        assert fields[FIELDS.index(name)], f"{name} must be set"
    return out
