"""The loader against osmem-server (an in-memory OpenSearch stand-in): batching, rejections, retries."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import socket

import pytest
from opensearchpy import OpenSearch

from services.common.settings import load
from services.sink import mappings, retention
from services.sink.documents import Document, LoaderBadRow, bad_document, good_document
from services.sink.loader import BulkFailed, Loader
from services.sink.settings import SETTINGS

from .test_good_documents import EID, tsv

REJECTED = "Failed to write to Elasticsearch: mapper_parsing_exception"


def settings_for(url: str, **extra):
    values = {"opensearch.url": url, "sink.retry_backoff_ms": "10", "sink.retries": "3", **extra}
    return load(SETTINGS, args=values, env={})


def eid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-000000000000"


def run_loader(settings, to_document, bodies, index):
    """Feed ``bodies`` concurrently; returns (outcomes, bad rows published, counters)."""
    published: list[bytes] = []

    async def publish(row: bytes) -> None:
        published.append(row)

    async def main():
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            loader = Loader(settings, mappings.client(settings), index, to_document, publish, pool)
            loader.start()
            results = await asyncio.gather(*(loader.handle(b, 1) for b in bodies), return_exceptions=True)
            await loader.close()
            return results, dict(loader.counters)

    results, counters = asyncio.run(main())
    return results, published, counters


def test_good_documents_are_searchable_when_acknowledged(osmem_url):
    settings = settings_for(osmem_url)
    es = mappings.client(settings)
    assert mappings.ensure_index(es, "good", settings) is True
    bodies = [tsv(event_id=eid(n)) for n in range(60)] + [tsv(event_id=eid(0))]  # one redelivery
    results, published, counters = run_loader(settings, good_document, bodies, "good")
    assert results == [None] * 61 and published == []
    assert counters["received"] == counters["indexed"] == 61 and counters["rejected"] == 0
    assert 1 <= counters["batches"] < 61  # batched, not one request per document
    # refresh=wait_for: everything acknowledged is searchable, and the redelivery did not duplicate.
    assert es.count(index="good")["count"] == 60
    got = es.get(index="good", id=eid(5))["_source"]
    assert got["collector_tstamp"] == "2022-10-10T10:42:35Z" and got["page_urlport"] == 443


def test_rejected_document_becomes_a_generic_error(osmem_url):
    settings = settings_for(osmem_url)
    es = mappings.client(settings)
    mappings.ensure_index(es, "good", settings)
    ue = lambda data: json.dumps({  # noqa: E731
        "schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
        "data": {"schema": "iglu:com.acme/thing/jsonschema/1-0-0", "data": data}})
    first = tsv(event_id=eid(1), unstruct_event=ue({"a": 1}))
    results, _, _ = run_loader(settings, good_document, [first], "good")
    clash = tsv(event_id=eid(2), unstruct_event=ue({"a": {"b": 1}}))
    broken = b"not\ta\tgood\tline"
    results, published, counters = run_loader(settings, good_document, [clash, broken, tsv(event_id=eid(3))], "good")
    assert results == [None, None, None]
    assert counters == {**counters, "received": 3, "indexed": 1, "rejected": 2, "index_rejections": 1,
                        "parse_errors": 1}
    rows = [json.loads(r) for r in published]
    generic = next(r for r in rows if "generic_error" in r["schema"])
    assert generic["data"]["processor"]["artifact"] == "mini-sink"
    assert generic["data"]["failure"]["errors"][0].startswith(REJECTED)
    assert json.loads(generic["data"]["payload"])["event_id"] == eid(2)
    assert any("loader_parsing_error" in r["schema"] for r in rows)
    assert es.count(index="good")["count"] == 2


def test_bad_rows_index_with_deterministic_ids(osmem_url):
    settings = settings_for(osmem_url)
    es = mappings.client(settings)
    mappings.ensure_index(es, "bad", settings)
    row = json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0",
                      "data": {"processor": {"artifact": "mini-collector", "version": "0.1.0"},
                               "failure": {"timestamp": "2024-05-01T10:00:00.123Z", "maximumAllowedSizeBytes": 10,
                                           "actualSizeBytes": 20, "expectation": "too big"},
                               "payload": "xxxx"}}).encode()
    results, published, counters = run_loader(settings, bad_document, [row, row], "bad")
    assert results == [None, None] and counters["indexed"] == 2
    assert es.count(index="bad")["count"] == 1
    hit = es.search(index="bad", body={"query": {"term": {"data.failure.maximumAllowedSizeBytes": 10}}})
    assert hit["hits"]["hits"][0]["_source"]["data"]["payload_str"] == "xxxx"


def test_unreachable_cluster_hands_messages_back():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings_for(f"http://127.0.0.1:{port}", **{"opensearch.timeout_s": "2"})
    results, published, counters = run_loader(settings, good_document, [tsv()], "good")
    assert isinstance(results[0], BulkFailed) and published == []
    assert counters["received"] == 0 and counters["handed_back"] == 1 and counters["retries"] == 2


def test_retention_and_reset(osmem_url):
    settings = settings_for(osmem_url)
    es = mappings.client(settings)
    for kind in mappings.KINDS:
        mappings.ensure_index(es, kind, settings)
    old = tsv(event_id=eid(1), collector_tstamp="2020-01-01 00:00:00.000")
    new = good_document(tsv(event_id=eid(2)))
    import datetime as dt
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.000")
    run_loader(settings, good_document, [old, tsv(event_id=eid(2), collector_tstamp=now)], "good")
    assert isinstance(new, Document)
    assert es.count(index="good")["count"] == 2
    assert retention.sweep(es, settings) == {"good": 1, "bad": 0}
    assert [h["_id"] for h in es.search(index="good")["hits"]["hits"]] == [eid(2)]
    assert retention.sweep(es, settings, days=0) == {"good": 0, "bad": 0}  # 0 keeps everything
    # reset: empty, and the mapping is the shipped one again (the dynamic fields are gone)
    es.index(index="good", id="x", body={"extra_field": "v"}, refresh=True)
    assert retention.reset_indexes(es, settings) == {"good": "good", "bad": "bad"}
    assert es.count(index="good")["count"] == 0 and es.count(index="bad")["count"] == 0
    props = es.indices.get_mapping(index="good")["good"]["mappings"]["properties"]
    assert "extra_field" not in props and props["derived_tstamp"]["type"] == "date"
    limit = es.indices.get_settings(index="good")["good"]["settings"]["index"]["mapping"]["total_fields"]["limit"]
    assert int(limit) == 10_000


def test_mapping_files_type_every_timestamp():
    good = mappings.mapping_copy("good")
    for field in ("collector_tstamp", "etl_tstamp", "dvce_created_tstamp", "dvce_sent_tstamp", "derived_tstamp",
                  "true_tstamp", "refr_dvce_tstamp"):
        assert good[field] == {"type": "date", "format": "date_optional_time"}, field
    assert good["geo_location"] == {"type": "geo_point"}
    bad = mappings.mapping_copy("bad")
    failure = bad["data"]["properties"]["failure"]["properties"]
    assert failure["timestamp"]["type"] == "date" and failure["messages"]["type"] == "nested"
    assert bad["schema"] == {"type": "keyword"}
