import json

import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.currency_conversion import CurrencyConversion, OfflineCurrencyConversion

from .helpers import SP, errors_of, failure, parse_errors, run, sdj

ONLINE = f"iglu:{SP}/currency_conversion_config/jsonschema/1-0-0"
OFFLINE = "iglu:io.minilab.enrichments/currency_conversion_offline_config/jsonschema/1-0-0"


@pytest.fixture
def rates(tmp_path):
    (tmp_path / "rates.json").write_text(json.dumps({
        "base": "USD", "rates": {"EUR": 0.5, "GBP": 0.25, "USD": 1},
        "historical": {"2022-10-09": {"base": "USD", "rates": {"EUR": 0.8, "GBP": 0.4}}}}))
    return tmp_path


def offline(root, base="EUR"):
    return sdj(OFFLINE, {"baseCurrency": base, "rateAt": "EOD_PRIOR",
                         "ratesFile": {"uri": f"file://{root}", "database": "rates.json"}})


def test_transaction_converted_at_prior_day_rate(rates):
    e = EnrichedEvent(collector_tstamp="2022-10-10 10:42:35.000", tr_total="10.00", tr_tax="1.50",
                      tr_shipping="2.00", tr_currency="USD", ti_price="4.00", ti_currency="GBP")
    _, e, _ = run(OfflineCurrencyConversion, offline(rates), e)
    # the day before 2022-10-10: USD→EUR 0.8; GBP→EUR 0.8/0.4 = 2
    assert (e.tr_total_base, e.tr_tax_base, e.tr_shipping_base, e.ti_price_base, e.base_currency) == (
        "8.00", "1.20", "1.60", "8.00", "EUR")


def test_default_rates_when_day_missing(rates):
    e = EnrichedEvent(collector_tstamp="2024-01-02 00:00:00.000", tr_total="10.00", tr_currency="USD")
    _, e, _ = run(OfflineCurrencyConversion, offline(rates), e)
    assert e.tr_total_base == "5.00"


def test_nothing_to_convert_still_sets_base_currency(rates):
    # Snowplow sets base_currency on every event while the enrichment is on; amounts need a currency.
    _, e, _ = run(OfflineCurrencyConversion, offline(rates), EnrichedEvent(tr_total="1.00"))
    assert e.base_currency == "EUR" and e.tr_total_base is None


def test_unknown_currency_is_a_failure(rates):
    e = EnrichedEvent(collector_tstamp="2024-01-02 00:00:00.000", tr_total="10.00", tr_currency="XYZ")
    assert failure(OfflineCurrencyConversion, offline(rates), e)


def test_online_unreachable_is_a_failure_with_the_offline_hint(monkeypatch):
    import services.enrich.enrichments.currency_conversion as cc
    monkeypatch.setattr(cc, "OER_URL", "http://127.0.0.1:9/api/")
    config = sdj(ONLINE, {"apiKey": "k", "baseCurrency": "EUR", "rateAt": "EOD_PRIOR", "accountType": "DEVELOPER"})
    assert errors_of(config) == []
    messages = failure(CurrencyConversion, config,
                       EnrichedEvent(collector_tstamp="2024-01-02 00:00:00.000", tr_total="1.00", tr_currency="USD"))
    assert "offline" in messages[0]["error"] and "127.0.0.1:9/api/historical/2024-01-01.json" in messages[0]["error"]


def test_valid_offline_config(rates):
    assert errors_of(offline(rates)) == []


@pytest.mark.parametrize("cls, cfg", [
    (CurrencyConversion, sdj(ONLINE, {"apiKey": "k", "baseCurrency": "EUR", "rateAt": "EOD_PRIOR"})),
    (CurrencyConversion, sdj(ONLINE, {"apiKey": "k", "baseCurrency": "EUR", "rateAt": "NOW", "accountType": "DEVELOPER"})),
    (OfflineCurrencyConversion, sdj(OFFLINE, {"baseCurrency": "EUR"})),
])
def test_invalid_configs(cls, cfg):
    assert errors_of(cfg)
    assert parse_errors(cls, cfg)


def test_missing_rates_file_named(tmp_path):
    assert any("rates.json" in e for e in parse_errors(OfflineCurrencyConversion, offline(tmp_path)))
