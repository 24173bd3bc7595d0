import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.ua_parser import UaParser

from .helpers import SP, assert_valid, errors_of, parse_errors, run, sdj

SCHEMA = f"iglu:{SP}/ua_parser_config/jsonschema/1-0-0"
CHROME_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.2 Mobile/15E148 Safari/604.1")


def test_chrome_on_mac_context():
    out, _, _ = run(UaParser, sdj(SCHEMA), EnrichedEvent(useragent=CHROME_MAC))
    assert out == [{"schema": "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0", "data": {
        "useragentFamily": "Chrome", "useragentMajor": "120", "useragentMinor": "0", "useragentPatch": "0",
        "useragentVersion": "Chrome 120.0.0", "osFamily": "Mac OS X", "osMajor": "10", "osMinor": "15",
        "osPatch": "7", "osPatchMinor": None, "osVersion": "Mac OS X 10.15.7", "deviceFamily": "Mac"}}]
    assert_valid(out[0])


def test_iphone_context_and_missing_parts():
    out, _, _ = run(UaParser, sdj(SCHEMA), EnrichedEvent(useragent=IPHONE))
    data = out[0]["data"]
    assert (data["useragentFamily"], data["useragentVersion"]) == ("Mobile Safari", "Mobile Safari 17.2")
    assert (data["osFamily"], data["osVersion"], data["deviceFamily"]) == ("iOS", "iOS 17.2", "iPhone")
    assert data["useragentPatch"] is None
    assert_valid(out[0])


def test_unknown_agent_is_other():
    out, _, _ = run(UaParser, sdj(SCHEMA), EnrichedEvent(useragent="zzz"))
    assert out[0]["data"]["useragentFamily"] == "Other" and out[0]["data"]["deviceFamily"] == "Other"
    assert_valid(out[0])


def test_no_useragent_no_context():
    assert run(UaParser, sdj(SCHEMA), EnrichedEvent())[0] == []


def test_custom_rules_file(tmp_path):
    (tmp_path / "regexes.yaml").write_text(
        "user_agent_parsers:\n  - regex: '(AcmeBrowser)/(\\d+)\\.(\\d+)'\n"
        "os_parsers:\n  - regex: '(AcmeOS)'\ndevice_parsers:\n  - regex: '(AcmePhone)'\n")
    config = sdj(f"iglu:{SP}/ua_parser_config/jsonschema/1-0-1", {"database": "regexes.yaml", "uri": f"file://{tmp_path}"})
    assert errors_of(config) == []
    out, _, _ = run(UaParser, config, EnrichedEvent(useragent="AcmeBrowser/3.4 (AcmeOS; AcmePhone)"))
    data = out[0]["data"]
    assert (data["useragentFamily"], data["useragentVersion"], data["osFamily"], data["deviceFamily"]) == (
        "AcmeBrowser", "AcmeBrowser 3.4", "AcmeOS", "AcmePhone")


@pytest.mark.parametrize("params", [{"database": "regexes.yaml", "uri": "file:///nonexistent"}, {"extra": 1},
                                    {"database": "regexes.yaml"}])
def test_invalid_configs(params):
    assert parse_errors(UaParser, sdj(f"iglu:{SP}/ua_parser_config/jsonschema/1-0-1", params))
