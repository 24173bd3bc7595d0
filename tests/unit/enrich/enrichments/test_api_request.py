import asyncio
import json

import pytest
import tornado.httpserver
import tornado.testing
import tornado.web

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.api_request import ApiRequest
from services.enrich.enrichments.registry import EnrichContext, EnrichmentFailure

from .helpers import SPE, errors_of, parse_errors, raw, sdj

SCHEMA = f"iglu:{SPE}/api_request_enrichment_config/jsonschema/1-0-2"
OUT = "iglu:com.acme/user/jsonschema/1-0-0"


class Users(tornado.web.RequestHandler):
    def initialize(self, calls):
        self.calls = calls

    async def get(self, user):
        self.calls.append(("GET", user, self.request.headers.get("Authorization")))
        if user == "slow":
            await asyncio.sleep(2)
        if user == "broken":
            raise tornado.web.HTTPError(500)
        self.write({"record": {"id": user, "plan": "pro"}})

    def post(self, user):
        self.calls.append(("POST", user, json.loads(self.request.body)))
        self.write({"record": {"id": user}})


def params(port, **over):
    base = {"inputs": [{"key": "user", "pojo": {"field": "user_id"}},
                       {"key": "sku", "json": {"field": "unstruct_event", "schemaCriterion": "iglu:com.acme/checkout/jsonschema/1-*-*",
                                               "jsonPath": "$.sku"}}],
            "api": {"http": {"method": "GET", "uri": f"http://127.0.0.1:{port}/users/{{{{user}}}}?sku={{{{sku}}}}",
                             "timeout": 500, "authentication": {"httpBasic": {"username": "u", "password": "p"}}}},
            "outputs": [{"schema": OUT, "json": {"jsonPath": "$.record"}}],
            "cache": {"size": 10, "ttl": 60}, "ignoreOnError": False}
    base.update(over)
    return base


async def with_server(body):
    calls = []
    sock, port = tornado.testing.bind_unused_port()
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/users/([^/?]+)", Users, {"calls": calls})]))
    server.add_sockets([sock])
    try:
        return await body(port, calls)
    finally:
        server.stop()


def ctx():
    return EnrichContext(raw=raw(), unstruct_event={"schema": "iglu:com.acme/checkout/jsonschema/1-0-0",
                                                    "data": {"sku": "A 1"}})


def test_call_output_cache_and_auth():
    async def body(port, calls):
        api = ApiRequest()
        conf = api.parse(sdj(SCHEMA, params(port)))
        out = await api.enrich(EnrichedEvent(user_id="alice"), ctx(), conf)
        again = await api.enrich(EnrichedEvent(user_id="alice"), ctx(), conf)
        return out, again, calls
    out, again, calls = asyncio.run(with_server(body))
    assert out == again == [{"schema": OUT, "data": {"id": "alice", "plan": "pro"}}]
    assert calls == [("GET", "alice", "Basic dTpw")]  # the second event was answered by the cache


def test_a_cached_response_is_not_changed_by_rewriting_an_entity():
    async def body(port, calls):
        api = ApiRequest()
        conf = api.parse(sdj(SCHEMA, params(port)))
        out = await api.enrich(EnrichedEvent(user_id="alice"), ctx(), conf)
        out[0]["data"]["id"] = "pseudonymised"  # what the PII enrichment does to derived entities
        return await api.enrich(EnrichedEvent(user_id="alice"), ctx(), conf), calls
    again, calls = asyncio.run(with_server(body))
    assert again == [{"schema": OUT, "data": {"id": "alice", "plan": "pro"}}]
    assert len(calls) == 1


def test_post_sends_inputs_as_json():
    async def body(port, calls):
        api = ApiRequest()
        p = params(port)
        p["api"]["http"].update(method="POST", uri=f"http://127.0.0.1:{port}/users/{{{{user}}}}")
        out = await api.enrich(EnrichedEvent(user_id="bob"), ctx(), api.parse(sdj(SCHEMA, p)))
        return out, calls
    out, calls = asyncio.run(with_server(body))
    assert calls == [("POST", "bob", {"user": "bob", "sku": "A 1"})]
    assert out[0]["data"] == {"id": "bob"}


def test_missing_input_skips_the_call():
    async def body(port, calls):
        api = ApiRequest()
        return await api.enrich(EnrichedEvent(), ctx(), api.parse(sdj(SCHEMA, params(port)))), calls
    assert asyncio.run(with_server(body)) == ([], [])


@pytest.mark.parametrize("user", ["slow", "broken"])
def test_timeout_or_error_is_a_failure_unless_ignored(user):
    async def body(port, calls):
        api = ApiRequest()
        with pytest.raises(EnrichmentFailure):
            await api.enrich(EnrichedEvent(user_id=user), ctx(), api.parse(sdj(SCHEMA, params(port))))
        ignoring = api.parse(sdj(SCHEMA, params(port, ignoreOnError=True)))
        return await api.enrich(EnrichedEvent(user_id=user), ctx(), ignoring)
    assert asyncio.run(with_server(body)) == []


def test_output_path_matching_nothing_is_a_failure():
    async def body(port, calls):
        api = ApiRequest()
        p = params(port, outputs=[{"schema": OUT, "json": {"jsonPath": "$.missing"}}])
        with pytest.raises(EnrichmentFailure):
            await api.enrich(EnrichedEvent(user_id="x"), ctx(), api.parse(sdj(SCHEMA, p)))
    asyncio.run(with_server(body))


def test_valid_config_matches_schema():
    assert errors_of(sdj(SCHEMA, params(1))) == []


@pytest.mark.parametrize("change", [
    {"cache": {"size": 1}}, {"outputs": []}, {"api": {"http": {"method": "DELETE", "uri": "x", "timeout": 1, "authentication": {}}}},
    {"inputs": [{"key": "bad key!", "pojo": {"field": "user_id"}}]}, {"ignoreOnError": "yes"}])
def test_invalid_configs(change):
    config = sdj(SCHEMA, params(1, **change))
    assert errors_of(config)
    assert parse_errors(ApiRequest, config)


def test_placeholder_without_input():
    p = params(1)
    p["api"]["http"]["uri"] = "http://127.0.0.1:1/{{nobody}}"
    assert any("nobody" in e for e in parse_errors(ApiRequest, sdj(SCHEMA, p)))
