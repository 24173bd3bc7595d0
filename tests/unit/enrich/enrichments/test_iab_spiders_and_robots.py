import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.iab_spiders_and_robots import IabSpidersAndRobots

from .helpers import SPE, assert_valid, errors_of, parse_errors, run, sdj

SCHEMA = f"iglu:{SPE}/iab_spiders_and_robots_enrichment/jsonschema/1-0-1"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"


def substitute(**extra):
    files = {"ipFile": "ip_exclude_current_cidr.txt", "excludeUseragentFile": "exclude_current.txt",
             "includeUseragentFile": "include_current.txt"}
    return {**{k: {"database": v, "uri": "package://crawlerdetect"} for k, v in files.items()}, **extra}


def classify(params, ua, ip="203.0.113.7"):
    out, _, _ = run(IabSpidersAndRobots, sdj(SCHEMA, params), EnrichedEvent(useragent=ua, user_ipaddress=ip))
    assert_valid(out[0])
    return out[0]["data"]


def test_browser_passes():
    assert classify(substitute(), CHROME) == {"spiderOrRobot": False, "category": "BROWSER",
                                              "reason": "PASSED_ALL", "primaryImpact": "NONE"}


def test_crawler_fails_ua_exclude():
    data = classify(substitute(), GOOGLEBOT)
    assert data["spiderOrRobot"] is True and data["reason"] == "FAILED_UA_EXCLUDE"


def test_configured_lists():
    assert classify(substitute(excludeUseragents=["chrome/120"]), CHROME)["reason"] == "FAILED_UA_EXCLUDE"
    assert classify(substitute(includeUseragents=["googlebot"]), GOOGLEBOT)["spiderOrRobot"] is False


def test_real_iab_style_files(tmp_path):
    (tmp_path / "ip_exclude_current_cidr.txt").write_text("198.51.100.0/24\n")
    (tmp_path / "exclude_current.txt").write_text("# comment\nacmebot|1|0|0\n")
    (tmp_path / "include_current.txt").write_text("mozilla|1|0\n")
    uri = f"file://{tmp_path}"
    params = {"ipFile": {"database": "ip_exclude_current_cidr.txt", "uri": uri},
              "excludeUseragentFile": {"database": "exclude_current.txt", "uri": uri},
              "includeUseragentFile": {"database": "include_current.txt", "uri": uri}}
    assert classify(params, CHROME, "198.51.100.9")["reason"] == "FAILED_IP_EXCLUDE"
    assert classify(params, "curl/8.0")["reason"] == "FAILED_UA_INCLUDE"
    assert classify(params, "Mozilla/5.0 AcmeBot")["reason"] == "FAILED_UA_EXCLUDE"
    assert classify(params, CHROME)["reason"] == "PASSED_ALL"


def test_missing_files_named(tmp_path):
    params = substitute(ipFile={"database": "ip_exclude_current_cidr.txt", "uri": f"file://{tmp_path}"})
    assert any("ip_exclude_current_cidr.txt" in e for e in parse_errors(IabSpidersAndRobots, sdj(SCHEMA, params)))


@pytest.mark.parametrize("params", [{}, substitute(ipFile={"database": "ips.txt", "uri": "file:///x"}),
                                    substitute(includeUseragents="x")])
def test_invalid_configs(params):
    assert errors_of(sdj(SCHEMA, params))
    assert parse_errors(IabSpidersAndRobots, sdj(SCHEMA, params))
