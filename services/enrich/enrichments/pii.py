"""PII pseudonymization (``pii_enrichment_config`` 2-0-x): hash configured fields with a salt.

Atomic fields (``pojo``) and JSONPath matches inside ``contexts``/``unstruct_event``/``derived_contexts``
(``json``, entities chosen by an Iglu criterion) become ``hex(hash(value + salt))``.  With ``emitEvent``
a ``pii_transformation`` event (original and new values, a ``parent_event`` entity) goes to PiiEvents.
``anonymousOnly`` limits it to requests carrying the ``SP-Anonymous`` header.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from typing import Any, Callable

from ...common.enriched_event import EnrichedEvent
from . import headers, inputs, parameters
from .api_request import JSON_INPUT
from .registry import ConfigError, Enrichment, criterion_matches

POJO_FIELDS = ["user_id", "user_ipaddress", "user_fingerprint", "domain_userid", "network_userid",
               "ip_organization", "ip_domain", "tr_orderid", "ti_orderid", "mkt_term", "mkt_content",
               "se_category", "se_action", "se_label", "se_property", "mkt_clickid", "refr_domain_userid",
               "domain_sessionid"]
HASHES = {"MD2": "md2", "MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
PARAMS = parameters.strict({
    "pii": {"type": "array", "items": {**parameters.strict({
        "pojo": parameters.strict({"field": {"enum": POJO_FIELDS}}, ["field"]),
        "json": JSON_INPUT,
    }), "oneOf": [{"required": ["pojo"]}, {"required": ["json"]}]}},
    "strategy": parameters.strict({"pseudonymize": parameters.strict({
        "hashFunction": {"enum": list(HASHES)}, "salt": {"type": "string"}}, ["hashFunction", "salt"])},
        ["pseudonymize"]),
}, ["pii", "strategy"])
TRANSFORMATION = "iglu:com.snowplowanalytics.snowplow/pii_transformation/jsonschema/1-0-0"
PARENT = "iglu:com.snowplowanalytics.snowplow/parent_event/jsonschema/1-0-0"
CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"


@dataclasses.dataclass
class PiiConf:
    pojo: list[str]
    json: list[dict]
    hash_name: str
    hash: Callable[[str], str]
    emit: bool
    anonymous_only: bool


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Pii(Enrichment):
    name = "pii_enrichment_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow.enrichments/pii_enrichment_config/jsonschema/2-0-*"
    slot = 190

    def parse(self, config):
        top = {"emitEvent": {"type": "boolean"}, "anonymousOnly": {"type": "boolean"}}
        extra = [f"data: 'emitEvent' is required"] if isinstance(config, dict) and isinstance(config.get("data"), dict) \
            and "emitEvent" not in config["data"] else []
        params = parameters.check(config, PARAMS, extra=extra)
        errors = [f"data.{k}: must be true or false" for k in top
                  if k in config["data"] and not isinstance(config["data"][k], bool)]
        pseudo = params["strategy"]["pseudonymize"]
        algorithm, salt = HASHES[pseudo["hashFunction"]], pseudo["salt"]
        try:
            hashlib.new(algorithm)
        except ValueError:
            errors.append(f"data.parameters.strategy.pseudonymize.hashFunction: {pseudo['hashFunction']} "
                          "is not available in this Python's OpenSSL")
        specs = []
        for i, item in enumerate(params["pii"]):
            if "json" in item:
                spec = dict(item["json"])
                try:
                    spec["_path"] = inputs.compile_path(spec["jsonPath"])
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"data.parameters.pii[{i}].json.jsonPath: {exc}")
                specs.append(spec)
        if errors:
            raise ConfigError(errors)
        return PiiConf(
            [item["pojo"]["field"] for item in params["pii"] if "pojo" in item], specs, pseudo["hashFunction"],
            lambda text: hashlib.new(algorithm, (text + salt).encode("utf-8")).hexdigest(),
            bool(config["data"]["emitEvent"]), bool(config["data"].get("anonymousOnly", False)))

    async def enrich(self, event, ctx, conf):
        if conf.anonymous_only and not any(n.lower() == "sp-anonymous" for n, _ in headers.pairs(ctx.raw.headers)):
            return []
        pojo, changed_json = [], []
        for field in conf.pojo:
            original = getattr(event, field)
            if original:
                modified = conf.hash(original)
                setattr(event, field, modified)
                pojo.append({"fieldName": field, "originalValue": original, "modifiedValue": modified})
        for spec in conf.json:
            changed_json.extend(self._json(event, ctx, spec, conf))
        if conf.emit and (pojo or changed_json):
            ctx.pii_events.append(self._event(event, ctx, conf, pojo, changed_json))
        return []

    def _json(self, event, ctx, spec, conf) -> list[dict]:
        field = spec["field"]
        if field == "unstruct_event":
            entities = [ctx.unstruct_event] if ctx.unstruct_event else []
        elif field == "contexts":
            entities = list(ctx.contexts or [])
        else:
            entities = inputs.derived_so_far(event, ctx)
        out = []
        for entity in entities:
            if not criterion_matches(spec["schemaCriterion"], entity.get("schema", "")):
                continue
            for match in spec["_path"].find(entity.get("data")):
                if match.value is None or isinstance(match.value, (dict, list)):
                    continue
                original = match.value if isinstance(match.value, str) else inputs.as_text(match.value)
                modified = conf.hash(original)
                match.full_path.update(entity["data"], modified)
                out.append({"fieldName": field, "originalValue": original, "modifiedValue": modified,
                            "jsonPath": spec["jsonPath"], "schema": entity["schema"]})
        if out:  # keep the TSV columns in step with the edited entities
            if field == "unstruct_event" and event.unstruct_event:
                event.unstruct_event = _dump({"schema": UNSTRUCT, "data": ctx.unstruct_event})
            elif field == "contexts" and event.contexts:
                event.contexts = _dump({"schema": CONTEXTS, "data": ctx.contexts})
            elif field == "derived_contexts" and getattr(ctx, "derived", None) is None:
                event.derived_contexts = _dump({"schema": CONTEXTS, "data": entities})
        return out

    def _event(self, event, ctx, conf, pojo, changed_json) -> EnrichedEvent:
        pii: dict[str, Any] = {}
        if pojo:
            pii["pojo"] = pojo
        if changed_json:
            pii["json"] = changed_json
        data = {"pii": pii, "strategy": {"pseudonymize": {"hashFunction": conf.hash_name}}}
        return EnrichedEvent(
            platform="srv", etl_tstamp=event.etl_tstamp, collector_tstamp=event.collector_tstamp,
            event="unstruct", event_id=str(uuid.uuid4()), v_collector=event.v_collector, v_etl=event.v_etl,
            contexts=_dump({"schema": CONTEXTS, "data": [{"schema": PARENT, "data": {"parentEventId": event.event_id}}]}),
            unstruct_event=_dump({"schema": UNSTRUCT, "data": {"schema": TRANSFORMATION, "data": data}}),
            derived_tstamp=event.derived_tstamp, event_vendor="com.snowplowanalytics.snowplow",
            event_name="pii_transformation", event_format="jsonschema", event_version="1-0-0",
        )

