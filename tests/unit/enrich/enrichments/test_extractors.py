import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.cookie_extractor import CookieExtractor
from services.enrich.enrichments.http_header_extractor import HttpHeaderExtractor
from services.enrich.enrichments.registry import EnrichContext

from .helpers import SP, SPE, assert_valid, errors_of, parse_errors, raw, run, sdj

COOKIES = f"iglu:{SP}/cookie_extractor_config/jsonschema/1-0-0"
HEADERS = f"iglu:{SPE}/http_header_extractor_config/jsonschema/1-0-0"
REQUEST = ["Host: collector.example.com", "User-Agent: UA", "X-Forwarded-For: 203.0.113.7",
           "Cookie: sp=ecdff4d0-9175-40ac-a8bb-325c49733607; _ga=GA1.2.3; other=1", "Accept-Language: en-GB"]


def test_configured_cookies_extracted():
    out, _, _ = run(CookieExtractor, sdj(COOKIES, {"cookies": ["sp", "_ga", "absent"]}), EnrichedEvent(),
                    EnrichContext(raw=raw(headers=REQUEST)))
    assert out == [{"schema": "iglu:org.ietf/http_cookie/jsonschema/1-0-0",
                    "data": {"name": "sp", "value": "ecdff4d0-9175-40ac-a8bb-325c49733607"}},
                   {"schema": "iglu:org.ietf/http_cookie/jsonschema/1-0-0", "data": {"name": "_ga", "value": "GA1.2.3"}}]
    for entity in out:
        assert_valid(entity)


def test_headers_matching_pattern_extracted():
    out, _, _ = run(HttpHeaderExtractor, sdj(HEADERS, {"headersPattern": "X-Forwarded-For|Accept-Language"}),
                    EnrichedEvent(), EnrichContext(raw=raw(headers=REQUEST)))
    assert [e["data"] for e in out] == [{"name": "X-Forwarded-For", "value": "203.0.113.7"},
                                        {"name": "Accept-Language", "value": "en-GB"}]
    for entity in out:
        assert_valid(entity)


def test_pattern_all_headers():
    out, _, _ = run(HttpHeaderExtractor, sdj(HEADERS, {"headersPattern": ".*"}), EnrichedEvent(),
                    EnrichContext(raw=raw(headers=REQUEST)))
    assert len(out) == len(REQUEST)


@pytest.mark.parametrize("cls, schema, params", [
    (CookieExtractor, COOKIES, {}), (CookieExtractor, COOKIES, {"cookies": "sp"}),
    (HttpHeaderExtractor, HEADERS, {}), (HttpHeaderExtractor, HEADERS, {"headersPattern": 3})])
def test_invalid_configs(cls, schema, params):
    assert errors_of(sdj(schema, params))
    assert parse_errors(cls, sdj(schema, params))


def test_bad_regex_is_a_config_error():
    assert any("regular expression" in e for e in parse_errors(HttpHeaderExtractor, sdj(HEADERS, {"headersPattern": "(["})))
