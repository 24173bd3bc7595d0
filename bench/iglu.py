"""Iglu validation throughput and resolver cache costs.

Realistic events (one unstruct event + 3 contexts, with their wrappers: 6 checks per event) through
``IgluClient.check`` on a warm cache, beside pre-built ``jsonschema`` Draft4Validators with the same
format checkers on the same instances (the baseline); then a cache hit vs a miss (mirror dir, HTTP).
Prints figures and ratios; never asserts times.  ``--smoke`` uses tiny sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path

from mini_kernel.testing.iglu import StaticRegistry, iglu_central_path
from services.iglu.client import IgluClient
from services.iglu.core import SchemaKey, schema_body
from services.iglu.validation import FORMAT_CHECKER, CompiledSchema, SnowplowDraft4

SP = "com.snowplowanalytics.snowplow"


def config(*repos):
    return {"schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
            "data": {"cacheSize": 500, "cacheTtl": 600, "repositories": list(repos)}}


def event(rng: random.Random) -> list[dict]:
    """The SDJs enrich validates for one page event with a link click and three entities."""
    now = "2026-12-03T17:00:00.%03dZ" % rng.randint(0, 999)
    link = {"schema": f"iglu:{SP}/link_click/jsonschema/1-0-1",
            "data": {"targetUrl": f"https://example.com/p/{rng.randint(1, 10 ** 6)}", "elementId": "cta",
                     "elementClasses": ["btn", "btn-primary"], "elementTarget": "_blank"}}
    entities = [
        {"schema": f"iglu:{SP}/web_page/jsonschema/1-0-0", "data": {"id": str(uuid.UUID(int=rng.getrandbits(128)))}},
        {"schema": f"iglu:{SP}/client_session/jsonschema/1-0-2", "data": {
            "userId": str(uuid.UUID(int=rng.getrandbits(128))), "sessionId": str(uuid.UUID(int=rng.getrandbits(128))),
            "sessionIndex": rng.randint(1, 50), "eventIndex": rng.randint(1, 500), "storageMechanism": "COOKIE_1",
            "previousSessionId": None, "firstEventId": str(uuid.UUID(int=rng.getrandbits(128))),
            "firstEventTimestamp": now}},
        {"schema": f"iglu:{SP}/browser_context/jsonschema/2-0-0", "data": {
            "viewport": "1280x720", "documentSize": "1280x3000", "resolution": "1920x1080", "colorDepth": 24,
            "devicePixelRatio": 2, "cookiesEnabled": True, "online": True, "browserLanguage": "en-GB",
            "documentLanguage": "en", "webdriver": False, "hardwareConcurrency": 8,
            "tabId": str(uuid.UUID(int=rng.getrandbits(128)))}},
    ]
    return [{"schema": f"iglu:{SP}/unstruct_event/jsonschema/1-0-0", "data": link}, link,
            {"schema": f"iglu:{SP}/contexts/jsonschema/1-0-1", "data": entities}, *entities]


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


async def throughput(client: IgluClient, events: list[list[dict]], baseline: dict) -> None:
    for sdjs in events[:10]:  # warm the cache; the compiled path is built after a few uses
        for sdj in sdjs:
            assert (await client.check(sdj)).ok
    checks = sum(len(e) for e in events)

    started = time.perf_counter()
    for sdjs in events:
        for sdj in sdjs:
            if not (await client.check(sdj)).ok:
                raise SystemExit(f"unexpected failure on {sdj}")
    ours = time.perf_counter() - started

    started = time.perf_counter()
    for sdjs in events:
        for sdj in sdjs:
            if client.check_sync(sdj) is None:
                raise SystemExit("cold cache in check_sync")
    ours_sync = time.perf_counter() - started

    started = time.perf_counter()
    for sdjs in events:
        for sdj in sdjs:
            if not baseline[sdj["schema"]].is_valid(sdj["data"]):
                raise SystemExit(f"baseline rejects {sdj}")
    base = time.perf_counter() - started

    n = len(events)
    print(f"events (1 unstruct + 3 contexts, {checks // n} checks each): {n}")
    print(f"  IgluClient.check (warm):        {rate(n, ours)} events, {rate(checks, ours)} checks")
    print(f"  IgluClient.check_sync (warm):   {rate(n, ours_sync)} events")
    print(f"  baseline jsonschema Draft4Validator.is_valid: {rate(n, base)} events")
    print(f"  ratio check/baseline: {base / ours:.2f}x   check_sync/baseline: {base / ours_sync:.2f}x")

    bad = [{**sdj, "data": {**sdj["data"], "targetUrl": 5}} for sdj in [events[0][1]] * max(1, n // 10)]
    started = time.perf_counter()
    for sdj in bad:
        assert not (await client.check(sdj)).ok
    print(f"  invalid link_click with error report: {rate(len(bad), time.perf_counter() - started)}")


async def cache_costs(mirror_client: IgluClient, http_client: IgluClient, rounds: int) -> None:
    key = SchemaKey.parse(f"iglu:{SP}/client_session/jsonschema/1-0-2")
    await mirror_client.resolver.lookup(key)
    started = time.perf_counter()
    for _ in range(rounds * 20):
        await mirror_client.resolver.lookup(key)
    hit = (time.perf_counter() - started) / (rounds * 20)

    def timed_misses(client):
        async def go():
            total = 0.0
            for _ in range(rounds):
                client.resolver._cache.clear()
                t = time.perf_counter()
                await client.resolver.lookup(key)
                total += time.perf_counter() - t
            return total / rounds
        return go()

    mirror_miss = await timed_misses(mirror_client)
    http_miss = await timed_misses(http_client)
    sdj = {"schema": key.uri, "data": {"userId": "u", "sessionId": str(uuid.uuid4()), "sessionIndex": 1,
                                       "storageMechanism": "COOKIE_1"}}
    total = 0.0
    for _ in range(rounds):
        mirror_client.resolver._cache.clear()
        t = time.perf_counter()
        await mirror_client.check(sdj)
        total += time.perf_counter() - t
    cold_check = total / rounds
    print("resolver cache:")
    print(f"  hit:                         {hit * 1e6:8.1f} us")
    print(f"  miss, mirror dir:            {mirror_miss * 1e6:8.1f} us  ({mirror_miss / hit:,.0f}x a hit)")
    print(f"  miss, static HTTP (loopback): {http_miss * 1e6:8.1f} us  ({http_miss / hit:,.0f}x a hit)")
    compile_cost = 0.0
    schema = await mirror_client.resolver.lookup(key)
    for _ in range(rounds):
        t = time.perf_counter()
        CompiledSchema(schema, fast_after=0)
        compile_cost += time.perf_counter() - t
    print(f"  cold check (fetch + meta-schema check, jsonschema path): {cold_check * 1e3:6.1f} ms")
    print(f"  building the compiled path (once per schema, after {8} uses): {compile_cost / rounds * 1e3:6.1f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.iglu", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    n_events, rounds = (50, 3) if args.smoke else (5000, 30)
    central = iglu_central_path()
    if not (central / "schemas").is_dir():
        print(f"skipped: no Iglu Central copy at {central} (set MINI_TEST_IGLU_CENTRAL)")
        return 0
    rng = random.Random(7)
    events = [event(rng) for _ in range(n_events)]
    mirror_repo = {"name": "mirror", "priority": 0, "vendorPrefixes": [], "connection": {"embedded": {"path": str(central)}}}
    # As in Mini's processes: a generation file is stat'ed on every lookup (the local server's hot reload).
    tmp = tempfile.TemporaryDirectory()
    generation = Path(tmp.name) / "generation"
    generation.write_text("1\n")
    client = IgluClient.from_resolver_config(config(mirror_repo), generation_file=generation)
    baseline = {}
    for sdj in events[0]:
        schema = asyncio.run(client.lookup(sdj["schema"]))
        baseline[sdj["schema"]] = SnowplowDraft4(schema_body(schema), format_checker=FORMAT_CHECKER)

    registry = StaticRegistry(central)
    try:
        http_repo = {"name": "stand-in", "priority": 0, "vendorPrefixes": [], "connection": {"http": {"uri": registry.url}}}

        async def run():
            await throughput(client, events, baseline)
            await cache_costs(client, IgluClient.from_resolver_config(config(http_repo)), rounds)
        asyncio.run(run())
    finally:
        registry.close()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
