"""Currency conversion (``currency_conversion_config``): ``tr_*_base``/``ti_price_base``/``base_currency``.

As Snowplow's: ``tr_total``/``tr_tax``/``tr_shipping`` (in ``tr_currency``) and ``ti_price`` (in
``ti_currency``) are converted to ``baseCurrency`` at the end-of-day rate of the day before the
collector timestamp (``EOD_PRIOR``), rounded half-even to the base currency's minor units;
``base_currency`` is set on every event.  Rates come from Open Exchange Rates (:mod:`.exchange_rates`,
one request per day, cached).  Vendor ``io.minilab.enrichments`` adds two variants Snowplow's closed
schema cannot express: ``currency_conversion_api_config`` (the same with the API's base URL, ``apiUrl``:
a mirror, a proxy, a test stand-in) and ``currency_conversion_offline_config`` (a local rates file
``{"base": "USD", "rates": {...}}``, optionally ``"historical": {"YYYY-MM-DD": {...}}``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from . import assets, parameters
from .exchange_rates import OER_URL, OpenExchangeRates, RatesError, convert, known_currency, table
from .registry import ConfigError, Enrichment, EnrichmentFailure

CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$"}
ONLINE = {"apiKey": {"type": "string"}, "baseCurrency": CURRENCY, "rateAt": {"enum": ["EOD_PRIOR"]},
          "accountType": {"enum": ["DEVELOPER", "ENTERPRISE", "UNLIMITED"]}}
PARAMS = parameters.strict(ONLINE, ["apiKey", "baseCurrency", "rateAt", "accountType"])
API_PARAMS = parameters.strict({**ONLINE, "apiUrl": {"type": "string", "pattern": "^https?://[^/?#]+"}},
                               ["apiKey", "baseCurrency", "rateAt", "accountType", "apiUrl"])
OFFLINE_PARAMS = parameters.strict({
    "baseCurrency": CURRENCY, "rateAt": {"enum": ["EOD_PRIOR"]}, "ratesFile": parameters.ASSET,
}, ["baseCurrency", "ratesFile"])
AMOUNTS = (("tr_total", "tr_currency"), ("tr_tax", "tr_currency"), ("tr_shipping", "tr_currency"),
           ("ti_price", "ti_currency"))


class RatesFile:
    """Rates from a local file: a day's ``historical`` entry when there is one, else the top-level rates."""

    def __init__(self, content: dict[str, Any], name: str):
        self.default = table(content, name) if "rates" in content else None
        self.days = {day: table(obj, f"{name} {day}") for day, obj in (content.get("historical") or {}).items()}
        self.name = name

    async def rates(self, http: Any, day: str) -> dict[str, Decimal]:
        found = self.days.get(day, self.default)
        if found is None:
            raise RatesError(f"{self.name} has no rates for {day} and no default 'rates'")
        return found


@dataclasses.dataclass
class CurrencyConf:
    base: str
    source: Any  # OpenExchangeRates or RatesFile: ``await source.rates(http, day)``


def prior_day(collector_tstamp: str | None) -> str:
    day = dt.datetime.strptime(collector_tstamp[:10], "%Y-%m-%d") if collector_tstamp else dt.datetime.now(dt.timezone.utc)
    return (day - dt.timedelta(days=1)).strftime("%Y-%m-%d")


def _base(params: dict) -> str:
    if not known_currency(params["baseCurrency"]):
        raise ConfigError([f"data.parameters.baseCurrency: Unknown currency '{params['baseCurrency']}'"])
    return params["baseCurrency"]


class CurrencyConversion(Enrichment):
    name = "currency_conversion_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow/currency_conversion_config/jsonschema/1-0-*"
    slot = 40
    PARAMS = PARAMS

    def parse(self, config):
        params = parameters.check(config, self.PARAMS)
        base = _base(params)
        return CurrencyConf(base, OpenExchangeRates(params["apiKey"], params["accountType"], base,
                                                    params.get("apiUrl", OER_URL)))

    async def enrich(self, event, ctx, conf):
        event.base_currency = conf.base  # Snowplow sets it whenever the enrichment is on
        jobs = [(field, getattr(event, currency_field), currency_field) for field, currency_field in AMOUNTS
                if getattr(event, field) and getattr(event, currency_field)]
        if not jobs:
            return []
        for _, code, currency_field in jobs:
            if not known_currency(code):
                raise EnrichmentFailure({"field": currency_field, "value": code,
                                         "expectation": f"Unknown currency '{code}'"})
        try:
            rates = await conf.source.rates(ctx.http, prior_day(event.collector_tstamp))
            converted = {f"{field}_base": convert(getattr(event, field), code, conf.base, rates)
                         for field, code, _ in jobs}
        except RatesError as exc:
            raise EnrichmentFailure({"error": str(exc)}) from None
        except ValueError:
            raise EnrichmentFailure({"error": "an error happened while converting the currency: "
                                              "an amount is not a decimal number"}) from None
        for name, value in converted.items():
            setattr(event, name, value)
        return []


class ApiCurrencyConversion(CurrencyConversion):
    """The same conversion from an Open Exchange Rates–compatible API at ``apiUrl`` (vendor schema)."""

    name = "currency_conversion_api_config"
    schema_criterion = "iglu:io.minilab.enrichments/currency_conversion_api_config/jsonschema/1-0-*"
    PARAMS = API_PARAMS


class OfflineCurrencyConversion(CurrencyConversion):
    """The same conversion from a local rates file (sandboxes without network or API key)."""

    name = "currency_conversion_offline_config"
    schema_criterion = "iglu:io.minilab.enrichments/currency_conversion_offline_config/jsonschema/1-0-*"

    def parse(self, config):
        params = parameters.check(config, OFFLINE_PARAMS)
        base = _base(params)
        spec = params["ratesFile"]
        try:
            content = json.loads(assets.resolve(spec["uri"], spec["database"], self.home).read_text("utf-8"))
            if not isinstance(content, dict):
                raise ValueError("not a JSON object")
            source = RatesFile(content, spec["database"])
        except assets.AssetError as exc:
            raise ConfigError([f"data.parameters.ratesFile: {exc}"]) from None
        except (ValueError, AttributeError) as exc:
            raise ConfigError([f"data.parameters.ratesFile: {spec['database']} is not a rates file: {exc}"]) from None
        return CurrencyConf(base, source)
