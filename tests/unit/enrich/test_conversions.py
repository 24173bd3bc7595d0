"""Value conversions, URL parsing and the loader's header scan, against snowplow-formats.md §2.1–§3.4."""

import pytest

from services.enrich.enrichments import conversions as cv
from services.enrich.enrichments.conversions import ConversionError
from services.enrich.enrichments.urls import cross_domain, parse_url
from services.enrich.loaders.thrift import api_of, extract_ip, parse_querystring


@pytest.mark.parametrize("raw, tsv", [("1e3", "1000"), ("1.50", "1.50"), ("-0", "0"), ("0.0000001", "1E-7"),
                                      ("12", "12"), ("+3.0", "3.0"), ("1.5e1", "15"), ("NULL", None), (".5", "0.5")])
def test_big_decimal(raw, tsv):
    assert cv.big_decimal(raw) == tsv


@pytest.mark.parametrize("raw", ["abc", "1,5", "Infinity", "NaN", "1_000", ""])
def test_big_decimal_rejects(raw):
    with pytest.raises(ConversionError, match="java.math.BigDecimal"):
        cv.big_decimal(raw)


def test_java_int_range_and_null():
    assert cv.java_int("2147483647") == "2147483647" and cv.java_int("-2147483648") == "-2147483648"
    assert cv.java_int("null") is None and cv.java_int("+7") == "7"
    for bad in ("2147483648", "1.0", "x", ""):
        with pytest.raises(ConversionError, match="Cannot be converted to java.lang.Integer"):
            cv.java_int(bad)


def test_timestamps():
    assert cv.format_ms(1665398555000) == "2022-10-10 10:42:35.000"
    assert cv.format_ms(0) == "1970-01-01 00:00:00.000" and cv.format_ms(-1) == "1969-12-31 23:59:59.999"
    assert cv.format_ms(253402300799999) == "9999-12-31 23:59:59.999"
    assert cv.format_ms(-62167219200000) == "0000-01-01 00:00:00.000"
    with pytest.raises(ConversionError, match="is not Redshift-compatible"):
        cv.format_ms(253402300800000)
    with pytest.raises(ConversionError, match="Not in the expected format: ms since epoch"):
        cv.timestamp_ms("2022-10-10")
    for ms in (1665398555123, 0, -62135596800001):
        assert cv.tstamp_ms(cv.format_ms(ms)) == ms


def test_small_converters():
    assert cv.uuid("2EC13853-EF9E-414A-8976-E64A4693B134") == "2ec13853-ef9e-414a-8976-e64a4693b134"
    with pytest.raises(ConversionError, match="Not a valid UUID"):
        cv.uuid("2ec13853-ef9e-414a-8976-e64a4693b13")
    assert cv.size("1920x1080") == ("1920", "1080")
    for bad in ("1920X1080", "1920x", "x", "99999999999x1"):
        with pytest.raises(ConversionError, match=r"Does not conform to regex"):
            cv.size(bad)
    assert cv.byte_bool("1") == "1" and cv.byte_bool("0") == "0"
    with pytest.raises(ConversionError, match="Boolean-like"):
        cv.byte_bool("true")
    assert cv.first_ip("192.0.2.1, 10.0.0.1") == "192.0.2.1" and cv.first_ip("a|b") == "a"
    assert cv.safe("a\tb\r\nc\x00") == "a    bc" and cv.safe("\n") is None and cv.safe("é ✓") == "é ✓"
    assert cv.event_type("ev") == "struct" and cv.event_type("ad") == "ad_impression"


def test_url_components():
    parts = parse_url("https://www.example.com/a?b=c#d")
    assert parts == ("https://www.example.com/a?b=c#d", "https", "www.example.com", "443", "/a", "b=c", "d")
    assert parse_url("http://example.com").port == "80" and parse_url("http://example.com").path is None
    assert parse_url("http://example.com:8080/x y").url == "http://example.com:8080/x%20y"
    assert parse_url("http://example.com/a|b").path == "/a%7Cb"
    assert parse_url("http://user:pw@Host.Example:81/").host == "Host.Example"
    assert parse_url("http://example.com/p?q=%20ok").query == "q=%20ok"
    assert cross_domain("x=1&_sp=abc.1665398554084.sid") == ("abc", "2022-10-10 10:42:34.084")
    assert cross_domain("x=1") == (None, None)


def test_loader_helpers():
    assert parse_querystring("e=pv&a=&b&c=x+y%20z;d=%E2%9C%93") == [
        ("e", "pv"), ("a", ""), ("b", None), ("c", "x y z"), ("d", "✓")]
    assert parse_querystring("p=%FF") == [("p", "\ufffd")]
    assert extract_ip(["Host: h", "x-forwarded-for: 203.0.113.7, 10.0.0.1"], "10.0.0.9") == "203.0.113.7"
    assert extract_ip(["Forwarded: for=\"[2001:db8::1]\";proto=https"], "x") == "2001:db8::1"
    assert extract_ip(["Host: h"], "10.0.0.9") == "10.0.0.9"
    assert api_of("/com.snowplowanalytics.snowplow/tp2") == ("com.snowplowanalytics.snowplow", "tp2")
    assert api_of("/i") == api_of("/ice.png") == ("com.snowplowanalytics.snowplow", "tp1")
    assert api_of("/r/tp2") == ("r", "tp2") and api_of("/a/b/c") is None
