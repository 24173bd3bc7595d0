import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.campaign_attribution import CampaignAttribution

from .helpers import SP, errors_of, parse_errors, run, sdj

SCHEMA = f"iglu:{SP}/campaign_attribution/jsonschema/1-0-1"
UTM = {"mktMedium": ["utm_medium"], "mktSource": ["utm_source"], "mktTerm": ["utm_term"],
       "mktContent": ["utm_content"], "mktCampaign": ["utm_campaign"]}


def test_utm_parameters_fill_mkt_fields():
    query = "utm_source=Google&utm_medium=cpc&utm_term=snowplow%20mini&utm_content=ad1&utm_campaign=launch"
    _, e, _ = run(CampaignAttribution, sdj(SCHEMA, {"mapping": "static", "fields": UTM}),
                  EnrichedEvent(page_urlquery=query))
    assert (e.mkt_source, e.mkt_medium, e.mkt_term, e.mkt_content, e.mkt_campaign) == (
        "Google", "cpc", "snowplow mini", "ad1", "launch")
    assert e.mkt_clickid is None and e.mkt_network is None


def test_first_configured_parameter_wins():
    fields = dict(UTM, mktSource=["src", "utm_source"])
    _, e, _ = run(CampaignAttribution, sdj(SCHEMA, {"fields": fields}),
                  EnrichedEvent(page_urlquery="utm_source=second&src=first"))
    assert e.mkt_source == "first"


@pytest.mark.parametrize("query, clickid, network", [
    ("gclid=abc", "abc", "Google"), ("msclkid=m1", "m1", "Microsoft"), ("dclid=d1", "d1", "DoubleClick"),
    ("fbclid=f1", "f1", "Facebook")])
def test_click_ids_default_and_configured(query, clickid, network):
    fields = dict(UTM, mktClickId={"fbclid": "Facebook"})
    _, e, _ = run(CampaignAttribution, sdj(SCHEMA, {"fields": fields}), EnrichedEvent(page_urlquery=query))
    assert (e.mkt_clickid, e.mkt_network) == (clickid, network)


def test_no_querystring_sets_nothing():
    _, e, _ = run(CampaignAttribution, sdj(SCHEMA, {"fields": UTM}), EnrichedEvent())
    assert e.mkt_medium is None and e.mkt_clickid is None


def test_valid_config_matches_schema():
    assert errors_of(sdj(SCHEMA, {"mapping": "static", "fields": dict(UTM, mktClickId={"x": "X"})})) == []


@pytest.mark.parametrize("params", [
    {}, {"fields": {k: v for k, v in UTM.items() if k != "mktSource"}}, {"fields": UTM, "mapping": "dynamic"},
    {"fields": dict(UTM, mktMedium="utm_medium")}, {"fields": dict(UTM, mktClickId={"gclid": 1})}])
def test_invalid_configs(params):
    config = sdj(SCHEMA, params)
    assert errors_of(config)
    assert parse_errors(CampaignAttribution, config)
