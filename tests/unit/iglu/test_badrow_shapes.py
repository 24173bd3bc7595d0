"""The client's error JSON is what Snowplow's bad-row schemas expect: every kind of failure, wrapped in a
schema_violations 2-0-1 bad row, validates against Iglu Central's own schema (snowplow-formats.md §4)."""

import asyncio
import socket

from services.iglu.client import IgluClient

SV = "iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1"


def closed_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_every_failure_kind_fits_schema_violations(iglu_central_dir):
    config = {"schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
              "data": {"cacheSize": 50, "cacheTtl": 600, "repositories": [
                  {"name": "Iglu Central", "priority": 0, "vendorPrefixes": [], "connection": {"http": {"uri": closed_url()}}}]}}
    client = IgluClient.from_resolver_config(config, mirror_dirs=[str(iglu_central_dir)])

    async def messages():
        out = []
        link = "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"
        for sdj, criterion in [
            ({"schema": link, "data": {"targetUrl": 5, "zz": 1}}, None),                   # dataReports
            ({"schema": "iglu:com.acme/missing/jsonschema/1-0-0", "data": {}}, None),      # ResolutionError
            ({"schema": "iglu:com.acme/x/jsonschema/1-0", "data": {}}, None),              # NotIglu
            ({"schema": link, "data": {}}, "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/2-*-*"),
        ]:
            result = await client.check(sdj, criterion)
            assert not result.ok
            if result.not_iglu:
                out.append(result.not_iglu)
            elif result.error:
                out.append({"schemaKey": result.schema_key, "error": result.error})
            else:
                out.append({"schemaKey": result.schema_key, "schemaCriterion": result.schema_criterion})
        out.append({"schemaKey": link, "error": {"error": "ValidationError",
                                                 "schemaIssues": [{"path": "$.type", "message": "bad"}]}})
        return out

    msgs = asyncio.run(messages())
    assert msgs[1]["error"]["lookupHistory"][0]["errors"][0]["error"] in ("NotFound", "RepoFailure")
    row = {"schema": SV, "data": {
        "processor": {"artifact": "mini-enrich", "version": "0.1.0"},
        "failure": {"timestamp": "2026-12-03T17:00:00.123Z", "messages": msgs},
        "payload": {"enriched": {}, "raw": {"vendor": "com.snowplowanalytics.snowplow", "version": "tp2",
                                            "parameters": [], "loaderName": "mini", "encoding": "UTF-8"}}}}
    result = asyncio.run(client.check(row))
    assert result.ok, result.error
