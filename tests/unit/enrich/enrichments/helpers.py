"""Helpers for the enrichment unit tests: configs, one-enrichment runs, and Draft 4 validation of
configs and derived contexts against their schemas in the Iglu Central copy (or the project registry)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mini_kernel.testing.iglu import iglu_central_path
from services.common.enriched_event import EnrichedEvent
from services.enrich.adapters.raw_event import RawEvent
from services.enrich.enrichments.registry import ConfigError, EnrichContext, EnrichmentFailure

PROJECT_REGISTRY = Path(__file__).resolve().parents[4] / "services" / "config" / "iglu"
SP = "com.snowplowanalytics.snowplow"
SPE = "com.snowplowanalytics.snowplow.enrichments"


def sdj(schema: str, params: dict | None = None, *, enabled: bool = True, **top: Any) -> dict:
    _, path = schema.split(":", 1)
    vendor, name = path.split("/")[:2]
    data: dict[str, Any] = {"vendor": vendor, "name": name, "enabled": enabled, **top}
    if params is not None:
        data["parameters"] = params
    return {"schema": schema, "data": data}


def schema_for(uri: str) -> dict:
    vendor, name, fmt, version = uri[len("iglu:"):].split("/")
    for root in (iglu_central_path(), PROJECT_REGISTRY):
        path = root / "schemas" / vendor / name / fmt / version
        if path.is_file():
            return json.loads(path.read_text("utf-8"))
    raise AssertionError(f"no schema {uri} in the Iglu Central copy or the project registry")


def errors_of(instance: dict) -> list[str]:
    """Draft 4 violations of an SDJ's data against its schema."""
    schema = schema_for(instance["schema"])
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    return [e.message for e in validator.iter_errors(instance["data"])]


def assert_valid(instance: dict) -> None:
    assert errors_of(instance) == [], instance


def parse(cls, config: dict, home: Path | None = None, settings: dict | None = None):
    return cls(home, settings).parse(config)


def parse_errors(cls, config: dict, home: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        cls(home).parse(config)
    assert caught.value.errors
    return caught.value.errors


def raw(parameters: dict | None = None, headers: list[str] | None = None, **kw) -> RawEvent:
    return RawEvent("com.snowplowanalytics.snowplow", "tp2", dict(parameters or {"e": "pv"}),
                    headers=list(headers or []), **kw)


def run(cls, config: dict, event: EnrichedEvent | None = None, ctx: EnrichContext | None = None,
        home: Path | None = None, conf: Any = None, settings: dict | None = None):
    """(derived contexts, event, ctx) after one enrichment; the config is checked first."""
    enrichment = cls(home, settings)
    conf = enrichment.parse(config) if conf is None else conf
    event = event or EnrichedEvent()
    ctx = ctx or EnrichContext(raw=raw())
    out = asyncio.run(enrichment.enrich(event, ctx, conf))
    return out, event, ctx


def failure(cls, config: dict, event: EnrichedEvent, ctx: EnrichContext | None = None, conf: Any = None,
            settings: dict | None = None):
    with pytest.raises(EnrichmentFailure) as caught:
        run(cls, config, event, ctx, conf=conf, settings=settings)
    return caught.value.messages
