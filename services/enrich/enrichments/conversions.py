"""Tracker-protocol value conversions with Snowplow's rules and error messages (snowplow-formats.md §2.2).

Each converter takes the raw parameter text and returns the TSV text (or None), or raises
:class:`ConversionError` whose message is what enrich writes into the atomic dataReport.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Context, Decimal, InvalidOperation

_CNTRL = re.compile(r"[\x00-\x1f\x7f]")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_INT = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_SIZE = re.compile(r"^([0-9]+)x([0-9]+)$")
INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1
LONG_MIN, LONG_MAX = -(2 ** 63), 2 ** 63 - 1
_EPOCH = dt.datetime(1970, 1, 1)
_DEC_CONTEXT = Context(prec=2000, Emax=10 ** 6, Emin=-(10 ** 6))
_400_YEARS_MS = 146097 * 86_400_000  # the Gregorian calendar repeats every 400 years
_MIN_MS = -62_167_219_200_000  # 0000-01-01T00:00:00Z
_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
PLATFORMS = frozenset({"web", "iot", "app", "mob", "pc", "cnsl", "tv", "srv", "headset"})
EVENT_TYPES = {
    "pv": "page_view", "pp": "page_ping", "se": "struct", "ev": "struct", "ue": "unstruct",
    "tr": "transaction", "ti": "transaction_item", "ad": "ad_impression",
}


class ConversionError(ValueError):
    """The value cannot become its field; the message is Snowplow's."""


def safe(value: str) -> str | None:
    """TSV-safe text: tab -> 4 spaces, control characters deleted, empty -> None."""
    if value.isprintable():  # the usual case, checked in C; it has no control character
        return value or None
    if _CNTRL.search(value):
        value = _CNTRL.sub("", value.replace("\t", "    "))
    return value or None


def uuid(value: str) -> str:
    if not _UUID.match(value):
        raise ConversionError("Not a valid UUID")
    return value.lower()


def java_int(value: str) -> str | None:
    if value.lower() == "null":
        return None
    if not _INT.match(value) or not INT_MIN <= int(value) <= INT_MAX:
        raise ConversionError("Cannot be converted to java.lang.Integer")
    return str(int(value))


def big_decimal(value: str) -> str | None:
    """Java ``new BigDecimal(s)`` with a negative scale normalised to 0, printed by ``toString``."""
    if value.lower() == "null":
        return None
    if not _DECIMAL.match(value):
        raise ConversionError(f"Cannot be converted to java.math.BigDecimal. Error : {value} is not a number")
    try:
        number = Decimal(value)
        exponent = number.as_tuple().exponent
        if exponent > 0:
            if len(number.as_tuple().digits) + exponent > 1000:
                raise ConversionError("Cannot be converted to java.math.BigDecimal. Error : numeric overflow")
            number = number.quantize(Decimal(1), context=_DEC_CONTEXT)
        if number.is_zero():
            number = number.copy_abs()
        return str(number)
    except (InvalidOperation, OverflowError):
        raise ConversionError("Cannot be converted to java.math.BigDecimal. Error : numeric overflow") from None


@functools.lru_cache(maxsize=4096)  # a batch shares collector and sent times
def format_ms(ms: int) -> str:
    """``yyyy-MM-dd HH:mm:ss.SSS`` in UTC; years 0..9999 only (Redshift-compatible)."""
    if not _MIN_MS <= ms <= _MAX_MS:
        raise ConversionError(f"Formatting as {_java_year_text(ms)} is not Redshift-compatible")
    shift = 0
    if ms < -62_135_596_800_000:  # year 0 is outside Python's calendar: shift by 400 years
        ms += _400_YEARS_MS
        shift = 400
    when = _EPOCH + dt.timedelta(milliseconds=ms)
    return f"{when.year - shift:04d}-{when.month:02d}-{when.day:02d} {when.hour:02d}:{when.minute:02d}:" \
           f"{when.second:02d}.{ms % 1000:03d}"


def _java_year_text(ms: int) -> str:
    """The out-of-range instant as Java would print it (years beyond 9999 via 400-year cycles)."""
    cycles = (ms - _MIN_MS) // _400_YEARS_MS - 1  # lands in years 400..799, inside Python's calendar
    when = _EPOCH + dt.timedelta(milliseconds=ms - cycles * _400_YEARS_MS)
    year = when.year + 400 * cycles
    return f"{year:04d}-{when.month:02d}-{when.day:02d} {when.hour:02d}:{when.minute:02d}:{when.second:02d}.{ms % 1000:03d}"


def timestamp_ms(value: str) -> str:
    if not _INT.match(value) or not LONG_MIN <= int(value) <= LONG_MAX:
        raise ConversionError("Not in the expected format: ms since epoch")
    return format_ms(int(value))


def size(value: str) -> tuple[str, str]:
    match = _SIZE.match(value)
    if not match or int(match.group(1)) > INT_MAX or int(match.group(2)) > INT_MAX:
        raise ConversionError("Does not conform to regex (\\d+)x(\\d+)")
    return str(int(match.group(1))), str(int(match.group(2)))


def byte_bool(value: str) -> str:
    if value == "1" or value == "0":
        return value
    raise ConversionError("Cannot be converted to Boolean-like java.lang.Byte")


def platform(value: str) -> str:
    if value not in PLATFORMS:
        raise ConversionError("Not a valid platform")
    return value


def event_type(value: str) -> str:
    try:
        return EVENT_TYPES[value]
    except KeyError:
        raise ConversionError("Not a valid event type") from None


def first_ip(value: str) -> str | None:
    token = re.split(r"[,| ]", value.strip(), maxsplit=1)[0]
    return safe(token)


@functools.lru_cache(maxsize=4096)
def tstamp_ms(text: str) -> int:
    """The inverse of :func:`format_ms` (for derived_tstamp arithmetic)."""
    year = int(text[0:4])
    shift = _400_YEARS_MS if year == 0 else 0  # year 0 shares year 400's calendar
    when = dt.datetime(year or 400, int(text[5:7]), int(text[8:10]), int(text[11:13]),
                       int(text[14:16]), int(text[17:19]))
    return (when - _EPOCH) // dt.timedelta(milliseconds=1) + int(text[20:23]) - shift
