"""The enrichment registry: entry-point registration, config checking, slot order, live swapping."""

import pytest

from services.enrich.enrichments.registry import (
    ConfigError, Enrichment, EnrichmentFailure, EnrichmentSet, criterion_matches, registered,
)
from services.enrich.enrichments.etl_tags import EtlTags
from tests.unit.enrich import support

ETL_TAGS = {"schema": "iglu:io.minilab.enrichments/etl_tags_config/jsonschema/1-0-0",
            "data": {"name": "etl_tags", "vendor": "io.minilab.enrichments", "enabled": True,
                     "parameters": {"tags": ["run-42", "ci"]}}}


def config(name, schema=None, enabled=True, **parameters):
    return {"schema": schema or f"iglu:com.acme/{name}/jsonschema/1-0-0",
            "data": {"name": name, "vendor": "com.acme", "enabled": enabled, "parameters": parameters}}


class First(Enrichment):
    name = "first"
    schema_criterion = "iglu:com.acme/first/jsonschema/1-0-*"
    slot = 20

    async def enrich(self, event, ctx, conf):
        event.etl_tags = (event.etl_tags or "") + "first;"
        return [{"schema": "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
                 "data": {"id": "0b3b2c49-1c8e-4f54-9b58-5e2c55c0d3a1"}}]


class Second(Enrichment):
    name = "second"
    schema_criterion = "iglu:com.acme/second/jsonschema/1-*-*"
    slot = 10

    def parse(self, config):
        params = config["data"]["parameters"]
        errors = [f"missing {k}" for k in ("a", "b") if k not in params]
        if errors:
            raise ConfigError(errors)
        return params

    async def enrich(self, event, ctx, conf):
        event.etl_tags = (event.etl_tags or "") + "second;"
        return []


class Failing(Enrichment):
    name = "failing"
    schema_criterion = "iglu:com.acme/failing/jsonschema/1-0-*"
    slot = 30

    async def enrich(self, event, ctx, conf):
        if conf and conf.get("crash"):
            raise KeyError("bug")
        raise EnrichmentFailure([{"error": "bare"}, {"enrichment": None, "message": {"error": "full"}}])


REGISTRY = {"first": First, "second": Second, "failing": Failing, "etl_tags": EtlTags}


def test_builtins_register_through_the_entry_point_group():
    assert registered()["etl_tags"] is EtlTags


def test_criterion_matching():
    assert criterion_matches("iglu:a/b/jsonschema/1-0-*", "iglu:a/b/jsonschema/1-0-7")
    assert not criterion_matches("iglu:a/b/jsonschema/1-0-*", "iglu:a/b/jsonschema/1-1-0")
    assert criterion_matches("iglu:a/b/jsonschema/2-*-*", "iglu:a/b/jsonschema/2-3-1")
    assert not criterion_matches("iglu:a/b/jsonschema/1-0-*", "iglu:a/c/jsonschema/1-0-0")


def test_every_config_error_at_once():
    live, errors = EnrichmentSet.from_configs({
        "ok": config("first"),
        "second": config("second"),
        "unknown": config("nope"),
        "mismatch": config("first", schema="iglu:com.acme/first/jsonschema/2-0-0"),
        "envelope": {"schema": "not-a-uri", "data": {"name": "", "enabled": "yes"}},
        "again": config("first"),
    }, registry=REGISTRY)
    assert [e.id for e in live.entries] == ["ok"]
    assert errors == [
        "second: missing a", "second: missing b",
        "unknown: no enrichment named 'nope' is registered",
        "mismatch: schema iglu:com.acme/first/jsonschema/2-0-0 does not match iglu:com.acme/first/jsonschema/1-0-*",
        "envelope: 'schema' must be an Iglu URI, got 'not-a-uri'", "envelope: 'data.name' must be a non-empty string",
        "envelope: 'data.enabled' must be true or false",
        "again: a second config for 'first' (already given as 'ok')",
    ]


def test_etl_tags_config_errors():
    bad = {**ETL_TAGS, "data": {**ETL_TAGS["data"], "parameters": {"tags": ["a,b", ""], "x": 1}}}
    _, errors = EnrichmentSet.from_configs([bad])
    assert errors == ["etl_tags: 'parameters.tags[0]' must be a non-empty string without commas or tabs",
                      "etl_tags: 'parameters.tags[1]' must be a non-empty string without commas or tabs",
                      "etl_tags: unknown parameters: x"]


def test_slot_order_disabled_entries_and_version():
    configs = [config("first"), config("second", a=1, b=2), config("failing", enabled=False)]
    live, errors = EnrichmentSet.from_configs(configs, registry=REGISTRY)
    assert errors == []
    assert [e.id for e in live.entries] == ["second", "first", "failing"]
    assert [e.id for e in live.active] == ["second", "first"]
    same, _ = EnrichmentSet.from_configs(list(reversed(configs)), registry=REGISTRY)
    assert same.version == live.version
    changed, _ = EnrichmentSet.from_configs([config("first"), config("second", a=1, b=3)], registry=REGISTRY)
    assert changed.version != live.version


def test_enrichments_run_in_slot_order_and_derived_contexts_are_written(iglu):
    live, _ = EnrichmentSet.from_configs([config("first"), config("second", a=1, b=2)], registry=REGISTRY)
    outcome = support.run(support.pipeline(iglu, live), support.payload(querystring="e=pv&p=web&tv=js"))
    (event,) = support.events(outcome)
    assert event.etl_tags == "second;first;"
    assert '"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"' in event.derived_contexts
    support.sdk_transform(event.to_tsv())


def test_failures_are_wrapped_with_the_enrichment_identifier(iglu):
    live, _ = EnrichmentSet.from_configs([config("failing")], registry=REGISTRY)
    outcome = support.run(support.pipeline(iglu, live), support.payload(querystring="e=pv&p=web&tv=js"))
    (row,) = support.bad_rows(outcome)
    assert row["data"]["failure"]["messages"] == [
        {"enrichment": {"schemaKey": "iglu:com.acme/failing/jsonschema/1-0-0", "identifier": "failing"},
         "message": {"error": "bare"}},
        {"enrichment": None, "message": {"error": "full"}}]
    live, _ = EnrichmentSet.from_configs([config("failing", crash=True)], registry=REGISTRY)
    (row,) = support.bad_rows(support.run(support.pipeline(iglu, live), support.payload(querystring="e=pv&p=web&tv=js")))
    assert row["data"]["failure"]["messages"][0]["message"] == {"error": "KeyError: 'bug'"}


def test_invalid_derived_context_is_a_schema_violation(iglu):
    class BadContext(Enrichment):
        name = "bad_context"
        schema_criterion = "iglu:com.acme/bad_context/jsonschema/1-0-*"
        slot = 1

        async def enrich(self, event, ctx, conf):
            return [{"schema": "iglu:com.acme/checkout/jsonschema/1-0-0", "data": {"qty": "x"}}]

    live, _ = EnrichmentSet.from_configs([config("bad_context")], registry={"bad_context": BadContext})
    outcome = support.run(support.pipeline(iglu, live), support.payload(querystring="e=pv&p=web&tv=js"))
    assert outcome.events == {"schema_violations": 1}


def test_swapping_the_live_set_applies_to_the_next_event(iglu):
    from services.enrich.state import State
    from services.enrich.service import load_settings

    state = State(load_settings({"MINI_HOME": "/nonexistent-mini-home"}), iglu)
    record = support.payload(querystring="e=pv&p=web&tv=js")
    assert support.events(support.run(state.pipeline, record))[0].etl_tags is None
    tagged, errors = EnrichmentSet.from_configs([ETL_TAGS])
    assert errors == []
    state.swap(tagged)
    assert support.events(support.run(state.pipeline, record))[0].etl_tags == "run-42,ci"
    state.swap(EnrichmentSet())
    assert support.events(support.run(state.pipeline, record))[0].etl_tags is None
