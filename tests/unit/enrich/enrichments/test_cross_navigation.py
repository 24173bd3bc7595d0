import base64

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.cross_navigation import CrossNavigation

from .helpers import SPE, assert_valid, errors_of, failure, run, sdj

SCHEMA = f"iglu:{SPE}/cross_navigation_config/jsonschema/1-0-0"


def b64(text):
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_extended_sp_parameter():
    sp = ".".join(["4f39d3ba-0b3e-4d1e-9e9e-5a2b8cde3f01", "1665398554084", "be9520e7-16a5-4d4e-afa1-8e269f99a1cf",
                   b64("user@example.com"), "shop", "web", b64("checkout link")])
    out, _, _ = run(CrossNavigation, sdj(SCHEMA), EnrichedEvent(page_urlquery=f"a=1&_sp={sp}"))
    assert out[0]["data"] == {
        "domain_user_id": "4f39d3ba-0b3e-4d1e-9e9e-5a2b8cde3f01", "timestamp": "2022-10-10T10:42:34.084Z",
        "session_id": "be9520e7-16a5-4d4e-afa1-8e269f99a1cf", "user_id": "user@example.com", "source_id": "shop",
        "source_platform": "web", "reason": "checkout link"}
    assert_valid(out[0])


def test_short_sp_parameter():
    out, _, _ = run(CrossNavigation, sdj(SCHEMA), EnrichedEvent(page_urlquery="_sp=abc.1665398554084"))
    assert out[0]["data"]["domain_user_id"] == "abc" and out[0]["data"]["session_id"] is None
    assert_valid(out[0])


def test_no_sp_no_entity():
    assert run(CrossNavigation, sdj(SCHEMA), EnrichedEvent(page_urlquery="a=1"))[0] == []


def test_bad_timestamp_is_a_failure():
    assert failure(CrossNavigation, sdj(SCHEMA), EnrichedEvent(page_urlquery="_sp=abc.notanumber"))


def test_config_valid():
    assert errors_of(sdj(SCHEMA)) == []
