"""API request enrichment (``api_request_enrichment_config``): call an HTTP API per event, add entities.

Inputs fill ``{{key}}`` placeholders of the URI (URL-encoded; POST/PUT also send them as a JSON body);
each output takes a JSONPath of the JSON response as the data of an entity of its schema.  A missing
input skips the call; a failed call or a missing output is an enrichment failure unless
``ignoreOnError``.  Responses are cached per URL (``cache.size``, ``cache.ttl``).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import re
import urllib.parse

import tornado.httpclient

from . import inputs, parameters
from .registry import ConfigError, Enrichment, EnrichmentFailure

CRITERION = r"^iglu:[a-zA-Z0-9-_.]+/[a-zA-Z0-9-_]+/[a-zA-Z0-9-_]+/([1-9][0-9]*|\*)-((?:0|[1-9][0-9]*)|\*)-((?:0|[1-9][0-9]*)|\*)$"
SCHEMA_KEY = r"^iglu:([a-zA-Z0-9-_.]+)/([a-zA-Z0-9-_]+)/([a-zA-Z0-9-_]+)/([1-9][0-9]*(?:-(?:0|[1-9][0-9]*)){2})$"
JSON_INPUT = parameters.strict({
    "field": {"enum": list(inputs.JSON_FIELDS)},
    "schemaCriterion": {"type": "string", "pattern": CRITERION},
    "jsonPath": {"type": "string", "pattern": r"^\$.*$"},
}, ["field", "schemaCriterion", "jsonPath"])
CACHE = parameters.strict({"size": {"type": "integer", "minimum": 0},
                           "ttl": {"type": "integer", "minimum": 0, "maximum": 86400}}, ["size", "ttl"])
PARAMS = parameters.strict({
    "inputs": {"type": "array", "items": {**parameters.strict({
        "key": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
        "pojo": parameters.strict({"field": {"type": "string"}}, ["field"]),
        "json": JSON_INPUT,
    }, ["key"]), "minProperties": 2, "maxProperties": 2}},
    "api": {**parameters.strict({"http": parameters.strict({
        "method": {"enum": ["GET", "POST", "PUT"]},
        "uri": {"type": "string"},
        "timeout": {"type": "integer", "minimum": 1, "maximum": 60000},
        "authentication": parameters.strict({"httpBasic": parameters.strict(
            {"username": {"type": "string"}, "password": {"type": "string"}}, ["username", "password"])}),
    }, ["method", "uri", "timeout", "authentication"])}, ["http"])},
    "outputs": {"type": "array", "minItems": 1, "items": parameters.strict({
        "schema": {"type": "string", "pattern": SCHEMA_KEY},
        "json": parameters.strict({"jsonPath": {"type": "string", "pattern": r"^\$.*$"}}, ["jsonPath"]),
    }, ["schema", "json"])},
    "cache": CACHE,
    "ignoreOnError": {"type": ["boolean", "null"]},
}, ["inputs", "api", "outputs", "cache"])
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_-]+)\s*\}\}")


def compile_inputs(specs: list[dict], errors: list[str], where: str = "inputs") -> list[dict]:
    out = []
    for i, spec in enumerate(specs):
        spec = json.loads(json.dumps(spec))
        if "json" in spec:
            try:
                spec["json"]["_path"] = inputs.compile_path(spec["json"]["jsonPath"])
            except Exception as exc:  # noqa: BLE001 - jsonpath-ng raises several types
                errors.append(f"data.parameters.{where}[{i}].json.jsonPath: {exc}")
        out.append(spec)
    return out


@dataclasses.dataclass
class ApiConf:
    inputs: list[dict]
    method: str
    uri: str
    timeout_s: float
    auth: tuple[str, str] | None
    outputs: list[tuple[str, object, str]]  # (schema, compiled path, path text)
    cache: inputs.TtlCache
    ignore_on_error: bool


class ApiRequest(Enrichment):
    name = "api_request_enrichment_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow.enrichments/api_request_enrichment_config/jsonschema/1-0-*"
    slot = 170

    def parse(self, config):
        params = parameters.check(config, PARAMS)
        errors: list[str] = []
        specs = compile_inputs(params["inputs"], errors)
        http = params["api"]["http"]
        keys = {s["key"] for s in specs}
        for key in PLACEHOLDER.findall(http["uri"]):
            if key not in keys:
                errors.append(f"data.parameters.api.http.uri: placeholder {{{{{key}}}}} has no input")
        outputs = []
        for i, out in enumerate(params["outputs"]):
            try:
                outputs.append((out["schema"], inputs.compile_path(out["json"]["jsonPath"]), out["json"]["jsonPath"]))
            except Exception as exc:  # noqa: BLE001
                errors.append(f"data.parameters.outputs[{i}].json.jsonPath: {exc}")
        if errors:
            raise ConfigError(errors)
        basic = http["authentication"].get("httpBasic")
        return ApiConf(specs, http["method"], http["uri"], http["timeout"] / 1000.0,
                       (basic["username"], basic["password"]) if basic else None, outputs,
                       inputs.TtlCache(params["cache"]["size"], params["cache"]["ttl"]),
                       bool(params.get("ignoreOnError")))

    async def enrich(self, event, ctx, conf):
        values = {}
        for spec in conf.inputs:
            v = inputs.value(event, ctx, spec)
            if v is None:
                return []  # Snowplow skips the call when any input is missing
            values[spec["key"]] = inputs.as_text(v)
        url = PLACEHOLDER.sub(lambda m: urllib.parse.quote(values[m.group(1)], safe=""), conf.uri)
        body = json.dumps(values, separators=(",", ":")) if conf.method != "GET" else None
        try:
            response = conf.cache.get((url, body))
            if response is None:
                response = await self._call(ctx, conf, url, body)
                conf.cache.put((url, body), response)
            contexts = []
            for schema, path, text in conf.outputs:
                found = [m.value for m in path.find(response)]
                if not found:
                    raise ValueError(f"JSONPath {text} matched nothing in the response of {url}")
                # a copy: later enrichments (PII) may rewrite entities in place; the cache keeps its own
                contexts.append({"schema": schema, "data": copy.deepcopy(found[0])})
            return contexts
        except (ValueError, OSError, tornado.httpclient.HTTPError) as exc:
            if conf.ignore_on_error:
                return []
            raise EnrichmentFailure({"error": f"API request enrichment: {exc}"}) from None

    async def _call(self, ctx, conf, url, body):
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if conf.auth:
            token = base64.b64encode(f"{conf.auth[0]}:{conf.auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        client = ctx.http or tornado.httpclient.AsyncHTTPClient()
        response = await client.fetch(url, method=conf.method, body=body, headers=headers,
                                      request_timeout=conf.timeout_s, connect_timeout=conf.timeout_s)
        try:
            return json.loads(response.body)
        except ValueError:
            raise ValueError(f"the response of {url} is not JSON") from None
