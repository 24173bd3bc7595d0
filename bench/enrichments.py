"""Enrichment cost: events/s per enrich process with Snowplow Mini's four defaults on, beside no
enrichments (ratio), and the extra cost of each optional enrichment on top of the defaults.

Corpus: GET page views with unique ids/URLs/timestamps, some with utm_* and search referrers, and 200
distinct user agents drawn from a Zipf distribution (a few browsers dominate, as on real sites).

    .venv/bin/python -m bench.enrichments [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import sqlite3
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from bench.enrich import COLLECTOR, IGLU_CENTRAL, custom_registry, iglu_client, in_process
from services.common.collector_payload import CollectorPayload, encode
from services.enrich.enrichments.store import DEFAULT_DIR, shipped_defaults

SP = "com.snowplowanalytics.snowplow"
SPE = "com.snowplowanalytics.snowplow.enrichments"
DEFAULTS = ("campaign_attribution", "event_fingerprint_config", "referer_parser", "ua_parser_config")
TARGET = 1500  # ev/s per process with the defaults on


def user_agents(n: int = 200, seed: int = 3) -> list[str]:
    """``n`` distinct, realistic user agents (browser × version × platform)."""
    rng = random.Random(seed)
    platforms = ["Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64",
                 "iPhone; CPU iPhone OS 17_2 like Mac OS X", "Linux; Android 14; Pixel 8"]
    out: set[str] = set()
    while len(out) < n:
        platform, version = rng.choice(platforms), rng.randrange(90, 140)
        kind = rng.randrange(4)
        if kind == 0:
            ua = f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.{rng.randrange(6000)}.0 Safari/537.36"
        elif kind == 1:
            ua = f"Mozilla/5.0 ({platform}; rv:{version}.0) Gecko/20100101 Firefox/{version}.0"
        elif kind == 2:
            ua = (f"Mozilla/5.0 ({platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{version % 20 + 1}.{rng.randrange(5)} "
                  "Mobile/15E148 Safari/604.1")
        else:
            ua = f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 Safari/537.36 Edg/{version}.0.{rng.randrange(3000)}.0"
        out.add(ua)
    return sorted(out)


def zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (rank ** s) for rank in range(1, n + 1)]


def corpus(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    agents = user_agents()
    rng.shuffle(agents)
    weights = zipf_weights(len(agents))
    ts = 1_700_000_000_000
    out = []
    for i in range(n):
        ua = rng.choices(agents, weights)[0]
        query = f"id={rng.randrange(10**6)}"
        if rng.random() < 0.3:
            query += "&utm_source=newsletter&utm_medium=email&utm_campaign=launch&gclid=" + uuid.uuid4().hex[:12]
        refr = rng.choice(["https://www.google.com/search?q=snowplow+mini", "https://www.facebook.com/",
                           "https://www.example.com/", "https://news.ycombinator.com/item?id=1", ""])
        params = {"e": "pv", "page": f"Page {i}", "tv": "js-4.6.8", "tna": "sp", "aid": "shop", "p": "web",
                  "eid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "uid": f"user-{rng.randrange(5000)}",
                  "url": f"https://www.example.com/products/{rng.randrange(500)}?{query}", "refr": refr,
                  "dtm": str(ts + i - 300), "stm": str(ts + i - 20), "duid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                  "vid": "3", "sid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "res": "1920x1080",
                  "vp": "1280x720", "cs": "UTF-8", "lang": "en-GB", "tz": "Europe/London", "cookie": "1"}
        headers = ["Host: collector.example.com", f"User-Agent: {ua}",
                   f"X-Forwarded-For: 81.2.69.{rng.randrange(256)}", "Cookie: sp=" + params["duid"],
                   "Accept-Language: en-GB"]
        out.append(encode(CollectorPayload(
            ip_address="10.0.0.1", timestamp=ts + i, encoding="UTF-8", collector=COLLECTOR, user_agent=ua,
            path="/i", querystring=urllib.parse.urlencode(params), headers=headers,
            hostname="collector.example.com", network_user_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))))
    return out


def shipped(name: str, **parameters: Any) -> dict:
    config = json.loads((DEFAULT_DIR / f"{name}.json").read_text())
    config["data"]["enabled"] = True
    if parameters:
        config["data"]["parameters"] = parameters
    return config


def optional_configs(tmp: Path) -> dict[str, dict]:
    """One enabled config per optional enrichment, with local data made for the run."""
    import mmdb_writer
    import netaddr

    writer = mmdb_writer.MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    writer.insert_network(netaddr.IPSet(["81.2.69.0/24"]), {
        "city": {"names": {"en": "London"}}, "country": {"iso_code": "GB"},
        "location": {"latitude": 51.5142, "longitude": -0.0931, "time_zone": "Europe/London"}})
    writer.to_db_file(str(tmp / "GeoLite2-City.mmdb"))
    db = sqlite3.connect(tmp / "crm.sqlite")
    db.executescript("BEGIN; CREATE TABLE users (id TEXT PRIMARY KEY, plan TEXT);" +
                     "".join(f"INSERT INTO users VALUES ('user-{i}', 'pro');" for i in range(0, 5000, 7)) + "COMMIT;")
    db.commit()
    db.close()
    (tmp / "rates.json").write_text(json.dumps({"base": "USD", "rates": {"EUR": 0.9}}))
    script = "function process(event, params) { event.setApp_id(event.getApp_id() + '-js'); return []; }"
    sqlite = shipped("sqlite_query_enrichment_config")
    sqlite["data"]["parameters"]["database"]["sqlite"]["uri"] = f"file://{tmp}"
    sqlite["data"]["parameters"]["output"]["json"]["schema"] = "iglu:com.acme/product/jsonschema/1-0-0"
    sqlite["data"]["parameters"]["query"]["sql"] = "SELECT 'SKU-' || id AS sku, 1 AS price FROM users WHERE id = ?"
    sqlite["data"]["parameters"]["output"]["json"]["propertyNames"] = "AS_IS"
    return {
        "anon_ip": shipped("anon_ip"),
        "ip_lookups": shipped("ip_lookups", geo={"database": "GeoLite2-City.mmdb", "uri": f"file://{tmp}"}),
        "cookie_extractor": shipped("cookie_extractor_config"),
        "http_header_extractor": shipped("http_header_extractor_config"),
        "iab (crawlerdetect)": shipped("iab_spiders_and_robots_enrichment"),
        "javascript": shipped("javascript_script_config", script=base64.b64encode(script.encode()).decode()),
        "sqlite_query (cached)": sqlite,
        "pii (emitEvent)": shipped("pii_enrichment_config"),
        "currency (offline)": shipped("currency_conversion_offline_config", baseCurrency="EUR",
                                      rateAt="EOD_PRIOR", ratesFile={"uri": f"file://{tmp}", "database": "rates.json"}),
        "cross_navigation": shipped("cross_navigation_config"),
    }


def prepared(records: list[bytes], iglu) -> list[tuple[str, Any]]:
    """(TSV after the always-on steps, EnrichContext) per event: the input the enrichment step sees."""
    from services.enrich.adapters.raw_event import RawEvent
    from services.enrich.enrichments.registry import EnrichContext, EnrichmentSet
    from services.enrich.pipeline import Pipeline
    from services.common.collector_payload import decode

    pipe = Pipeline(iglu, lambda: EnrichmentSet(), v_etl="mini-enrich-bench")

    async def go():
        out = []
        for record in records:
            payload = decode(record)
            [line] = (await pipe.process(record)).good
            raw = RawEvent("com.snowplowanalytics.snowplow", "tp1", dict(urllib.parse.parse_qsl(payload.querystring)),
                           headers=list(payload.headers or []), useragent=payload.user_agent)
            out.append((line.decode().rstrip("\n"), EnrichContext(raw=raw)))
        return out
    return asyncio.run(go())


def step_rate(events: list[tuple[str, Any]], configs: list[dict], home: Path, repeats: int) -> float:
    """Events/s of the configured enrichments' own work (parsing the TSV back is measured and removed)."""
    from services.common.enriched_event import EnrichedEvent
    from services.enrich.enrichments.registry import EnrichmentSet

    live, errors = EnrichmentSet.from_configs(configs, home=home)
    if errors:
        raise SystemExit(f"bench enrichment configs invalid: {errors}")

    async def go() -> float:
        start = time.process_time()
        for line, ctx in events:
            EnrichedEvent.from_tsv(line)
        parse_s = time.process_time() - start
        start = time.process_time()
        for line, ctx in events:
            event = EnrichedEvent.from_tsv(line)
            for entry in live.active:
                await entry.enrichment.enrich(event, ctx, entry.conf)
        return max(time.process_time() - start - parse_s, 1e-9)
    return len(events) / min(asyncio.run(go()) for _ in range(repeats))


def rate(records, iglu, configs, home: Path, repeats: int) -> tuple[float, float]:
    """(events/s of wall time, events/s of this process's CPU time), best of ``repeats`` runs.

    CPU time is what a busy shared machine distorts least; wall time is what a user waits."""
    wall = cpu = 0.0
    for _ in range(repeats):
        seconds, cpu_seconds, events = in_process(records, iglu, configs, home)
        wall, cpu = max(wall, events / seconds), max(cpu, events / cpu_seconds)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, finishes in seconds")
    args = parser.parse_args(argv)
    if not (IGLU_CENTRAL / "schemas").is_dir():
        print(f"skipped: no Iglu Central copy at {IGLU_CENTRAL} (set MINI_TEST_IGLU_CENTRAL)")
        return 0
    n = 60 if args.smoke else 4000
    with tempfile.TemporaryDirectory(prefix="bench-enrichments-") as tmp:
        tmp_path = Path(tmp)
        iglu = iglu_client(custom_registry(tmp_path / "registry"))
        records = corpus(n)
        defaults = shipped_defaults()
        assert sorted(c["data"]["name"] for c in defaults) == sorted(DEFAULTS)
        print(f"enrichments bench ({'smoke' if args.smoke else 'full'}): {n} GET page views, "
              f"200 user agents (Zipf), events/s in one process")
        repeats = 1 if args.smoke else 2
        none_wall, none_cpu = rate(records, iglu, [], tmp_path, repeats)
        wall, cpu = rate(records, iglu, defaults, tmp_path, repeats)
        print(f"  no enrichments:        {none_wall:7.0f} ev/s wall {none_cpu:7.0f} ev/s CPU")
        print(f"  the 4 defaults on:     {wall:7.0f} ev/s wall {cpu:7.0f} ev/s CPU   (none/defaults = "
              f"{none_cpu / cpu:.2f}x CPU; target >= {TARGET} ev/s: {'met' if cpu >= TARGET else 'NOT met'} by CPU)")
        events = prepared(records, iglu)
        step = step_rate(events, defaults, tmp_path, repeats + 1)
        print(f"  the enrichment step alone, 4 defaults: {step:7.0f} ev/s CPU ({1e6 / step:.0f} us/event)")
        print("  defaults + one optional enrichment (whole pipeline), and the optional one's own step:")
        for label, config in optional_configs(tmp_path).items():
            one_wall, one_cpu = rate(records, iglu, defaults + [config], tmp_path, repeats)
            alone = step_rate(events, [config], tmp_path, repeats + 1)
            print(f"    + {label:<24} {one_wall:7.0f} ev/s wall {one_cpu:7.0f} ev/s CPU   its step {1e6 / alone:6.0f} us/event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
