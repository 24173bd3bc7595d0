"""Enrichments see what earlier ones derived: PII over ``derived_contexts`` hashes a field of the
ua_parser_context that ua_parser produced for the same event (Snowplow's slot order)."""

import hashlib
import json

from services.enrich.enrichments.registry import EnrichmentSet
from services.enrich import local
from tests.unit.enrich import support

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"


def test_pii_hashes_a_field_of_an_entity_derived_by_ua_parser(iglu):
    configs = [
        {"schema": "iglu:com.snowplowanalytics.snowplow/ua_parser_config/jsonschema/1-0-0",
         "data": {"vendor": "com.snowplowanalytics.snowplow", "name": "ua_parser_config", "enabled": True}},
        {"schema": "iglu:com.snowplowanalytics.snowplow.enrichments/pii_enrichment_config/jsonschema/2-0-0",
         "data": {"vendor": "com.snowplowanalytics.snowplow.enrichments", "name": "pii_enrichment_config",
                  "enabled": True, "emitEvent": False,
                  "parameters": {
                      "pii": [{"json": {"field": "derived_contexts",
                                        "schemaCriterion": "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-*",
                                        "jsonPath": "$.useragentFamily"}}],
                      "strategy": {"pseudonymize": {"hashFunction": "SHA-256", "salt": "pepper"}}}}},
    ]
    enrichments, errors = EnrichmentSet.from_configs(configs)
    assert errors == []
    outcome = local.run_sync(querystring="e=pv&p=web&tv=js-4.6.8", useragent=UA,
                             pipeline=support.pipeline(iglu, enrichments))
    assert outcome.events == {"good": 1}
    report = local.outcome_json(outcome)
    derived = json.loads(report["good_events"][0]["derived_contexts"])["data"]
    ua = next(e for e in derived if "/ua_parser_context/" in e["schema"])
    assert ua["data"]["useragentFamily"] == hashlib.sha256(b"Chrome" + b"pepper").hexdigest()
