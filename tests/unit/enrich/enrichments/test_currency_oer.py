"""Currency conversion through the Open Exchange Rates client, against a loopback stand-in that speaks
OER's documented API (``/api/latest.json``, ``/api/historical/YYYY-MM-DD.json?app_id=&base=``, its error
JSON).  Expected values follow Snowplow's behaviour: the rates of the day before collector_tstamp,
scala-forex's rate rounded to 6 places, the amount read as a double, the result rounded half-even to
the base currency's minor units; one request per day (cached); OER's error message in the bad row."""

from __future__ import annotations

import asyncio
import json
import threading
from decimal import Decimal

import pytest
import tornado.httpserver
import tornado.testing
import tornado.web

from services.common.enriched_event import EnrichedEvent
from services.enrich import local
from services.enrich.enrichments.currency_conversion import ApiCurrencyConversion
from services.enrich.enrichments.registry import EnrichContext, EnrichmentSet
from tests.unit.enrich import support

from .helpers import errors_of, failure, parse_errors, raw, sdj

API = "iglu:io.minilab.enrichments/currency_conversion_api_config/jsonschema/1-0-0"
DEVELOPER_KEY, ENTERPRISE_KEY = "dev-app-id", "enterprise-app-id"
# USD-based end-of-day rates per UTC day, as OER publishes them.
DAYS = {
    "2022-10-09": {"USD": 1, "EUR": 0.8, "GBP": 0.4, "JPY": 145.5, "KWD": 0.31},
    "2022-10-10": {"USD": 1, "EUR": 0.9, "GBP": 0.45, "JPY": 146.0, "KWD": 0.32},
}
INVALID_APP_ID = {"error": True, "status": 401, "message": "invalid_app_id",
                  "description": "Invalid App ID provided - please sign up at https://openexchangerates.org/signup, "
                                 "or contact support@openexchangerates.org."}


class Rates(tornado.web.RequestHandler):
    def initialize(self, calls):
        self.calls = calls

    def answer(self, day: str | None) -> None:
        app_id, base = self.get_query_argument("app_id", None), self.get_query_argument("base", "USD")
        self.calls.append((self.request.path, app_id, self.get_query_argument("base", None)))
        if app_id is None:
            return self.fail(401, "missing_app_id", "No App ID provided.")
        if app_id not in (DEVELOPER_KEY, ENTERPRISE_KEY):
            return self.fail(**{k: INVALID_APP_ID[k] for k in ("status", "message", "description")})
        if base != "USD" and app_id != ENTERPRISE_KEY:
            return self.fail(403, "not_allowed", "Changing the API `base` currency is not available on this plan.")
        rates = DAYS.get(day or max(DAYS))
        if rates is None:
            return self.fail(400, "not_available", "Historical rates for the requested date are not available.")
        if base not in rates:
            return self.fail(400, "invalid_base", "Client requested rates for an unsupported base currency.")
        self.write({"disclaimer": "https://openexchangerates.org/terms", "license": "https://openexchangerates.org/license",
                    "timestamp": 1665446399, "base": base,
                    "rates": {k: float(Decimal(str(v)) / Decimal(str(rates[base]))) for k, v in rates.items()}})

    def fail(self, status: int, message: str, description: str) -> None:
        self.set_status(status)
        self.write({"error": True, "status": status, "message": message, "description": description})

    def get(self, day=None):
        self.answer(day)


@pytest.fixture
def oer():
    """The stand-in on a free loopback port, in its own thread (the pipeline runs its own loop)."""
    calls: list[tuple] = []
    ready = threading.Event()
    box: dict = {}

    def serve():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        sock, port = tornado.testing.bind_unused_port()
        app = tornado.web.Application([(r"/api/latest\.json", Rates, {"calls": calls}),
                                       (r"/api/historical/(\d{4}-\d{2}-\d{2})\.json", Rates, {"calls": calls})])
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets([sock])
        box.update(loop=loop, server=server, url=f"http://127.0.0.1:{port}/api/")
        ready.set()
        loop.run_forever()
        server.stop()
        loop.run_until_complete(server.close_all_connections())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(30)
    box["calls"] = calls
    yield box
    box["loop"].call_soon_threadsafe(box["loop"].stop)
    thread.join(30)


def config(oer, key=DEVELOPER_KEY, base="EUR", account="DEVELOPER"):
    return sdj(API, {"apiKey": key, "baseCurrency": base, "rateAt": "EOD_PRIOR", "accountType": account,
                     "apiUrl": oer["url"]})


def transaction(**over) -> EnrichedEvent:
    fields = dict(collector_tstamp="2022-10-10 10:42:35.000", tr_total="10.00", tr_tax="1.50", tr_shipping="2.00",
                  tr_currency="USD")
    fields.update(over)
    return EnrichedEvent(**fields)


def enrich_all(cfg, events):
    """Run several events through one parsed config (one client, one cache), as enrich does."""
    enrichment = ApiCurrencyConversion()
    conf = enrichment.parse(cfg)

    async def go():
        for event in events:
            await enrichment.enrich(event, EnrichContext(raw=raw()), conf)
    asyncio.run(go())
    return events


def test_config_is_valid_by_the_vendor_schema(oer):
    assert errors_of(config(oer)) == []
    bad = config(oer)
    del bad["data"]["parameters"]["apiUrl"]
    assert errors_of(bad) and parse_errors(ApiCurrencyConversion, bad)


def test_transaction_and_item_at_the_prior_day_rate(oer):
    tr, item = enrich_all(config(oer), [transaction(),
                                         EnrichedEvent(collector_tstamp="2022-10-10 23:59:59.999", ti_price="4.00",
                                                       ti_currency="GBP", ti_quantity="2")])
    # 2022-10-09: USD→EUR 0.8; GBP→EUR round6(1/0.4) × 0.8 = 2 (2022-10-10's rates would give 9.00, 8.00)
    assert (tr.tr_total_base, tr.tr_tax_base, tr.tr_shipping_base, tr.base_currency) == ("8.00", "1.20", "1.60", "EUR")
    assert (item.ti_price_base, item.base_currency) == ("8.00", "EUR")
    assert item.ti_quantity == "2"  # quantities are not amounts
    # Developer accounts cannot choose the base: the request asks for USD rates of the prior day, once.
    assert oer["calls"] == [("/api/historical/2022-10-09.json", DEVELOPER_KEY, None)]


def test_rounding_half_even_to_the_minor_units_of_the_base_currency(oer):
    eur = enrich_all(config(oer), [transaction(tr_total="0.15625", tr_tax=None, tr_shipping=None),
                                   transaction(tr_total="2.675", tr_currency="EUR", tr_tax=None, tr_shipping=None)])
    assert eur[0].tr_total_base == "0.12"  # 0.125 → half-even
    assert eur[1].tr_total_base == "2.67"  # the double nearest 2.675 is below it (Snowplow reads a double)
    [jpy] = enrich_all(config(oer, base="JPY"), [transaction(tr_tax="0.37")])
    assert (jpy.tr_total_base, jpy.tr_tax_base, jpy.base_currency) == ("1455", "54", "JPY")  # 53.835 → 54, no decimals
    [kwd] = enrich_all(config(oer, base="KWD"), [transaction()])
    assert kwd.tr_total_base == "3.100"  # three decimals
    [gbp_to_jpy] = enrich_all(config(oer, base="JPY"), [transaction(tr_total="3.00", tr_currency="GBP",
                                                                    tr_tax=None, tr_shipping=None)])
    assert gbp_to_jpy.tr_total_base == "1091"  # 3 × round6(1/0.4)=2.5 × 145.5 = 1091.25


def test_enterprise_accounts_ask_for_the_base_currency(oer):
    [tr] = enrich_all(config(oer, key=ENTERPRISE_KEY, account="ENTERPRISE"), [transaction()])
    assert tr.tr_total_base == "8.00"  # EUR-based rates: round6(1/1.25) = 0.8
    assert oer["calls"] == [("/api/historical/2022-10-09.json", ENTERPRISE_KEY, "EUR")]


def test_a_days_rates_are_fetched_once(oer):
    events = [transaction(), transaction(tr_total="20.00"), transaction(collector_tstamp="2022-10-11 08:00:00.000")]
    a, b, c = enrich_all(config(oer), events)
    assert (a.tr_total_base, b.tr_total_base, c.tr_total_base) == ("8.00", "16.00", "9.00")
    assert [path for path, _, _ in oer["calls"]] == ["/api/historical/2022-10-09.json", "/api/historical/2022-10-10.json"]


def test_concurrent_events_of_one_day_share_one_request(oer):
    enrichment = ApiCurrencyConversion()
    conf = enrichment.parse(config(oer))
    events = [transaction(tr_total=f"{i}.00") for i in range(1, 6)]

    async def go():
        await asyncio.gather(*(enrichment.enrich(e, EnrichContext(raw=raw()), conf) for e in events))
    asyncio.run(go())
    assert [e.tr_total_base for e in events] == ["0.80", "1.60", "2.40", "3.20", "4.00"]
    assert len(oer["calls"]) == 1


def test_unknown_currency_and_currency_missing_from_the_rates(oer):
    [message] = failure(ApiCurrencyConversion, config(oer), transaction(tr_currency="XYZ"))
    assert message == {"field": "tr_currency", "value": "XYZ", "expectation": "Unknown currency 'XYZ'"}
    [message] = failure(ApiCurrencyConversion, config(oer), transaction(tr_currency="CHF"))
    assert message["error"] == ("Open Exchange Rates error, type: [IllegalCurrency], message: "
                                "[Currency not found in the API, invalid currency CHF]")


def test_invalid_app_id_is_an_enrichment_failures_bad_row_with_oers_message(oer, iglu_central_dir):
    cfg = config(oer, key="not-a-valid-app-id")
    enrichments, errors = EnrichmentSet.from_configs([cfg])
    assert errors == []
    iglu = support.client(iglu_central_dir)
    outcome = local.run_sync(querystring="e=tr&p=web&tv=js-4.6.8&tr_id=o-1&tr_tt=10.00&tr_cu=USD",
                             timestamp_ms=1665398555000, pipeline=support.pipeline(iglu, enrichments))
    assert outcome.events == {"enrichment_failures": 1}
    row = json.loads(outcome.bad[0])
    support.assert_valid_bad_row(iglu, row)
    [message] = row["data"]["failure"]["messages"]
    assert message["enrichment"] == {"schemaKey": API, "identifier": "currency_conversion_api_config"}
    error = message["message"]["error"]
    assert error.startswith("Open Exchange Rates error, type: [OtherErrors], message: [invalid_app_id]")
    assert "Invalid App ID provided" in error and "not-a-valid-app-id" not in error  # the key stays secret
    assert oer["calls"] == [("/api/historical/2022-10-09.json", "not-a-valid-app-id", None)]


def test_a_failed_day_is_asked_again_for_the_next_event(oer):
    # Errors are not cached: once the account is fixed (or the network is back) events convert again.
    cfg = config(oer, key="not-a-valid-app-id")
    enrichment = ApiCurrencyConversion()
    conf = enrichment.parse(cfg)

    async def twice():
        for _ in range(2):
            with pytest.raises(Exception):
                await enrichment.enrich(transaction(), EnrichContext(raw=raw()), conf)
    asyncio.run(twice())
    assert len(oer["calls"]) == 2


def test_the_stand_in_serves_latest_like_oer(oer):
    import urllib.request
    with urllib.request.urlopen(f"{oer['url']}latest.json?app_id={DEVELOPER_KEY}", timeout=30) as response:
        body = json.loads(response.read())
    assert body["base"] == "USD" and body["rates"]["EUR"] == 0.9 and isinstance(body["timestamp"], int)
