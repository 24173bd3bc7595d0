"""Currency conversion (``currency_conversion_config``): ``tr_*_base``/``ti_price_base``/``base_currency``.

Amounts in ``tr_currency``/``ti_currency`` are converted to ``baseCurrency`` at the end-of-day rate of the
day before the collector timestamp (``EOD_PRIOR``), from Open Exchange Rates when online, or — with
``currency_conversion_offline_config`` (vendor ``io.minilab.enrichments``) — from a local rates file
(``{"base": "USD", "rates": {...}}``, optionally ``"historical": {"YYYY-MM-DD": {...}}``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import tornado.httpclient

from . import assets, parameters
from .registry import ConfigError, Enrichment, EnrichmentFailure

OXR_URL = "https://openexchangerates.org/api/historical/{date}.json?app_id={key}"
CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$"}
PARAMS = parameters.strict({
    "apiKey": {"type": "string"}, "baseCurrency": CURRENCY, "rateAt": {"enum": ["EOD_PRIOR"]},
    "accountType": {"enum": ["DEVELOPER", "ENTERPRISE", "UNLIMITED"]},
}, ["apiKey", "baseCurrency", "rateAt", "accountType"])
OFFLINE_PARAMS = parameters.strict({
    "baseCurrency": CURRENCY, "rateAt": {"enum": ["EOD_PRIOR"]}, "ratesFile": parameters.ASSET,
}, ["baseCurrency", "ratesFile"])
CENT = Decimal("0.01")


@dataclasses.dataclass
class CurrencyConf:
    base: str
    api_key: str | None = None
    table: dict[str, Any] | None = None  # offline rates
    cache: dict[str, dict[str, Decimal]] = dataclasses.field(default_factory=dict)  # per day, online


def _rates(obj: Any, where: str) -> dict[str, Decimal]:
    if not isinstance(obj, dict) or not isinstance(obj.get("rates"), dict):
        raise ValueError(f"{where} has no 'rates' object")
    rates = {str(k): Decimal(str(v)) for k, v in obj["rates"].items()}
    rates.setdefault(str(obj.get("base", "USD")), Decimal(1))
    return rates


def convert(amount: str, currency: str, base: str, rates: dict[str, Decimal]) -> str:
    if currency == base:
        value = Decimal(amount)
    else:
        for code in (currency, base):
            if code not in rates or rates[code] == 0:
                raise EnrichmentFailure({"field": "currency", "value": code,
                                         "expectation": "a currency with a known exchange rate"})
        value = Decimal(amount) / rates[currency] * rates[base]
    return str(value.quantize(CENT, rounding=ROUND_HALF_EVEN))


def prior_day(collector_tstamp: str | None) -> str:
    day = dt.datetime.strptime(collector_tstamp[:10], "%Y-%m-%d") if collector_tstamp else dt.datetime.now(dt.timezone.utc)
    return (day - dt.timedelta(days=1)).strftime("%Y-%m-%d")


class CurrencyConversion(Enrichment):
    name = "currency_conversion_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow/currency_conversion_config/jsonschema/1-0-*"
    slot = 40

    def parse(self, config):
        params = parameters.check(config, PARAMS)
        return CurrencyConf(params["baseCurrency"], api_key=params["apiKey"])

    async def rates(self, ctx, conf: CurrencyConf, day: str) -> dict[str, Decimal]:
        if conf.table is not None:
            historical = conf.table.get("historical") or {}
            return _rates(historical[day], day) if day in historical else _rates(conf.table, "the rates file")
        if day not in conf.cache:
            client = ctx.http or tornado.httpclient.AsyncHTTPClient()
            try:
                response = await client.fetch(OXR_URL.format(date=day, key=conf.api_key), request_timeout=10)
                conf.cache[day] = _rates(json.loads(response.body), "Open Exchange Rates' answer")
            except (OSError, ValueError, tornado.httpclient.HTTPError) as exc:
                raise EnrichmentFailure({"error": f"Open Exchange Rates is not reachable for {day}: {exc}; "
                                                  "offline, use currency_conversion_offline_config with a rates file"}) from None
        return conf.cache[day]

    async def enrich(self, event, ctx, conf):
        jobs = [(f, event.tr_currency) for f in ("tr_total", "tr_tax", "tr_shipping") if getattr(event, f)]
        jobs += [("ti_price", event.ti_currency)] if event.ti_price else []
        jobs = [(f, c) for f, c in jobs if c]
        if not jobs:
            return []
        rates = await self.rates(ctx, conf, prior_day(event.collector_tstamp))
        try:
            for field, currency in jobs:
                setattr(event, f"{field}_base", convert(getattr(event, field), currency, conf.base, rates))
        except InvalidOperation:
            raise EnrichmentFailure({"error": "currency conversion: an amount is not a decimal number"}) from None
        event.base_currency = conf.base
        return []


class OfflineCurrencyConversion(CurrencyConversion):
    """The same conversion from a local rates file (sandboxes without network or API key)."""

    name = "currency_conversion_offline_config"
    schema_criterion = "iglu:io.minilab.enrichments/currency_conversion_offline_config/jsonschema/1-0-*"

    def parse(self, config):
        params = parameters.check(config, OFFLINE_PARAMS)
        spec = params["ratesFile"]
        try:
            table = json.loads(assets.resolve(spec["uri"], spec["database"], self.home).read_text("utf-8"))
            _rates(table, spec["database"]) if "rates" in table else None
            for day, obj in (table.get("historical") or {}).items():
                _rates(obj, f"{spec['database']} {day}")
        except assets.AssetError as exc:
            raise ConfigError([f"data.parameters.ratesFile: {exc}"]) from None
        except (ValueError, AttributeError, InvalidOperation) as exc:
            raise ConfigError([f"data.parameters.ratesFile: {spec['database']} is not a rates file: {exc}"]) from None
        return CurrencyConf(params["baseCurrency"], table=table)
