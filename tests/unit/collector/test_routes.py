"""Routes and answers of the public origin (snowplow-formats.md §1.1-1.5), against ``make_app``."""

from __future__ import annotations

import base64
import json
import re

from services.collector.tracking import PIXEL

from .helpers import CollectorTestCase

PIXEL_HEX = "47494638396101000100f00000ffffff00000021f90405000000002c00000000010001000002024401003b"
TP2 = "/com.snowplowanalytics.snowplow/tp2"
BODY = '{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"web","tv":"js-4.0.0"}]}'


class TrackingRoutes(CollectorTestCase):
    def test_get_i_answers_the_pixel_and_sinks(self):
        response = self.req("/i?e=pv&url=http%3A%2F%2Fa.b%2F")
        assert response.code == 200
        assert response.body.hex() == PIXEL_HEX and len(response.body) == 43
        assert response.headers["Content-Type"] == "image/gif"
        assert response.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
        payload = self.only_payload()
        assert payload.path == "/i"
        assert payload.querystring == "e=pv&url=http%3A%2F%2Fa.b%2F"
        assert payload.body is None and payload.content_type is None

    def test_ice_png_and_head(self):
        assert self.req("/ice.png?e=pv").code == 200
        head = self.req("/i?e=pv", method="HEAD")
        assert head.code == 200 and head.headers["Content-Type"] == "image/gif"
        paths = [p.path for p in self.publisher.raw()]
        assert paths == ["/ice.png", "/i"]  # HEAD is sunk too

    def test_post_tp2_answers_ok(self):
        response = self.req(TP2, "POST", BODY, Content_Type="application/json; charset=UTF-8")
        assert response.code == 200 and response.body == b"ok"
        assert response.headers["Content-Type"].startswith("text/plain")
        assert "Cache-Control" not in response.headers
        payload = self.only_payload()
        assert payload.path == TP2
        assert payload.body == BODY
        assert payload.content_type == "application/json; charset=utf-8"
        assert payload.headers[-1] == "application/json; charset=utf-8"
        assert payload.querystring == ""

    def test_any_two_segment_path_is_sunk(self):
        for path in ("/foo/bar", "/com.snowplowanalytics.iglu/v1?schema=iglu%3Acom.acme%2Fe%2Fjsonschema%2F1-0-0&a=1",
                     "/com.snowplowanalytics.snowplow/i"):
            assert self.req(path).code == 200
        assert [p.path for p in self.publisher.raw()] == ["/foo/bar", "/com.snowplowanalytics.iglu/v1",
                                                          "/com.snowplowanalytics.snowplow/i"]

    def test_get_of_two_segment_path_answers_pixel(self):
        response = self.req("/com.acme/v1?a=b")
        assert response.body.hex() == PIXEL_HEX

    def test_other_paths_are_404_and_not_sunk(self):
        for method, path in (("GET", "/foo"), ("GET", "/a/b/c"), ("POST", "/i"), ("GET", "/"), ("GET", "/crossdomain.xml"),
                             ("POST", "/"), ("GET", "//x")):
            response = self.req(path, method, b"" if method == "POST" else None)
            assert response.code == 404, (method, path)
        assert self.publisher.published == []

    def test_404_uses_the_shared_error_shape(self):
        body = json.loads(self.req("/a/b/c").body)
        assert body["status"] == 404 and "error" in body

    def test_health_robots_and_sink_health(self):
        health = self.req("/health")
        assert (health.code, health.body) == (200, b"ok")
        robots = self.req("/robots.txt")
        assert robots.body == (b"User-agent: *\nDisallow: /\n\nUser-agent: Googlebot\nDisallow: /\n\n"
                               b"User-agent: AdsBot-Google\nDisallow: /")
        assert self.req("/sink-health").code == 200
        self.publisher.up = False
        assert self.req("/sink-health").code == 503
        assert self.publisher.published == []

    def test_redirects_disabled_by_default(self):
        for method in ("GET", "OPTIONS", "POST"):
            response = self.req("/r/tp2?u=http%3A%2F%2Fexample.com", method, b"" if method == "POST" else None)
            assert (response.code, response.body) == (404, b"redirects disabled"), method
        assert self.publisher.published == []

    def test_options_is_a_preflight_on_any_path(self):
        for path in ("/com.snowplowanalytics.snowplow/tp2", "/i", "/anything", "/health", "/a/b/c"):
            response = self.req(path, "OPTIONS", Origin="https://shop.example")
            assert response.code == 200 and response.body == b""
            assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
            assert response.headers["Access-Control-Allow-Credentials"] == "true"
            assert response.headers["Access-Control-Allow-Headers"] == "Content-Type, SP-Anonymous"
            assert response.headers["Access-Control-Max-Age"] == "3600"
            assert "Access-Control-Allow-Methods" not in response.headers
        assert self.publisher.published == []

    def test_status_counts_the_ledger(self):
        self.req("/i?e=pv")
        self.req(TP2, "POST", BODY, Content_Type="application/json")
        self.req("/nope")
        status = json.loads(self.req("/status").body)
        counters = status["counters"]
        assert counters["requests_accepted"] == 2 == counters["payloads_sunk"] + counters["dnt_dropped"] + counters["bounced"]
        assert counters["payloads_published"] == 2
        assert counters["spool_depth"] == 0
        assert status["requests"]["pixel"] == {"200": 1}
        assert status["requests"]["track"] == {"200": 1}
        assert status["requests"]["not_found"] == {"404": 1}


class RedirectEnabled(CollectorTestCase):
    overrides = {"collector.enable_default_redirect": True, "collector.redirect_domains": ["example.com"]}

    def test_redirect_sinks_then_302(self):
        response = self.req("/r/tp2?e=pv&u=https%3A%2F%2Fexample.com%2Flanding%3Fa%3D1", Origin="https://a.example")
        assert response.code == 302
        assert response.headers["Location"] == "https://example.com/landing?a=1"
        assert response.headers["Access-Control-Allow-Origin"] == "https://a.example"
        assert "Set-Cookie" in response.headers
        assert self.only_payload().path == "/r/tp2"

    def test_redirect_to_an_unlisted_domain_is_400_but_sunk(self):
        response = self.req("/r/tp2?u=https%3A%2F%2Fevil.example%2F")
        assert response.code == 400 and response.body == b""
        assert self.only_payload().path == "/r/tp2"

    def test_redirect_without_u_is_400(self):
        assert self.req("/r/tp2?e=pv").code == 400


class CustomPaths(CollectorTestCase):
    overrides = {"collector.paths": ["/com.acme/track=/com.snowplowanalytics.snowplow/tp2",
                                     "/com.acme/go=/r/tp2", "/com.acme/iglu=/com.snowplowanalytics.iglu/v1"]}

    def test_custom_path_is_stored_as_its_target(self):
        assert self.req("/com.acme/track", "POST", BODY, Content_Type="application/json").body == b"ok"
        assert self.req("/com.acme/iglu?schema=x").code == 200
        assert [p.path for p in self.publisher.raw()] == [TP2, "/com.snowplowanalytics.iglu/v1"]

    def test_custom_path_to_redirect_works_with_redirects_disabled(self):
        response = self.req("/com.acme/go?u=https%3A%2F%2Fexample.com%2F")
        assert response.code == 302 and response.headers["Location"] == "https://example.com/"
        assert self.only_payload().path == "/r/tp2"


class RootAndCrossDomain(CollectorTestCase):
    overrides = {
        "collector.root_response.enabled": True,
        "collector.root_response.status_code": 302,
        "collector.root_response.headers": ["Location: https://docs.example/"],
        "collector.cross_domain.enabled": True,
        "collector.cross_domain.domains": ["*.acme.com", "acme.org"],
        "collector.cross_domain.secure": False,
    }

    def test_root_response(self):
        response = self.req("/")
        assert response.code == 302 and response.headers["Location"] == "https://docs.example/"
        assert self.publisher.published == []

    def test_crossdomain(self):
        response = self.req("/crossdomain.xml")
        assert response.code == 200 and response.headers["Content-Type"].startswith("text/xml")
        text = response.body.decode()
        assert '<allow-access-from domain="*.acme.com" secure="false" />' in text
        assert '<allow-access-from domain="acme.org" secure="false" />' in text
        assert text.startswith('<?xml version="1.0"?>\n<cross-domain-policy>')


class ReservedPrefixes(CollectorTestCase):
    def test_unmounted_reserved_prefixes_are_json_404_and_never_sunk(self):
        for prefix in ("/micro", "/iglu-server", "/control-plane", "/elasticsearch", "/dashboard", "/home", "/kibana"):
            for path in (prefix, prefix + "/", prefix + "/all", prefix + "/api/schemas"):
                for method in ("GET", "POST", "OPTIONS"):
                    response = self.req(path, method, b"{}" if method == "POST" else None)
                    assert response.code == 404, (method, path)
                    body = json.loads(response.body)
                    assert body == {"error": f"nothing is mounted at {prefix}", "status": 404}
        assert self.publisher.published == []

    def test_prefix_lookalikes_are_tracker_paths(self):
        # /microsite/v1 is not under /micro: it is an ordinary two-segment tracker path.
        assert self.req("/microsite/v1").code == 200
        assert self.only_payload().path == "/microsite/v1"


class HotPathProtocol(CollectorTestCase):
    """The tracker hot path (no RequestHandler) speaks HTTP like the rest of the origin."""

    def exchange(self, data: bytes) -> bytes:
        from tornado.tcpclient import TCPClient

        async def run() -> bytes:
            stream = await TCPClient().connect("127.0.0.1", self.get_http_port())
            await stream.write(data)
            return await stream.read_until_close()

        return self.io_loop.run_sync(run, timeout=20)

    def test_http_1_0_pipelining_and_head(self):
        answer = self.exchange(b"GET /i?e=pv&n=1 HTTP/1.0\r\n\r\n")  # HTTP/1.0: answered, then closed
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(PIXEL)
        answer = self.exchange(b"GET /i?e=pv&n=2 HTTP/1.1\r\nHost: h\r\n\r\n"
                               b"HEAD /i?e=pv&n=3 HTTP/1.1\r\nHost: h\r\n\r\n"
                               b"POST " + TP2.encode() + b" HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
                               b"Connection: close\r\n\r\n{}")
        heads = re.findall(rb"HTTP/1\.1 \d{3} [^\r]*\r\n(?:[^\r]+\r\n)*\r\n", answer)
        assert [h.split(b"\r\n")[0] for h in heads] == [b"HTTP/1.1 200 OK"] * 3
        assert b"Content-Length: 43" in heads[1] and answer.endswith(b"ok")
        assert b"Connection: close" in heads[2]
        assert [p.querystring for p in self.publisher.raw()] == ["e=pv&n=1", "e=pv&n=2", "e=pv&n=3", ""]

    def test_counted_by_route_and_status(self):
        self.req("/i?e=pv")
        self.req(TP2, "POST", BODY)
        self.req(TP2, "POST", b"x" * (2 * 1_048_576 + 1))
        requests = self._app.counters["requests"]
        assert requests["pixel"] == {"200": 1} and requests["track"] == {"200": 1, "413": 1}


def test_pixel_constant_matches_spec():
    from services.collector.routes import PIXEL

    assert PIXEL == base64.b64decode("R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==")
