import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.referer_parser import RefererParser

from .helpers import SP, errors_of, parse_errors, run, sdj

SCHEMA = f"iglu:{SP}/referer_parser/jsonschema/2-0-1"
PACKAGED = {"internalDomains": ["shop.example.com"], "database": "referers.json", "uri": "package://referer_parser/data"}


def refr(url_host, path="/", query=None, scheme="https", page_host="www.example.com"):
    return EnrichedEvent(refr_urlscheme=scheme, refr_urlhost=url_host, refr_urlpath=path, refr_urlquery=query,
                         page_urlhost=page_host)


@pytest.mark.parametrize("event, expected", [
    (refr("www.google.com", "/search", "q=snowplow+mini&hl=en"), ("search", "Google", "snowplow mini")),
    (refr("www.bing.com", "/search", "q=iglu"), ("search", "Bing", "iglu")),
    (refr("www.facebook.com"), ("social", "Facebook", None)),
    (refr("www.example.com", "/other"), ("internal", None, None)),
    (refr("shop.example.com"), ("internal", None, None)),
    (refr("blog.unknown-site.org"), ("unknown", None, None)),
])
def test_referer_classified(event, expected):
    _, e, _ = run(RefererParser, sdj(SCHEMA, PACKAGED), event)
    assert (e.refr_medium, e.refr_source, e.refr_term) == expected


def test_non_http_referer_leaves_fields_empty():
    _, e, _ = run(RefererParser, sdj(SCHEMA, PACKAGED), refr("app", scheme="android-app"))
    assert (e.refr_medium, e.refr_source, e.refr_term) == (None, None, None)


def test_custom_referrers_extend_the_database():
    params = dict(PACKAGED, referrers={"email": {"Acme Mail": {"domains": ["mail.acme.test"]}}})
    _, e, _ = run(RefererParser, sdj(SCHEMA, params), refr("mail.acme.test"))
    assert (e.refr_medium, e.refr_source) == ("email", "Acme Mail")


def test_snowplow_hosted_database_offline_falls_back_to_packaged_copy(tmp_path, caplog):
    params = {"internalDomains": [], "database": "referers-latest.json", "uri": "http://127.0.0.1:9/referer-parser/"}
    _, e, _ = run(RefererParser, sdj(SCHEMA, params), refr("www.google.com", "/search", "q=x"), home=tmp_path)
    assert e.refr_source == "Google"


def test_file_database(tmp_path):
    (tmp_path / "refs.json").write_text('{"search": {"Acme": {"domains": ["find.acme.test"], "parameters": ["s"]}}}')
    params = {"internalDomains": [], "database": "refs.json", "uri": f"file://{tmp_path}"}
    _, e, _ = run(RefererParser, sdj(SCHEMA, params), refr("find.acme.test", "/", "s=boots"))
    assert (e.refr_medium, e.refr_source, e.refr_term) == ("search", "Acme", "boots")


def test_missing_file_error_names_it(tmp_path):
    params = {"internalDomains": [], "database": "nope.json", "uri": f"file://{tmp_path}"}
    errors = parse_errors(RefererParser, sdj(SCHEMA, params))
    assert any("nope.json" in e for e in errors)


@pytest.mark.parametrize("params", [{}, {"database": "x", "uri": "file:///x"}, dict(PACKAGED, internalDomains="a"),
                                    dict(PACKAGED, referrers={"search": {"X": {"domains": []}}})])
def test_invalid_configs(params):
    assert errors_of(sdj(SCHEMA, params))
    assert parse_errors(RefererParser, sdj(SCHEMA, params))


def test_valid_config_matches_schema():
    assert errors_of(sdj(SCHEMA, PACKAGED)) == []
