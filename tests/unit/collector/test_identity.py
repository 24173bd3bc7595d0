"""Cookies, nuid, SP-Anonymous, do-not-track, cookie bounce, CORS and X-Forwarded-For (§1.2-1.6)."""

from __future__ import annotations

import email.utils
import re
import time
import uuid

from services import __version__
from services.collector.cookies import CookiePolicy, render_cookie_header
from services.collector.cors import allow_origin

from .helpers import CollectorTestCase

TP2 = "/com.snowplowanalytics.snowplow/tp2"
ZERO = "00000000-0000-0000-0000-000000000000"


def cookie_parts(value: str) -> list[str]:
    return [p.strip() for p in value.split(";")]


class DefaultCookie(CollectorTestCase):
    def test_new_visitor_gets_a_uuid_cookie_with_snowplow_defaults(self):
        response = self.req("/i?e=pv")
        parts = cookie_parts(response.headers["Set-Cookie"])
        name, _, nuid = parts[0].partition("=")
        assert name == "sp" and uuid.UUID(nuid).version == 4
        assert parts[1].startswith("Expires=")
        expires = email.utils.parsedate_to_datetime(parts[1][len("Expires="):]).timestamp()
        assert abs(expires - (time.time() + 365 * 86400)) < 120
        assert re.fullmatch(r"Expires=\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT", parts[1])
        assert parts[2:] == ["Path=/", "SameSite=None", "Secure", "HttpOnly"]
        assert self.only_payload().network_user_id == nuid

    def test_cookie_value_is_the_nuid_and_is_reissued(self):
        nuid = "c6ef3124-b53a-4b13-a233-0088f79dcbcb"
        response = self.req("/i?e=pv", Cookie=f"other=1; sp={nuid}")
        assert cookie_parts(response.headers["Set-Cookie"])[0] == f"sp={nuid}"
        payload = self.only_payload()
        assert payload.network_user_id == nuid
        assert "Cookie: other=1;sp=" + nuid in payload.headers

    def test_nuid_parameter_wins_over_the_cookie(self):
        response = self.req("/i?e=pv&nuid=11111111-2222-4333-8444-555555555555", Cookie="sp=c6ef3124-b53a-4b13-a233-0088f79dcbcb")
        assert cookie_parts(response.headers["Set-Cookie"])[0] == "sp=11111111-2222-4333-8444-555555555555"
        assert self.only_payload().network_user_id == "11111111-2222-4333-8444-555555555555"

    def test_sp_anonymous(self):
        response = self.req("/i?e=pv&nuid=abc", SP_Anonymous="*", X_Forwarded_For="203.0.113.9",
                            X_Real_Ip="203.0.113.9", Cookie="a=b", User_Agent="UA")
        assert "Set-Cookie" not in response.headers
        payload = self.only_payload()
        assert payload.network_user_id == ZERO
        assert payload.ip_address == "unknown"
        names = [h.split(":")[0].lower() for h in payload.headers]
        assert "x-forwarded-for" not in names and "x-real-ip" not in names and "cookie" not in names
        assert "User-Agent: UA" in payload.headers

    def test_sp_anonymous_expires_an_existing_cookie(self):
        response = self.req("/i?e=pv", SP_Anonymous="*", Cookie="sp=c6ef3124-b53a-4b13-a233-0088f79dcbcb")
        parts = cookie_parts(response.headers["Set-Cookie"])
        assert parts[0] == "sp="
        expires = email.utils.parsedate_to_datetime(parts[1][len("Expires="):]).timestamp()
        assert expires < time.time() - 300 * 86400

    def test_cors_on_every_tracking_response(self):
        for method, path, body in (("GET", "/i?e=pv", None), ("POST", TP2, "{}"), ("HEAD", "/i", None)):
            response = self.req(path, method, body, Origin="http://localhost:8000", Content_Type="application/json")
            assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"
            assert response.headers["Access-Control-Allow-Credentials"] == "true"
        response = self.req("/i")
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        response = self.req("/i", Origin="null")
        assert response.headers["Access-Control-Allow-Origin"] == "*"

    def test_x_forwarded_for_first_address(self):
        self.req("/i", X_Forwarded_For="203.0.113.7, 10.0.0.1")
        self.req("/i", X_Forwarded_For="2001:db8::1")
        self.req("/i", X_Forwarded_For="garbage")
        self.req("/i")
        ips = [p.ip_address for p in self.publisher.raw()]
        assert ips == ["203.0.113.7", "[2001:db8::1]", "127.0.0.1", "127.0.0.1"]

    def test_identity_strings(self):
        self.req("/i?e=pv", Host="collector.example.com:9090", User_Agent="UA/1", Referer="https://ref.example/")
        payload = self.only_payload()
        assert payload.collector == f"mini-collector-{__version__}-nsq"
        assert payload.hostname == "collector.example.com"
        assert payload.encoding == "UTF-8"
        assert payload.schema == "iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0"
        assert payload.user_agent == "UA/1" and payload.referer_uri == "https://ref.example/"
        assert abs(payload.timestamp - time.time() * 1000) < 60_000
        assert "Host: collector.example.com:9090" in payload.headers


class HeadersAsSent(CollectorTestCase):
    def test_names_case_and_order_are_kept(self):
        head = self.raw(b"GET /i?e=pv HTTP/1.1\r\nHost: c.example\r\nX-Real-IP: 198.51.100.1\r\nDNT: 1\r\n"
                        b"sec-ch-ua: \"Chromium\";v=\"126\"\r\nX-Dup: a\r\nAccept: */*\r\nX-Dup: b\r\n"
                        b"Cookie: a=b; sp=c6ef3124-b53a-4b13-a233-0088f79dcbcb\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert self.only_payload().headers == [
            "Host: c.example", "X-Real-IP: 198.51.100.1", "DNT: 1", 'sec-ch-ua: "Chromium";v="126"', "X-Dup: a",
            "Accept: */*", "X-Dup: b", "Cookie: a=b;sp=c6ef3124-b53a-4b13-a233-0088f79dcbcb",
        ]

    def test_post_headers_end_with_the_bare_content_type(self):
        body = b'{"schema":"s","data":[]}'
        self.raw(b"POST /com.snowplowanalytics.snowplow/tp2 HTTP/1.1\r\nHost: h\r\ncontent-type: Application/JSON; Charset=UTF-8\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        payload = self.only_payload()
        assert payload.headers == ["Host: h", "content-type: Application/JSON; Charset=UTF-8",
                                   f"Content-Length: {len(body)}", "application/json; charset=utf-8"]
        assert payload.content_type == "application/json; charset=utf-8"

    def test_anonymous_drops_identifying_headers_in_any_case(self):
        self.raw(b"GET /i HTTP/1.1\r\nHost: h\r\nsp-anonymous: *\r\nx-forwarded-for: 1.2.3.4\r\nX-REAL-IP: 1.2.3.4\r\ncookie: a=b\r\n\r\n")
        payload = self.only_payload()
        assert payload.headers == ["Host: h", "sp-anonymous: *"]
        assert payload.ip_address == "unknown"


class ConfiguredCookie(CollectorTestCase):
    overrides = {
        "collector.cookie.name": "sp2",
        "collector.cookie.domains": ["acme.com", "acme.org"],
        "collector.cookie.fallback_domain": "fallback.net",
        "collector.cookie.same_site": "Lax",
        "collector.cookie.secure": False,
        "collector.cookie.http_only": False,
        "collector.cookie.expiration_days": 30,
        "collector.cookie.client_cookie_name": "sp_client",
    }

    def test_domain_from_origin_and_other_options(self):
        response = self.req("/i?e=pv", Origin="https://www.acme.org")
        cookies = response.headers.get_list("Set-Cookie")
        assert len(cookies) == 2
        main, client = (cookie_parts(c) for c in cookies)
        assert main[0].startswith("sp2=") and client[0].startswith("sp_client=")
        assert main[0].split("=")[1] == client[0].split("=")[1]
        assert main[2:] == ["Domain=acme.org", "Path=/", "SameSite=Lax"]
        assert client[2:] == ["Domain=acme.org", "Path=/", "SameSite=Lax"]
        expires = email.utils.parsedate_to_datetime(main[1][len("Expires="):]).timestamp()
        assert abs(expires - (time.time() + 30 * 86400)) < 120

    def test_fallback_domain(self):
        response = self.req("/i?e=pv", Origin="https://other.example")
        assert "Domain=fallback.net" in cookie_parts(response.headers.get_list("Set-Cookie")[0])

    def test_request_cookie_name_follows_setting(self):
        self.req("/i", Cookie="sp2=c6ef3124-b53a-4b13-a233-0088f79dcbcb")
        assert self.only_payload().network_user_id == "c6ef3124-b53a-4b13-a233-0088f79dcbcb"


class CookieDisabled(CollectorTestCase):
    overrides = {"collector.cookie.enabled": False}

    def test_no_set_cookie(self):
        assert "Set-Cookie" not in self.req("/i").headers
        assert uuid.UUID(self.only_payload().network_user_id)


class DoNotTrack(CollectorTestCase):
    overrides = {
        "collector.do_not_track_cookie.enabled": True,
        "collector.do_not_track_cookie.name": "dnt",
        "collector.do_not_track_cookie.value": "yes|1",
    }

    def test_dnt_cookie_drops_the_request_but_answers_the_same(self):
        pixel = self.req("/i?e=pv", Cookie="dnt=yes", Origin="http://a.b")
        assert pixel.code == 200 and len(pixel.body) == 43 and "Set-Cookie" not in pixel.headers
        assert pixel.headers["Access-Control-Allow-Origin"] == "http://a.b"
        post = self.req(TP2, "POST", "{}", Cookie="dnt=1", Content_Type="application/json")
        assert post.body == b"ok"
        assert self.publisher.published == []
        counters = self._app.status()["counters"]
        assert counters["dnt_dropped"] == 2 and counters["requests_accepted"] == 2

    def test_value_must_match_fully(self):
        self.req("/i", Cookie="dnt=yesplease")
        self.req("/i", Cookie="other=yes")
        assert len(self.publisher.raw()) == 2


class CookieBounce(CollectorTestCase):
    overrides = {"collector.cookie_bounce.enabled": True}

    def test_bounce_then_fallback(self):
        first = self.req("/i?e=pv")
        assert first.code == 302
        assert first.headers["Location"].endswith("/i?e=pv&n3pc=true")
        assert "Set-Cookie" in first.headers
        assert self.publisher.published == []
        second = self.req("/i?e=pv&n3pc=true")
        assert second.code == 200
        assert self.only_payload().network_user_id == "00000000-0000-4000-A000-000000000000"
        counters = self._app.status()["counters"]
        assert counters["bounced"] == 1 and counters["payloads_sunk"] == 1 and counters["requests_accepted"] == 2

    def test_no_bounce_with_cookie_or_for_post(self):
        assert self.req("/i", Cookie="sp=c6ef3124-b53a-4b13-a233-0088f79dcbcb").code == 200
        assert self.req(TP2, "POST", "{}", Content_Type="application/json").code == 200
        assert len(self.publisher.raw()) == 2


def test_allow_origin_rendering():
    assert allow_origin("https://a.example:8443") == "https://a.example:8443"
    assert allow_origin("https://a.example https://b.example") == "https://a.example"
    assert allow_origin(None) == "*"
    assert allow_origin("null") == "*"
    assert allow_origin("http://[::1]:8000") == "http://[::1]:8000"


def test_domain_matching_rules():
    policy = CookiePolicy(domains=("acme.com",))
    assert policy.domain_for("https://acme.com") == "acme.com"
    assert policy.domain_for("https://shop.acme.com") == "acme.com"
    assert policy.domain_for("https://notacme.com") is None
    assert policy.domain_for("https://x.example https://a.acme.com") == "acme.com"
    assert CookiePolicy(domains=("acme.com",), fallback_domain="f.net").domain_for(None) == "f.net"


def test_cookie_header_rendering():
    assert render_cookie_header("a=b; sp=123") == "a=b;sp=123"
    assert render_cookie_header('a="quoted"; ok=1') == "ok=1"
    assert render_cookie_header("bad\\x=1") is None
