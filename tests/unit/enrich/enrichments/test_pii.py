import hashlib
import json

import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.pii import Pii
from services.enrich.enrichments.registry import EnrichContext

from .helpers import SPE, assert_valid, errors_of, parse_errors, raw, run, sdj

SCHEMA = f"iglu:{SPE}/pii_enrichment_config/jsonschema/2-0-1"
CHECKOUT = {"schema": "iglu:com.acme/checkout/jsonschema/1-0-0", "data": {"email": "jo@example.com", "qty": 2}}


def config(emit=True, anonymous_only=None, fn="SHA-256", pii=None):
    top = {"emitEvent": emit}
    if anonymous_only is not None:
        top["anonymousOnly"] = anonymous_only
    return sdj(SCHEMA, {"pii": pii or [{"pojo": {"field": "user_id"}}, {"pojo": {"field": "domain_userid"}},
                                       {"json": {"field": "unstruct_event", "schemaCriterion": "iglu:com.acme/checkout/jsonschema/1-*-*",
                                                 "jsonPath": "$.email"}}],
                        "strategy": {"pseudonymize": {"hashFunction": fn, "salt": "pepper"}}}, **top)


def event():
    return EnrichedEvent(event_id="2ec13853-ef9e-414a-8976-e64a4693b134", user_id="jo", domain_userid="d-1",
                         collector_tstamp="2022-10-10 10:42:35.000", etl_tstamp="2022-10-10 10:42:36.000",
                         v_collector="c", v_etl="e",
                         unstruct_event=json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
                                                    "data": CHECKOUT}))


def sha(text):
    return hashlib.sha256((text + "pepper").encode()).hexdigest()


def test_fields_pseudonymized_and_event_emitted():
    ctx = EnrichContext(raw=raw(), unstruct_event=json.loads(json.dumps(CHECKOUT)))
    out, e, ctx = run(Pii, config(), event(), ctx)
    assert out == []
    assert (e.user_id, e.domain_userid) == (sha("jo"), sha("d-1"))
    assert json.loads(e.unstruct_event)["data"]["data"] == {"email": sha("jo@example.com"), "qty": 2}
    [pii] = ctx.pii_events
    unstruct = json.loads(pii.unstruct_event)["data"]
    assert unstruct["schema"] == "iglu:com.snowplowanalytics.snowplow/pii_transformation/jsonschema/1-0-0"
    assert unstruct["data"]["pii"]["pojo"][0] == {"fieldName": "user_id", "originalValue": "jo", "modifiedValue": sha("jo")}
    assert unstruct["data"]["pii"]["json"][0]["jsonPath"] == "$.email"
    assert unstruct["data"]["strategy"] == {"pseudonymize": {"hashFunction": "SHA-256"}}
    assert_valid(unstruct)
    parent = json.loads(pii.contexts)["data"][0]
    assert parent["data"] == {"parentEventId": "2ec13853-ef9e-414a-8976-e64a4693b134"}
    assert_valid(parent)
    assert (pii.event, pii.event_name, pii.platform) == ("unstruct", "pii_transformation", "srv")


@pytest.mark.parametrize("fn, algo", [("MD5", "md5"), ("SHA-1", "sha1"), ("SHA-512", "sha512")])
def test_hash_functions(fn, algo):
    _, e, _ = run(Pii, config(emit=False, fn=fn), event())
    assert e.user_id == hashlib.new(algo, b"jopepper").hexdigest()


def test_no_event_without_emit():
    _, _, ctx = run(Pii, config(emit=False), event())
    assert ctx.pii_events == []


def test_anonymous_only():
    _, e, _ = run(Pii, config(anonymous_only=True), event())
    assert e.user_id == "jo"
    _, e, _ = run(Pii, config(anonymous_only=True), event(), EnrichContext(raw=raw(headers=["SP-Anonymous: *"])))
    assert e.user_id == sha("jo")


def test_valid_config_matches_schema():
    assert errors_of(config()) == []


@pytest.mark.parametrize("cfg", [
    sdj(SCHEMA, {"pii": [], "strategy": {"pseudonymize": {"hashFunction": "SHA-256", "salt": "s"}}}),  # no emitEvent
    config(fn="CRC"), config(pii=[{"pojo": {"field": "page_url"}}]),
    config(pii=[{"pojo": {"field": "user_id"}, "json": {"field": "contexts", "schemaCriterion": "iglu:a/b/jsonschema/1-*-*", "jsonPath": "$.x"}}]),
])
def test_invalid_configs(cfg):
    assert errors_of(cfg)
    assert parse_errors(Pii, cfg)


def test_json_path_in_derived_contexts_of_earlier_enrichments():
    ctx = EnrichContext(raw=raw())
    ua = {"schema": "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0",
          "data": {"useragentFamily": "Chrome"}}
    ctx.derived = [ua]  # what enrich passes: the entities derived so far, edited in place
    cfg = config(emit=False, pii=[{"json": {"field": "derived_contexts",
                                            "schemaCriterion": "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-*",
                                            "jsonPath": "$.useragentFamily"}}])
    run(Pii, cfg, event(), ctx)
    assert ua["data"]["useragentFamily"] == sha("Chrome")
