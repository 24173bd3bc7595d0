"""Search fixtures: ``osmem`` (the osmem-server test oracle) and ``search_node`` (our node as a process).

``osmem`` runs the Go binary bundled in the osmem-server wheel on a free loopback port;
``search_node`` runs ``python -m services.search`` in the test's data dir.  Both yield an object
with ``url``, ``port`` and ``client()`` (an opensearch-py client), and stop the process at teardown.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from mini_kernel.testing.processes import ServiceProcess, http_ok, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _client(port: int, timeout: float = 60):
    from opensearchpy import OpenSearch

    return OpenSearch(hosts=[{"host": "127.0.0.1", "port": port}], timeout=timeout)


class Osmem:
    """A running osmem-server process."""

    def __init__(self) -> None:
        import osmem_server

        self.binary = osmem_server.resolve_binary()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([self.binary, "--addr", f"127.0.0.1:{self.port}", "--no-stdin-watch"],
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: self._alive() and http_ok(self.url + "/"), timeout=60, what="osmem-server")
        except BaseException:
            self.stop()
            raise

    def _alive(self) -> bool:
        if self.proc.poll() is not None:
            self._log.seek(0)
            raise RuntimeError(f"osmem-server exited: {self._log.read()[-2000:]!r}")
        return True

    def client(self, timeout: float = 60):
        return _client(self.port, timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        self._log.close()


class SearchNode:
    """Our search node as a real process (``services.search``) in a data dir."""

    def __init__(self, home: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()):
        self.process = ServiceProcess("search", "services.search", home, env=env, args=list(args))

    def start(self) -> "SearchNode":
        self.process.start(timeout=90)
        return self

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, timeout: float = 60):
        return _client(self.port, timeout)

    def restart(self) -> "SearchNode":
        self.process.stop()
        return self.start()

    def kill9(self) -> None:
        self.process.kill9()

    def stop(self) -> None:
        self.process.stop()


@pytest.fixture(scope="session")
def osmem():
    """osmem-server (the differential oracle), one per test session."""
    server = Osmem()
    yield server
    server.stop()


@pytest.fixture
def search_node(mini_home):
    """Our search node running in this test's ``mini_home``."""
    node = SearchNode(mini_home).start()
    yield node
    node.stop()


# ---- corpora: Snowplow-shaped documents (snowplow-formats.md §5) and Mini's index bodies (mini-and-micro.md §4.6) ----
MINI_SETTINGS = {
    "analysis": {"analyzer": {"default": {"tokenizer": "keyword", "filter": ["oversized-fields"]}},
                 "filter": {"oversized-fields": {"type": "length", "max": 8191}}},
    "index": {"number_of_shards": 2, "number_of_replicas": 0},
}
GOOD_LONGS = ("br_viewheight", "br_viewwidth", "doc_height", "doc_width", "domain_sessionidx", "dvce_screenheight",
              "dvce_screenwidth", "page_urlport", "refr_urlport", "pp_xoffset_min", "pp_xoffset_max",
              "pp_yoffset_min", "pp_yoffset_max")
GOOD_BOOLEANS = ("br_cookies", "br_features_director", "br_features_flash", "br_features_gears", "br_features_java",
                 "br_features_pdf", "br_features_quicktime", "br_features_realplayer", "br_features_silverlight",
                 "br_features_windowsmedia", "dvce_ismobile")
GOOD_KEYWORDS = ("app_id", "br_colordepth", "br_family", "br_lang", "br_name", "br_renderengine", "br_type",
                 "br_version", "doc_charset", "domain_sessionid", "domain_userid", "dvce_type", "event", "event_id",
                 "mkt_campaign", "mkt_content", "mkt_medium", "mkt_source", "mkt_term", "name_tracker",
                 "network_userid", "os_family", "os_manufacturer", "os_name", "os_timezone", "page_referrer",
                 "page_title", "page_url", "page_urlfragment", "page_urlhost", "page_urlpath", "page_urlquery",
                 "page_urlscheme", "platform", "refr_medium", "refr_source", "refr_term", "refr_urlfragment",
                 "refr_urlhost", "refr_urlpath", "refr_urlquery", "refr_urlscheme", "se_action", "se_category",
                 "se_label", "user_fingerprint", "user_id", "user_ipaddress", "useragent", "v_collector", "v_etl",
                 "v_tracker")


def mini_good_index(date_format: str = "date_optional_time") -> dict[str, Any]:
    """The body Snowplow Mini creates ``good`` with (its ``dateOptionalTime`` spelled as osmem accepts it)."""
    props: dict[str, Any] = {"geo_location": {"type": "geo_point"}}
    for name in ("collector_tstamp", "dvce_sent_tstamp", "etl_tstamp", "dvce_tstamp"):
        props[name] = {"type": "date", "format": date_format}
    props.update({n: {"type": "long"} for n in GOOD_LONGS})
    props.update({n: {"type": "boolean"} for n in GOOD_BOOLEANS})
    props.update({n: {"type": "keyword", "index": True} for n in GOOD_KEYWORDS})
    return {"settings": MINI_SETTINGS, "mappings": {"properties": props}}


def enriched_document(i: int, rng) -> dict[str, Any]:
    """A good-index document shaped like the loader's lossy JSON: all atomic fields (null when empty), contexts."""
    from services.common.enriched_event import FIELDS

    doc: dict[str, Any] = {name: None for name in FIELDS if name not in ("contexts", "unstruct_event", "derived_contexts")}
    day = 1 + i % 28
    ms = rng.randrange(1000)
    stamp = f"2024-05-{day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
    stamp_ms = f"{stamp}.{ms:03d}Z" if ms else f"{stamp}Z"
    event = rng.choice(["page_view", "page_view", "page_ping", "struct", "unstruct"])
    doc.update({
        "app_id": rng.choice(["shop", "blog", "docs", "app-ios", "app-android"]), "platform": rng.choice(["web", "mob"]),
        "etl_tstamp": stamp_ms, "collector_tstamp": stamp_ms, "dvce_created_tstamp": stamp_ms, "derived_tstamp": stamp_ms,
        "dvce_sent_tstamp": stamp_ms, "event": event, "event_id": f"{i:08x}-1111-4222-8333-{rng.randrange(16**12):012x}",
        "name_tracker": "sp", "v_tracker": rng.choice(["js-3.17.0", "py-1.0.0", "node-4.8.0"]),
        "v_collector": "mini-collector-0.1.0-nsq", "v_etl": "mini-enrich-0.1.0",
        "user_ipaddress": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        "domain_userid": f"u{rng.randrange(5000):05d}", "domain_sessionidx": rng.randrange(1, 40),
        "network_userid": f"n{rng.randrange(5000):05d}", "domain_sessionid": f"s{rng.randrange(20000):06d}",
        "page_url": f"https://example.com/p/{rng.randrange(300)}", "page_title": rng.choice(["Home", "Pricing", "Docs | Getting started", "Blog post"]),
        "page_urlscheme": "https", "page_urlhost": "example.com", "page_urlport": 443, "page_urlpath": f"/p/{rng.randrange(300)}",
        "refr_medium": rng.choice([None, "search", "social", "internal"]), "useragent": "Mozilla/5.0 (X11; Linux x86_64)",
        "br_name": "Chrome", "br_family": "Chrome", "br_version": "120", "br_type": "Browser", "br_lang": rng.choice(["en-GB", "de-DE", "fr-FR"]),
        "br_cookies": rng.choice([True, False]), "br_features_pdf": True, "br_colordepth": "24",
        "br_viewwidth": rng.randrange(320, 2560), "br_viewheight": rng.randrange(320, 1440),
        "os_name": "Linux", "os_family": "Linux", "os_timezone": "Europe/London", "dvce_type": "Computer",
        "dvce_ismobile": False, "dvce_screenwidth": 1920, "dvce_screenheight": 1080, "doc_charset": "UTF-8",
        "doc_width": 1900, "doc_height": rng.randrange(800, 6000),
        "geo_country": rng.choice(["GB", "DE", "FR", "US"]), "geo_latitude": 51.5 + rng.random(), "geo_longitude": -0.1 + rng.random(),
        "contexts_com_snowplowanalytics_snowplow_web_page_1": [{"id": f"{rng.randrange(16**8):08x}-aaaa-4bbb-8ccc-dddddddddddd", "_schema_version": "1-0-0"}],
        "contexts_org_w3_performance_timing_1": [{"navigationStart": 1700000000000 + i, "loadEventEnd": 1700000000000 + i + rng.randrange(5000), "_schema_version": "1-0-0"}],
        "contexts_com_acme_user_1": [{"name": rng.choice(["alice", "bob", "carol", "dave", "erin"]), "tier": rng.choice(["free", "pro"]), "_schema_version": "1-0-0"},
                                     {"name": rng.choice(["alice", "bob"]), "tier": "team", "_schema_version": "1-0-1"}],
    })
    doc["geo_location"] = f"{doc['geo_latitude']},{doc['geo_longitude']}"
    if event == "page_ping":
        doc.update(pp_xoffset_min=0, pp_xoffset_max=rng.randrange(100), pp_yoffset_min=0, pp_yoffset_max=rng.randrange(4000))
    if event == "struct":
        doc.update(se_category=rng.choice(["video", "form"]), se_action=rng.choice(["play", "submit"]),
                   se_label=rng.choice([None, "hero"]), se_value=rng.choice([None, 1.5, 10.0]))
    if event == "unstruct":
        doc["unstruct_event_com_snowplowanalytics_snowplow_link_click_1"] = {
            "targetUrl": f"https://other.example/{rng.randrange(50)}", "elementClasses": ["btn", rng.choice(["primary", "link"])]}
    return doc


def bad_document(i: int, rng) -> dict[str, Any]:
    """A bad-index document after the loader's ``_str``/``_list`` rewrite (snowplow-formats.md §5.2)."""
    ts = f"2024-05-{1 + i % 28:02d}T{rng.randrange(24):02d}:00:00.{rng.randrange(1, 1000):03d}Z"
    kind = i % 3
    if kind == 0:
        return {"schema": "iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-0",
                "data": {"processor": {"artifact": "mini-enrich", "version": "0.1.0"},
                         "failure": {"timestamp": ts, "messages": [
                             {"schemaKey": "iglu:com.acme/user/jsonschema/1-0-0",
                              "error": {"error": "ValidationError", "dataReports": [
                                  {"message": "$.name: integer found, string expected", "path": "$.name",
                                   "keyword": "type", "targets": ["integer", "string"]}]}}]},
                         "payload": {"enriched": {"app_id": "shop", "event_id": f"bad-{i}", "collector_tstamp": ts},
                                     "raw": {"vendor": "com.snowplowanalytics.snowplow", "version": "tp2",
                                             "parameters": '[{"name":"e","value":"pv"}]', "timestamp": ts}}}}
    if kind == 1:
        return {"schema": "iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0",
                "data": {"processor": {"artifact": "mini-collector", "version": "0.1.0"},
                         "failure": {"timestamp": ts, "maximumAllowedSizeBytes": 1000000, "actualSizeBytes": 1000000 + i,
                                     "expectation": "Bad row exceeds allowed max size"},
                         "payload_str": "x" * (20 + i % 50)}}
    return {"schema": "iglu:com.snowplowanalytics.snowplow.badrows/generic_error/jsonschema/1-0-0",
            "data": {"processor": {"artifact": "mini-sink", "version": "0.1.0"},
                     "failure": {"timestamp": ts, "errors_list": [f"Failed to write to Elasticsearch: mapper_parsing_exception: {i}"]},
                     "payload_str": f"payload {i}"}}
