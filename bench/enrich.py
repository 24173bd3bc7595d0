"""Enrich throughput: events/s per process, in-process and through the broker.

Corpora: (a) GET page views, (b) POST batches of 10 events with 3 entities each (web_page,
client_session and a custom schema), unique ids/URLs/timestamps, warm schema cache.  Baseline in the
same run: Thrift decode + JSON parse of the same payloads, no validation.  Extend by adding entries
to ``ENRICHMENT_SETS`` (name -> list of enrichment configs); each set is measured in-process.

    .venv/bin/python -m bench.enrich [--smoke] [--no-broker]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable

from services.common.collector_payload import CollectorPayload, decode, encode
from services.enrich.enrichments.registry import EnrichmentSet
from services.enrich.pipeline import Pipeline
from services.iglu.client import IgluClient

REPO = Path(__file__).resolve().parents[1]
IGLU_CENTRAL = Path(os.environ.get("MINI_TEST_IGLU_CENTRAL") or REPO.parent / "shared" / "iglu-central")
SELF_DESC = "http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#"
COLLECTOR = "mini-collector-0.1.0-nsq"
PAGES = ["/", "/products", "/products/shoes", "/cart", "/checkout", "/blog/how-to-track", "/about", "/search"]
UAS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
       "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Version/17.1 Mobile Safari/604.1",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"]

# name -> enrichment configs measured in-process (the enrichments issue adds "defaults").
ENRICHMENT_SETS: dict[str, list[dict[str, Any]]] = {"none": []}


def custom_registry(root: Path) -> Path:
    schema = {"$schema": SELF_DESC, "self": {"vendor": "com.acme", "name": "product", "format": "jsonschema",
                                              "version": "1-0-0"},
              "type": "object", "additionalProperties": False, "required": ["sku", "price"],
              "properties": {"sku": {"type": "string", "maxLength": 32}, "price": {"type": "number", "minimum": 0},
                             "category": {"type": ["string", "null"], "enum": ["shoes", "hats", "bags", None]}}}
    path = root / "schemas" / "com.acme" / "product" / "jsonschema" / "1-0-0"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))
    return root


def iglu_client(extra: Path) -> IgluClient:
    repos = [{"name": name, "priority": i, "vendorPrefixes": [], "connection": {"embedded": {"path": str(p)}}}
             for i, (name, p) in enumerate((("Iglu Central copy", IGLU_CENTRAL), ("bench", extra)))]
    return IgluClient.from_resolver_config({"schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
                                            "data": {"cacheSize": 500, "cacheTtl": None, "repositories": repos}})


def _common(rng: random.Random, ts: int) -> dict[str, str]:
    return {"tv": "js-4.6.8", "tna": "sp", "aid": "shop", "p": "web", "eid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "url": f"https://www.example.com{rng.choice(PAGES)}?id={rng.randrange(10**6)}",
            "refr": "https://www.google.com/", "dtm": str(ts - rng.randrange(50, 500)), "stm": str(ts - 20),
            "duid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "vid": str(rng.randrange(1, 40)),
            "sid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "res": "1920x1080", "vp": "1280x720",
            "cd": "24", "cs": "UTF-8", "lang": "en-GB", "tz": "Europe/London", "cookie": "1"}


def _record(rng: random.Random, ts: int, *, querystring: str = "", body: str | None = None) -> bytes:
    ua = rng.choice(UAS)
    headers = [f"Host: collector.example.com", f"User-Agent: {ua}", f"X-Forwarded-For: 203.0.{rng.randrange(256)}.{rng.randrange(256)}"]
    if body is not None:
        headers.append("application/json; charset=utf-8")
    return encode(CollectorPayload(
        ip_address="10.0.0.1", timestamp=ts, encoding="UTF-8", collector=COLLECTOR, user_agent=ua,
        path="/com.snowplowanalytics.snowplow/tp2" if body is not None else "/i", querystring=querystring, body=body,
        headers=headers, content_type="application/json; charset=utf-8" if body is not None else None,
        hostname="collector.example.com", network_user_id=str(uuid.UUID(int=rng.getrandbits(128), version=4))))


def corpus_get(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    ts = 1_700_000_000_000
    out = []
    for i in range(n):
        params = {"e": "pv", "page": f"Page {i}", **_common(rng, ts + i)}
        out.append(_record(rng, ts + i, querystring=urllib.parse.urlencode(params)))
    return out


def corpus_post(n_payloads: int, seed: int = 2) -> list[bytes]:
    rng = random.Random(seed)
    ts = 1_700_000_000_000
    out = []
    for i in range(n_payloads):
        events = []
        for j in range(10):
            e = _common(rng, ts + i)
            entities = [
                {"schema": "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
                 "data": {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4))}},
                {"schema": "iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-1",
                 "data": {"userId": e["duid"], "sessionId": e["sid"], "sessionIndex": int(e["vid"]),
                          "previousSessionId": None, "storageMechanism": "COOKIE_1"}},
                {"schema": "iglu:com.acme/product/jsonschema/1-0-0",
                 "data": {"sku": f"SKU-{rng.randrange(10**6)}", "price": round(rng.uniform(1, 500), 2),
                          "category": rng.choice(["shoes", "hats", "bags"])}},
            ]
            e.update({"e": "pv", "page": f"Page {i}-{j}",
                      "co": json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0",
                                        "data": entities})})
            events.append(e)
        body = json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
                           "data": events})
        out.append(_record(rng, ts + i, body=body))
    return out


def baseline(records: list[bytes]) -> int:
    """Thrift decode + JSON parse (body, entities) without validation; returns events seen."""
    events = 0
    for record in records:
        payload = decode(record)
        if payload.body:
            for e in json.loads(payload.body)["data"]:
                json.loads(e["co"])
                events += 1
        else:
            urllib.parse.parse_qsl(payload.querystring)
            events += 1
    return events


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn()
    return time.perf_counter() - start, n


def in_process(records: list[bytes], iglu: IgluClient, configs: list[dict[str, Any]],
               home: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, good events) of the pipeline over ``records``, cache warm."""
    live, errors = EnrichmentSet.from_configs(configs, home=home)
    if errors:
        raise SystemExit(f"bench enrichment configs invalid: {errors}")
    pipe = Pipeline(iglu, lambda: live, v_etl="mini-enrich-bench")

    async def go() -> int:
        for record in records[:3]:  # warm the schema cache
            await pipe.process(record)
        start, cpu_start = time.perf_counter(), time.process_time()
        good = bad = 0
        for record in records:
            outcome = await pipe.process(record)
            good += len(outcome.good)
            bad += len(outcome.bad)
        if bad:
            raise SystemExit(f"bench corpus produced {bad} bad rows: {outcome.bad[:1]}")
        return good, time.perf_counter() - start, time.process_time() - cpu_start

    good, seconds, cpu = asyncio.run(go())
    return seconds, cpu, good


def _http(url: str, data: bytes | None = None) -> bytes:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{url}: {exc.code} {exc.read()[:200]!r}") from None


def _topic_count(http: str, topic: str) -> int:
    stats = json.loads(_http(f"http://{http}/stats?format=json"))
    stats = stats.get("data", stats)
    return sum(t["message_count"] for t in stats.get("topics", []) if t["topic_name"] == topic)


def through_broker(records: list[bytes], expected_events: int, home: Path,
                   extra_registry: Path) -> tuple[float, float, int]:
    """(wall seconds, enrich's CPU seconds, events) from publishing to the last EnrichedEvents message."""
    import psutil

    from mini_kernel.testing.processes import ServiceProcess, wait_for

    broker = ServiceProcess("broker", "services.broker", home, env={"MINI_DURABILITY_FSYNC": "false"}).start()
    try:
        tcp, http = f"127.0.0.1:{broker.info()['port']}", f"127.0.0.1:{broker.info()['http_port']}"
        for topic in ("RawEvents", "EnrichedEvents", "BadEvents", "PiiEvents"):
            _http(f"http://{http}/topic/create?topic={topic}", b"")
        _http(f"http://{http}/channel/create?topic=RawEvents&channel=enrich", b"")
        resolver = home / "resolver.json"
        resolver.write_text(json.dumps({"schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
                                        "data": {"cacheSize": 500, "cacheTtl": None, "repositories": [
                                            {"name": "bench", "priority": 5, "vendorPrefixes": [],
                                             "connection": {"embedded": {"path": str(extra_registry)}}}]}}))
        _disable_default_enrichments(home / "enrichments")
        env = {"MINI_NSQD_TCP_ADDRESS": tcp, "MINI_NSQD_HTTP_ADDRESS": http, "MINI_IGLU_RESOLVER_CONFIG": str(resolver),
               "MINI_IGLU_MIRROR_DIRS": str(IGLU_CENTRAL), "MINI_LOG_LEVEL": "WARNING"}
        enrich = ServiceProcess("enrich", "services.enrich", home, env=env).start()
        try:
            warm = records[:3]
            _mpub(http, warm)
            wait_for(lambda: _topic_count(http, "EnrichedEvents") >= _events_in(warm), timeout=120, what="warm-up")
            before = _topic_count(http, "EnrichedEvents")
            proc = psutil.Process(enrich.proc.pid)
            cpu_before = sum(proc.cpu_times()[:2])
            start = time.perf_counter()
            _mpub(http, records)
            wait_for(lambda: _topic_count(http, "EnrichedEvents") >= before + expected_events, timeout=600,
                     interval=0.02, what="enriched events")
            return time.perf_counter() - start, sum(proc.cpu_times()[:2]) - cpu_before, expected_events
        finally:
            enrich.stop()
    finally:
        broker.stop()


def _disable_default_enrichments(directory: Path) -> None:
    """The broker run measures enrich itself ("none"): switch off the shipped defaults."""
    from services.enrich.enrichments.store import DEFAULT_DIR

    directory.mkdir(parents=True, exist_ok=True)
    for path in Path(DEFAULT_DIR).glob("*.json"):
        config = json.loads(path.read_text(encoding="utf-8"))
        if config.get("data", {}).get("enabled"):
            config["data"]["enabled"] = False
            (directory / path.name).write_text(json.dumps(config), encoding="utf-8")


def _events_in(records: list[bytes]) -> int:
    n = 0
    for r in records:
        body = decode(r).body
        n += len(json.loads(body)["data"]) if body else 1
    return n


def _mpub(http: str, records: list[bytes], chunk: int = 200) -> None:
    for i in range(0, len(records), chunk):
        part = records[i:i + chunk]
        body = struct.pack(">i", len(part)) + b"".join(struct.pack(">i", len(r)) + r for r in part)
        _http(f"http://{http}/mpub?topic=RawEvents&binary=true", body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, finishes in seconds")
    parser.add_argument("--no-broker", action="store_true", help="skip the through-the-broker runs")
    args = parser.parse_args(argv)
    if not (IGLU_CENTRAL / "schemas").is_dir():
        print(f"skipped: no Iglu Central copy at {IGLU_CENTRAL} (set MINI_TEST_IGLU_CENTRAL)")
        return 0
    n_get, n_post = (50, 5) if args.smoke else (3000, 300)
    with tempfile.TemporaryDirectory(prefix="bench-enrich-") as tmp:
        tmp_path = Path(tmp)
        registry = custom_registry(tmp_path / "registry")
        iglu = iglu_client(registry)
        corpora = {"(a) GET page views": corpus_get(n_get), "(b) POST 10 events x 3 entities": corpus_post(n_post)}
        print(f"enrich bench ({'smoke' if args.smoke else 'full'}): events/s per process; 'CPU' divides by the "
              "process's CPU time, which a busy shared machine distorts less than wall time")
        for label, records in corpora.items():
            cpu_start = time.process_time()
            base_s, base_n = timed(lambda: baseline(records))
            base_cpu = time.process_time() - cpu_start
            base_rate = base_n / base_cpu
            print(f"{label}: {len(records)} payloads, {base_n} events")
            print(f"  baseline (thrift decode + JSON parse):   {base_n / base_s:8.0f} ev/s wall {base_rate:8.0f} ev/s CPU")
            for name, configs in ENRICHMENT_SETS.items():
                seconds, cpu, n = in_process(records, iglu, configs, tmp_path)
                print(f"  in-process, enrichments={name:<14} {n / seconds:8.0f} ev/s wall {n / cpu:8.0f} ev/s CPU"
                      f"  (baseline/enrich = {base_rate / (n / cpu):.1f}x)")
            if not args.no_broker:
                home = tmp_path / f"home-{len(records)}"
                home.mkdir()
                seconds, cpu, n = through_broker(records, base_n, home, registry)
                print(f"  through the broker, enrichments=none    {n / seconds:8.0f} ev/s wall {n / cpu:8.0f} ev/s "
                      "of enrich CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
