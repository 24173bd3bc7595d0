"""The pure rules of the payload builder (snowplow-formats.md §1.2)."""

from __future__ import annotations

import tornado.httputil

from services.collector.payload import (
    ANONYMOUS_NUID,
    client_ip,
    content_type,
    hostname,
    network_user_id,
    parse_qsl,
    render_ip,
)
from services.collector.raw_headers import parse_raw_pairs


def headers(**values: str) -> tornado.httputil.HTTPHeaders:
    h = tornado.httputil.HTTPHeaders()
    for name, value in values.items():
        h.add(name.replace("_", "-"), value)
    return h


def test_content_type_is_rerendered_and_lowercased():
    assert content_type("application/json; charset=UTF-8") == ("application/json; charset=utf-8", "UTF-8")
    assert content_type("Application/JSON;charset=\"utf-8\"; boundary=x") == ("application/json; charset=utf-8", "utf-8")
    assert content_type("text/plain") == ("text/plain", None)
    assert content_type("garbage") == (None, None)
    assert content_type("") == (None, None)
    assert content_type(None) == (None, None)


def test_client_ip():
    assert client_ip(headers(X_Forwarded_For="203.0.113.1, 10.0.0.1"), "127.0.0.1", False) == "203.0.113.1"
    assert client_ip(headers(X_Forwarded_For="unknown"), "10.1.1.1", False) == "10.1.1.1"
    assert client_ip(headers(), "::1", False) == "[::1]"
    assert client_ip(headers(X_Forwarded_For="203.0.113.1"), "127.0.0.1", True) == "unknown"
    assert render_ip("[2001:db8::1]") == "[2001:db8::1]"


def test_hostname_is_the_host_part_of_host():
    assert hostname(headers(Host="c.example.com:9090")) == "c.example.com"
    assert hostname(headers(Host="c.example.com")) == "c.example.com"
    assert hostname(headers(Host="[::1]:9090")) == "[::1]"
    assert hostname(headers()) is None


def test_network_user_id_precedence():
    assert network_user_id(True, "nuid=abc", "cookie") == ANONYMOUS_NUID
    assert network_user_id(False, "e=pv&nuid=abc", "cookie") == "abc"
    assert network_user_id(False, "e=pv&xnuid=abc", "cookie") == "cookie"
    assert network_user_id(False, "e=pv", None) is None


def test_raw_header_lines():
    block = "Host: a\r\nX-Dup: 1\r\nX-Long: first\r\n  second\r\nX-Dup: 2\r\nbad line\r\n\r\n"
    assert parse_raw_pairs(block) == [("Host", "a"), ("X-Dup", "1"), ("X-Long", "first second"), ("X-Dup", "2")]


def test_query_parsing_keeps_blank_values():
    assert parse_qsl("a=&b=1", keep_blank_values=True) == [("a", ""), ("b", "1")]
