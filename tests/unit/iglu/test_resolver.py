"""Resolver: lookup order, caching of hits and misses, TTL, stale-on-error, retries, superseding,
offline answers and the disk cache (iglu.md §2.2–2.5, DESIGN §6 "Offline")."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from pathlib import Path

import pytest

from services.iglu.client import IgluClient
from services.iglu.core import SELF_DESC_URI, SchemaKey
from services.iglu.resolver import ResolutionFailure, ResolverConfigError, backoff_ms

KEY = "iglu:com.acme/thing/jsonschema/1-0-0"


def write_schema(root: Path, uri: str, body: dict | None = None, **extra) -> dict:
    key = SchemaKey.parse(uri)
    schema = {"$schema": SELF_DESC_URI, **extra,
              "self": {"vendor": key.vendor, "name": key.name, "format": key.format, "version": str(key.version)},
              "type": "object", "properties": {"n": {"type": "integer"}}, "additionalProperties": False, **(body or {})}
    path = root / "schemas" / key.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))
    return schema


def config(*repos, ttl=600, size=500):
    return {"schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
            "data": {"cacheSize": size, "cacheTtl": ttl, "repositories": list(repos)}}


def embedded(name, path, priority=0, prefixes=()):
    return {"name": name, "priority": priority, "vendorPrefixes": list(prefixes), "connection": {"embedded": {"path": str(path)}}}


def http(name, uri, priority=0, prefixes=(), apikey=None):
    conn = {"uri": uri}
    if apikey:
        conn["apikey"] = apikey
    return {"name": name, "priority": priority, "vendorPrefixes": list(prefixes), "connection": {"http": conn}}


def run(coro):
    return asyncio.run(coro)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_order_prefix_then_class_then_priority(tmp_path):
    for name in ("a", "b", "c"):
        write_schema(tmp_path / name, KEY, {"description": name})
    # c matches the vendor prefix, so it wins despite its priority; then a (priority 1) before b (2).
    client = IgluClient.from_resolver_config(config(
        embedded("b", tmp_path / "b", 2), embedded("a", tmp_path / "a", 1), embedded("c", tmp_path / "c", 9, ["com.acm"])))
    assert run(client.lookup(KEY))["description"] == "c"
    client = IgluClient.from_resolver_config(config(embedded("b", tmp_path / "b", 2), embedded("a", tmp_path / "a", 1)))
    assert run(client.lookup(KEY))["description"] == "a"


def test_embedded_class_comes_before_http(tmp_path, iglu_central):
    uri = "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"
    write_schema(tmp_path, uri, {"description": "embedded copy"})
    client = IgluClient.from_resolver_config(config(http("central", iglu_central.url, 0), embedded("e", tmp_path, 100)))
    assert run(client.lookup(uri))["description"] == "embedded copy"
    assert iglu_central.requests == []


def test_http_hit_is_cached(iglu_central):
    client = IgluClient.from_resolver_config(config(http("central", iglu_central.url)))
    uri = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"
    first = run(client.lookup(uri))
    assert first["self"]["name"] == "web_page"
    assert run(client.lookup(uri)) == first
    assert iglu_central.requests == ["/schemas/com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"]


def test_miss_is_cached_for_the_ttl_then_asked_again(tmp_path, iglu_central):
    client = IgluClient.from_resolver_config(config(http("central", iglu_central.url), embedded("mine", tmp_path)))
    with pytest.raises(ResolutionFailure) as info:
        run(client.lookup(KEY))
    history = {h["repository"]: h for h in info.value.lookup_history}
    assert history["central"]["errors"] == [{"error": "NotFound"}] and history["central"]["attempts"] == 1
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", history["central"]["lastAttempt"])
    write_schema(tmp_path, KEY)  # published after the miss: invisible within the TTL (Iglu's rule)
    with pytest.raises(ResolutionFailure):
        run(client.lookup(KEY))
    assert len(iglu_central.requests) == 1
    client.resolver._cache[SchemaKey.parse(KEY)].stored -= 601  # the TTL passes
    assert run(client.lookup(KEY))["self"]["name"] == "thing"


def test_ttl_null_caches_forever_and_size_zero_disables(tmp_path, iglu_central):
    client = IgluClient.from_resolver_config(config(http("central", iglu_central.url), ttl=None))
    uri = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"
    run(client.lookup(uri))
    client.resolver._cache[SchemaKey.parse(uri)].stored -= 10 ** 7
    run(client.lookup(uri))
    assert len(iglu_central.requests) == 1
    client = IgluClient.from_resolver_config(config(http("central", iglu_central.url), size=0))
    run(client.lookup(uri))
    run(client.lookup(uri))
    assert len(iglu_central.requests) == 3


def test_stale_schema_kept_when_the_refresh_fails(iglu_central):
    client = IgluClient.from_resolver_config(config(http("central", iglu_central.url)))
    uri = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"
    schema = run(client.lookup(uri))
    client.resolver._cache[SchemaKey.parse(uri)].stored -= 601
    iglu_central.fail(500)
    assert run(client.lookup(uri)) == schema
    assert len(iglu_central.requests) == 3  # the refresh, retried once on 5xx


def test_repo_failures_are_retried_with_backoff(iglu_central):
    client = IgluClient.from_resolver_config(config(http("central", iglu_central.url)))
    uri = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"
    iglu_central.fail(503)
    with pytest.raises(ResolutionFailure) as info:
        run(client.lookup(uri))
    assert info.value.lookup_history[0]["errors"][0]["error"] == "RepoFailure"
    asked = len(iglu_central.requests)
    entry = client.resolver._cache[SchemaKey.parse(uri)]
    entry.failures["central"].last_attempt_mono = time.monotonic() + 60  # however slow this machine is
    with pytest.raises(ResolutionFailure):
        run(client.lookup(uri))  # within the backoff: answered from the cache
    assert len(iglu_central.requests) == asked
    iglu_central.fail(None)
    entry = client.resolver._cache[SchemaKey.parse(uri)]
    entry.failures["central"].last_attempt_mono = time.monotonic() - backoff_ms(1) / 1000 - 1
    assert run(client.lookup(uri))["self"]["name"] == "web_page"


def test_backoff_table():
    assert backoff_ms(1) == 504 and backoff_ms(8) == 60000 and backoff_ms(25) == 60000
    assert backoff_ms(0) == 501


def test_client_failure_on_4xx(iglu_central, tmp_path):
    iglu_central.fail(403)
    client = IgluClient.from_resolver_config(config(http("central", iglu_central.url)))
    with pytest.raises(ResolutionFailure) as info:
        run(client.lookup(KEY))
    assert info.value.lookup_history[0]["errors"][0]["error"] == "ClientFailure"


def test_unreachable_registry_is_a_resolution_error_naming_the_fix():
    url = f"http://127.0.0.1:{closed_port()}"
    client = IgluClient.from_resolver_config(config(http("Iglu Central", url)))
    result = run(client.check({"schema": KEY, "data": {}}))
    assert not result.ok and result.error["error"] == "ResolutionError"
    error = result.error["lookupHistory"][0]["errors"][0]
    assert error["error"] == "RepoFailure"
    assert "unreachable" in error["message"] and "MINI_IGLU_MIRROR_DIRS" in error["message"]
    assert "mini iglu mirror" in error["message"] and len(error["message"]) <= 256  # the bad-row schema's limit
    # Other keys don't wait on the dead registry again: it is paused after a connection failure.
    repo = client.resolver.repos[0]
    assert repo.down_until > time.monotonic() - 60
    repo.down_until = time.monotonic() + 60  # "still paused", however slow this machine is
    other = run(client.check({"schema": "iglu:com.acme/other/jsonschema/1-0-0", "data": {}}))
    message = other.error["lookupHistory"][0]["errors"][0]["message"]
    assert "not retried" in message and "MINI_IGLU_MIRROR_DIRS" in message and len(message) <= 256


def test_mirror_dirs_resolve_offline(iglu_central_dir):
    url = f"http://127.0.0.1:{closed_port()}"
    client = IgluClient.from_resolver_config(config(http("Iglu Central", url)), mirror_dirs=[str(iglu_central_dir)])
    result = run(client.check({"schema": "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
                               "data": {"targetUrl": "https://example.com"}}))
    assert result.ok, result.error


def test_disk_cache_answers_when_offline(tmp_path, iglu_central):
    uri = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"
    online = IgluClient.from_resolver_config(config(http("central", iglu_central.url)), cache_dir=tmp_path)
    run(online.lookup(uri))
    assert list(tmp_path.rglob("1-0-0"))
    iglu_central.fail(500)  # the registry breaks: a fresh process still resolves from the data dir
    later = IgluClient.from_resolver_config(config(http("central", iglu_central.url)), cache_dir=tmp_path)
    assert run(later.lookup(uri))["self"]["name"] == "web_page"
    # Iglu Central hosts are immutable: their disk copies are used without asking at all.
    asked = len(iglu_central.requests)
    first = IgluClient.from_resolver_config(config(http("central", iglu_central.url)), cache_dir=tmp_path,
                                            disk_first=re.compile(".*"))
    run(first.lookup(uri))
    assert len(iglu_central.requests) == asked


def test_superseding(tmp_path):
    write_schema(tmp_path, KEY, {"properties": {"n": {"type": "integer"}}}, **{"$supersededBy": "1-0-1"})
    write_schema(tmp_path, "iglu:com.acme/thing/jsonschema/1-0-1", {"properties": {"n": {"type": "integer"}, "m": {}}})
    client = IgluClient.from_resolver_config(config(embedded("mine", tmp_path)))
    ok = run(client.check({"schema": KEY, "data": {"n": 1, "m": 2}}))
    assert ok.ok and ok.superseded_by == "1-0-1" and ok.schema_key == KEY
    assert ok.validation_info() == {"schema": "iglu:com.snowplowanalytics.iglu/validation_info/jsonschema/1-0-0",
                                    "data": {"originalSchema": KEY, "validatedWith": "1-0-1"}}
    bad = run(client.check({"schema": KEY, "data": {"n": "x"}}))
    assert bad.error["supersededBy"] == "1-0-1" and bad.error["dataReports"][0]["keyword"] == "type"


def test_superseding_must_go_up(tmp_path):
    write_schema(tmp_path, "iglu:com.acme/thing/jsonschema/1-0-1", **{"$supersededBy": "1-0-0"})
    client = IgluClient.from_resolver_config(config(embedded("mine", tmp_path)))
    result = run(client.check({"schema": "iglu:com.acme/thing/jsonschema/1-0-1", "data": {}}))
    assert result.error["lookupHistory"][0]["errors"][0]["error"] == "ClientFailure"


def test_check_sync_only_from_the_warm_cache(tmp_path):
    write_schema(tmp_path, KEY)
    client = IgluClient.from_resolver_config(config(embedded("mine", tmp_path)))
    sdj = {"schema": KEY, "data": {"n": 1}}
    assert client.check_sync(sdj) is None
    assert run(client.check(sdj)).ok
    assert client.check_sync(sdj).ok
    assert client.check_sync({"schema": KEY, "data": {"n": "x"}}).error["error"] == "ValidationError"
    assert client.check_sync({"schema": "nope", "data": 1}).not_iglu == {"json": {"schema": "nope", "data": 1},
                                                                          "error": "INVALID_IGLUURI"}


def test_criterion_mismatch(tmp_path):
    write_schema(tmp_path, KEY)
    client = IgluClient.from_resolver_config(config(embedded("mine", tmp_path)))
    result = run(client.check({"schema": KEY, "data": {}}, criterion="iglu:com.acme/thing/jsonschema/2-*-*"))
    assert not result.ok and result.criterion_mismatch and result.schema_criterion == "iglu:com.acme/thing/jsonschema/2-*-*"


def test_invalid_schema_gives_schema_issues(tmp_path):
    write_schema(tmp_path, KEY, {"type": "objekt"})
    client = IgluClient.from_resolver_config(config(embedded("mine", tmp_path)))
    result = run(client.check({"schema": KEY, "data": {}}))
    assert result.error["error"] == "ValidationError" and result.error["schemaIssues"][0]["path"] == "$.type"


def test_path_traversal_keys_never_leave_the_registry(tmp_path):
    (tmp_path / "secret").mkdir()
    write_schema(tmp_path / "reg", KEY)
    client = IgluClient.from_resolver_config(config(embedded("mine", tmp_path / "reg")))
    result = run(client.check({"schema": "iglu:../secret/jsonschema/1-0-0", "data": {}}))
    assert result.error["lookupHistory"][0]["errors"] == [{"error": "NotFound"}]


def test_config_errors():
    with pytest.raises(ResolverConfigError):
        IgluClient.from_resolver_config(config(embedded("x", "/a"), embedded("x", "/b")))
    with pytest.raises(ResolverConfigError):
        IgluClient.from_resolver_config({"schema": "iglu:com.acme/resolver-config/jsonschema/1-0-0", "data": {}})


def test_default_resolver_config_parses_with_every_registry(tmp_path):
    from services.common.settings import load
    from services.iglu.settings import SETTINGS

    settings = load(SETTINGS, env={"MINI_HOME": str(tmp_path), "MINI_IGLU_SERVER_URL": "http://127.0.0.1:1",
                                   "MINI_IGLU_SERVER_API_KEY": "k", "MINI_IGLU_MIRROR_DIRS": str(tmp_path / "m")})
    client = IgluClient.from_settings(settings)
    repos = client.resolver.ordered("com.acme")
    described = [r.describe() for r in repos]
    assert described[0].startswith("Iglu Client Embedded") and described[1].startswith("Mirror")
    assert [getattr(r, "uri", None) for r in repos[2:]] == [
        "http://127.0.0.1:1/api", "http://iglucentral.com", "http://mirror01.iglucentral.com"]
    assert repos[2].apikey == "k" and repos[2].is_local_server and repos[3].disk_first


def test_unusable_schemas_are_schema_issues_not_crashes(tmp_path):
    write_schema(tmp_path, KEY, {"properties": {"n": {"$ref": "#/definitions/missing"}}})
    client = IgluClient.from_resolver_config(config(embedded("mine", tmp_path)))
    result = run(client.check({"schema": KEY, "data": {"n": 1}}))
    assert not result.ok and result.error["error"] == "ValidationError" and result.error["schemaIssues"]


def test_lookup_returns_a_copy(tmp_path):
    write_schema(tmp_path, KEY)
    client = IgluClient.from_resolver_config(config(embedded("mine", tmp_path)))
    run(client.lookup(KEY))["type"] = "mutated"
    assert run(client.lookup(KEY))["type"] == "object"


def test_generation_changes_are_seen_even_within_one_timestamp_tick(tmp_path):
    """Rapid writes (a push) may leave the same stat signature; the resolver still sees every change."""
    import os

    reg = tmp_path / "reg"
    generation = tmp_path / "generation"
    generation.write_text("1 a\n")
    client = IgluClient.from_resolver_config(config(embedded("mine", reg)), generation_file=generation)
    client.resolver.repos[0].is_local_server = True  # stand in for the local server
    now = time.time_ns()
    os.utime(generation, ns=(now, now))  # written "just now", as a server write would be
    with pytest.raises(ResolutionFailure):
        run(client.lookup(KEY))
    write_schema(reg, KEY)
    st = os.stat(generation)
    generation.write_text("2 b\n")  # same size; force the very same mtime
    os.utime(generation, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert run(client.lookup(KEY))["self"]["name"] == "thing"


def test_a_registry_that_never_answers_times_out_as_unreachable():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)  # accepts connections, never answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        client = IgluClient.from_resolver_config(config(http("slow", url)), http_timeout=0.5)
        result = run(client.check({"schema": KEY, "data": {}}))
        error = result.error["lookupHistory"][0]["errors"][0]
        assert error["error"] == "RepoFailure" and "unreachable" in error["message"]
        assert "MINI_IGLU_MIRROR_DIRS" in error["message"]
    finally:
        listener.close()


def test_concurrent_cold_lookups_fetch_once(iglu_central):
    client = IgluClient.from_resolver_config(config(http("central", iglu_central.url)))
    sdj = {"schema": "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
           "data": {"id": "c8bc8a5c-2a4d-4c0b-9c4d-5e3e2a1b0f9d"}}

    async def many():
        return await asyncio.gather(*(client.check(sdj) for _ in range(20)))

    assert all(r.ok for r in run(many()))
    assert len(iglu_central.requests) == 1
