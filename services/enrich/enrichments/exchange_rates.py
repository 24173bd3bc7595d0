"""Exchange rates for the currency conversion enrichments: the Open Exchange Rates client (a UTC day's
end-of-day rates, fetched once per day and cached), the local rates file, and Snowplow's money math
(scala-forex: the rate rounded to 6 places, the result to the target currency's ISO 4217 minor units).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections import OrderedDict
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import babel.numbers
import tornado.httpclient

OER_URL = "https://openexchangerates.org/api/"
TIMEOUT_S = 10.0
DAYS_CACHED = 400  # a year of historical days and then some; each day is one small rates table
RATE_PLACES = Decimal("0.000001")  # scala-forex's commonScale
CURRENCIES = frozenset(babel.numbers.list_currencies())


class RatesError(Exception):
    """Rates could not be had; the message is the bad row's (Snowplow's wording where it has one)."""


def known_currency(code: str) -> bool:
    return code in CURRENCIES


def table(obj: Any, where: str) -> dict[str, Decimal]:
    """``{"base": "USD", "rates": {"EUR": 0.9, ...}}`` → {code: units of code per base unit}."""
    if not isinstance(obj, dict) or not isinstance(obj.get("rates"), dict):
        raise ValueError(f"{where} has no 'rates' object")
    try:
        rates = {str(k): Decimal(str(v)) for k, v in obj["rates"].items()}
    except InvalidOperation:
        raise ValueError(f"{where} has a rate that is not a number") from None
    rates.setdefault(str(obj.get("base", "USD")), Decimal(1))
    return rates


def convert(amount: str, currency: str, target: str, rates: dict[str, Decimal]) -> str:
    """``amount`` of ``currency`` in ``target``, as scala-forex computes it: the amount as the tracker's
    double, times (1 / rate(currency) rounded to 6 places) × rate(target), rounded half-even to
    the target's minor units.  Raises RatesError when a rate is missing."""
    value = Decimal(float(amount))  # Snowplow reads the field as a double (new BigDecimal(double))
    if currency != target:
        for code in (currency, target):
            if not rates.get(code):
                raise RatesError(f"Open Exchange Rates error, type: [IllegalCurrency], message: "
                                 f"[Currency not found in the API, invalid currency {code}]")
        value = value * (Decimal(1) / rates[currency]).quantize(RATE_PLACES, ROUND_HALF_EVEN) * rates[target]
    places = babel.numbers.get_currency_precision(target)
    return format(value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN), "f")


class OpenExchangeRates:
    """``historical/YYYY-MM-DD.json`` of an Open Exchange Rates API at ``api_url``; DEVELOPER accounts
    get USD-based rates, ENTERPRISE/UNLIMITED ask for ``base`` (as scala-forex does)."""

    def __init__(self, app_id: str, account_type: str, base: str, api_url: str = OER_URL):
        self.app_id, self.base = app_id, base
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.query = {"app_id": app_id, **({} if account_type == "DEVELOPER" else {"base": base})}
        self._days: OrderedDict[str, dict[str, Decimal]] = OrderedDict()
        self._pending: dict[str, asyncio.Future] = {}

    def url(self, day: str) -> str:
        return urllib.parse.urljoin(self.api_url, f"historical/{day}.json") + "?" + urllib.parse.urlencode(self.query)

    def shown(self, day: str) -> str:
        """The URL without the app id (it is a secret; bad rows are widely read)."""
        return urllib.parse.urljoin(self.api_url, f"historical/{day}.json")

    async def rates(self, http: Any, day: str) -> dict[str, Decimal]:
        if day in self._days:
            self._days.move_to_end(day)
            return self._days[day]
        pending = self._pending.get(day)
        if pending is not None and not pending.done() and pending.get_loop() is asyncio.get_running_loop():
            return await asyncio.shield(pending)  # events of one day share one request
        future = asyncio.get_running_loop().create_future()
        self._pending[day] = future
        try:
            rates = await self._fetch(http, day)
        except BaseException as exc:  # waiters must never hang, whatever ended this request
            future.set_exception(exc if isinstance(exc, RatesError) else RatesError(f"rates of {day}: {exc!r}"))
            future.exception()  # retrieved: waiters re-raise it, nobody else has to
            raise
        finally:
            self._pending.pop(day, None)
        future.set_result(rates)
        self._days[day] = rates
        while len(self._days) > DAYS_CACHED:
            self._days.popitem(last=False)
        return rates

    async def _fetch(self, http: Any, day: str) -> dict[str, Decimal]:
        client = http or tornado.httpclient.AsyncHTTPClient()
        try:
            response = await client.fetch(self.url(day), request_timeout=TIMEOUT_S, connect_timeout=TIMEOUT_S,
                                          headers={"Accept": "application/json"})
            body = response.body
        except tornado.httpclient.HTTPClientError as exc:
            if exc.response is None or not exc.response.body:
                raise self._unreachable(day, exc) from None
            body = exc.response.body  # OER answers errors with a JSON body (401, 403, 429, ...)
        except (OSError, asyncio.TimeoutError) as exc:
            raise self._unreachable(day, exc) from None
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise RatesError(f"Open Exchange Rates error, type: [OtherErrors], message: "
                             f"[OER response is not JSON: {exc}]") from None
        if isinstance(answer, dict) and answer.get("error"):
            message = f"Open Exchange Rates error, type: [OtherErrors], message: [{answer.get('message')}]"
            if answer.get("description"):
                message += f" {answer['description']}"
            raise RatesError(message)
        try:
            return table(answer, f"the answer of {self.shown(day)}")
        except ValueError as exc:
            raise RatesError(f"Open Exchange Rates error, type: [OtherErrors], message: [{exc}]") from None

    def _unreachable(self, day: str, exc: BaseException) -> RatesError:
        return RatesError(f"an error happened while converting the currency: {self.shown(day)} is not reachable "
                          f"({exc}); offline, use currency_conversion_offline_config with a rates file")
