"""Date formats, date math and calendar rounding as OpenSearch's ``date`` type applies them.

Values are stored as epoch milliseconds (UTC).  Named formats cover the ones Snowplow and Mini use
(``strict_date_optional_time``, ``date_optional_time``/``dateOptionalTime``, ``epoch_millis``, ...);
simple Java-style patterns (``yyyy-MM-dd HH:mm:ss``) are translated; anything else is refused.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Callable
from zoneinfo import ZoneInfo

from .errors import SearchError, bad_request

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_FORMAT = "strict_date_optional_time||epoch_millis"
_PARSED: dict[tuple[str, str], int] = {}  # (format, text) → epoch millis, UTC parses only

_TZ = r"(Z|z|[+-]\d{2}(?::?\d{2})?)"
_TIME = r"(?:[T ](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?)?"
_OPTIONAL_TIME = re.compile(r"^([+-]?\d{4,9})(?:-(\d{1,2})(?:-(\d{1,2})" + _TIME + r")?)?" + _TZ + r"?$")
_STRICT_OPTIONAL_TIME = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})" + _TIME.replace("[T ]", "T") + r")?)?" + _TZ + r"?$")


def _offset_minutes(text: str) -> int:
    """The signed minutes of an offset ``+01``, ``-05:30``, ``+0530`` (not ``Z``)."""
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return -minutes if text[0] == "-" else minutes


def _tz(text: str | None) -> dt.tzinfo:
    if not text or text in ("Z", "z"):
        return UTC
    return dt.timezone(dt.timedelta(minutes=_offset_minutes(text)))


def zone(name: str | None) -> dt.tzinfo:
    """A ``time_zone`` parameter: ``UTC``, ``+01:00``, or an IANA name."""
    if not name or name in ("UTC", "Z", "utc"):
        return UTC
    if name[0] in "+-":
        return _tz(name)
    try:
        return ZoneInfo(name)
    except Exception:
        raise bad_request(f"Unknown time-zone ID: {name}") from None


def _from_match(m: re.Match, default_tz: dt.tzinfo, round_up: bool = False) -> int:
    """Epoch millis; with ``round_up`` (range ``lte``/``gt``) missing components take their largest value."""
    year, month, day, hour, minute, second, frac, tz = m.groups()
    if not round_up and (tz or default_tz is UTC):  # the indexing case: no datetime objects
        return _utc_millis(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                           int(second or 0), frac, tz)
    tzinfo = _tz(tz) if tz else default_tz
    if round_up:
        import calendar
        # as OpenSearch's round-up parser: a missing month or day is 1, missing time fields are their maximum
        y, mo = int(year), int(month or 1)
        d = int(day or 1)
        value = dt.datetime(y, mo, d, int(hour or 23), int(minute or 59), int(second or 59), tzinfo=tzinfo)
        millis = _millis(value)
        return millis + (int((frac + "000")[:3]) if frac else 999)
    value = dt.datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                        int(second or 0), tzinfo=tzinfo)
    millis = _millis(value)
    if frac:
        millis += int((frac + "000")[:3])
    return millis


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _utc_millis(y: int, mo: int, d: int, h: int, mi: int, s: int, frac: str | None, tz: str | None) -> int:
    """Epoch millis of a time in UTC or at the fixed offset ``tz`` (``Z``, ``+01``, ``-05:30``) by day
    arithmetic (proleptic Gregorian); ValueError where ``datetime`` would refuse the date, time or offset."""
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not (1 <= y <= 9999 and 1 <= mo <= 12 and 1 <= d <= _MONTH_DAYS[mo - 1] + (mo == 2 and leap)
            and h < 24 and mi < 60 and s < 60):
        raise ValueError("day, month or time out of range")
    yy = y - (mo <= 2)
    era, yoe = divmod(yy, 400)
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + (153 * ((mo + 9) % 12) + 2) // 5 + d - 1 - 719468
    millis = (((days * 24 + h) * 60 + mi) * 60 + s) * 1000
    if frac:
        millis += int((frac + "000")[:3])
    if tz and tz not in ("Z", "z"):
        offset = _offset_minutes(tz)
        if abs(offset) >= 24 * 60:  # as dt.timezone refuses it
            raise ValueError("offset must be less than 24 hours")
        millis -= offset * 60000
    return millis


def _millis(value: dt.datetime) -> int:
    delta = value - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


_JAVA = {"yyyy": r"(?P<y>\d{4})", "uuuu": r"(?P<y>\d{4})", "MM": r"(?P<M>\d{2})", "dd": r"(?P<d>\d{2})",
         "HH": r"(?P<H>\d{2})", "mm": r"(?P<m>\d{2})", "ss": r"(?P<s>\d{2})", "SSS": r"(?P<S>\d{3})",
         "Z": r"(?P<z>Z|[+-]\d{2}:?\d{2})", "XXX": r"(?P<z>Z|[+-]\d{2}:\d{2})", "X": r"(?P<z>Z|[+-]\d{2})"}
_JAVA_TOKEN = re.compile(r"yyyy|uuuu|MM|dd|HH|mm|ss|SSS|XXX|X|Z|'[^']*'|[A-Za-z]+|.")
_JAVA_OUT = {"yyyy": "%Y", "uuuu": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def _java_pattern(pattern: str) -> tuple[re.Pattern, list[str]]:
    regex, out = [], []
    for token in _JAVA_TOKEN.findall(pattern):
        if token in _JAVA:
            regex.append(_JAVA[token])
            out.append(token)
        elif token.startswith("'"):
            regex.append(re.escape(token[1:-1] or "'"))
            out.append(token)
        elif token.isalpha():
            raise bad_request(f"Invalid format: [{pattern}]: date pattern letters [{token}] are not supported by the Mini search node")
        else:
            regex.append(re.escape(token))
            out.append(token)
    return re.compile("^" + "".join(regex) + "$"), out


NAMED = {"strict_date_optional_time", "date_optional_time", "dateOptionalTime", "strict_date_optional_time_nanos",
         "epoch_millis", "epoch_second", "date", "strict_date", "year_month_day", "strict_year_month_day",
         "date_time", "strict_date_time", "date_time_no_millis", "strict_date_time_no_millis", "basic_date",
         "strict_date_hour_minute_second", "date_hour_minute_second", "year", "strict_year", "year_month",
         "strict_year_month"}


class DateFormat:
    """A mapping's ``format`` (``a||b``): parse tries each alternative, print uses the first."""

    def __init__(self, spec: str | None):
        self.spec = spec or DEFAULT_FORMAT
        self.parts = [p.strip() for p in self.spec.split("||") if p.strip()]
        self._parsers: list[Callable[..., int | None]] = [self._parser(p) for p in self.parts]

    def _parser(self, name: str) -> Callable[[str, dt.tzinfo], int | None]:
        if name in ("epoch_millis",):
            return lambda s, tz, up=False: int(float(s)) if re.fullmatch(r"-?\d+(\.\d+)?", s) else None
        if name == "epoch_second":
            return lambda s, tz, up=False: int(float(s) * 1000) if re.fullmatch(r"-?\d+(\.\d+)?", s) else None
        if name in ("strict_date_optional_time", "strict_date_optional_time_nanos", "strict_date_time",
                    "strict_date_time_no_millis", "date_time", "date_time_no_millis", "strict_date_hour_minute_second",
                    "date_hour_minute_second"):
            rx = _STRICT_OPTIONAL_TIME
        elif name in ("date_optional_time", "dateOptionalTime"):
            rx = _OPTIONAL_TIME
        elif name in ("date", "strict_date", "year_month_day", "strict_year_month_day"):
            rx = re.compile(r"^(\d{4})-(\d{2})-(\d{2})()()()()()$")
        elif name in ("year", "strict_year"):
            rx = re.compile(r"^(\d{4})()()()()()()()$")
        elif name in ("year_month", "strict_year_month"):
            rx = re.compile(r"^(\d{4})-(\d{2})()()()()()()$")
        elif name == "basic_date":
            rx = re.compile(r"^(\d{4})(\d{2})(\d{2})()()()()()$")
        else:
            pattern, _ = _java_pattern(name)

            def java(s: str, tz: dt.tzinfo, up: bool = False) -> int | None:
                m = pattern.match(s)
                if not m:
                    return None
                g = m.groupdict()
                value = dt.datetime(int(g.get("y") or 1970), int(g.get("M") or 1), int(g.get("d") or 1),
                                    int(g.get("H") or 0), int(g.get("m") or 0), int(g.get("s") or 0),
                                    tzinfo=_tz(g["z"]) if g.get("z") else tz)
                return _millis(value) + int(g.get("S") or 0)
            return java

        def iso(s: str, tz: dt.tzinfo, up: bool = False) -> int | None:
            m = rx.match(s)
            return _from_match(m, tz, up) if m else None
        return iso

    def parse(self, value: object, tz: dt.tzinfo = UTC, round_up: bool = False) -> int:
        """Epoch millis, or SearchError (the caller wraps it as a mapper error with the field name)."""
        if isinstance(value, bool):
            raise ValueError(f"failed to parse date field [{value}] with format [{self.spec}]")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if any(p in ("epoch_millis",) for p in self.parts):
                return int(value)
            if "epoch_second" in self.parts:
                return int(value * 1000)
            value = str(value)
        text = str(value)
        cacheable = tz is UTC and not round_up
        if cacheable:
            # an event's timestamps often repeat (derived = collector, ...) and so do a bulk's
            hit = _PARSED.get((self.spec, text))
            if hit is not None:
                return hit
        for parser in self._parsers:
            try:
                result = parser(text, tz, round_up)
            except (ValueError, OverflowError):
                result = None
            if result is not None:
                if cacheable:
                    if len(_PARSED) > 4096:
                        _PARSED.clear()
                    _PARSED[(self.spec, text)] = result
                return result
        raise ValueError(f"failed to parse date field [{text}] with format [{self.spec}]")

    def format(self, millis: int | float, tz: dt.tzinfo = UTC) -> str:
        return format_millis(millis, self.parts[0], tz)


def format_millis(millis: int | float, name: str, tz: dt.tzinfo = UTC) -> str:
    millis = int(millis)
    if name == "epoch_millis":
        return str(millis)
    if name == "epoch_second":
        return str(millis // 1000)
    value = EPOCH + dt.timedelta(milliseconds=millis)
    value = value.astimezone(tz)
    if name in NAMED and name not in ("date", "strict_date", "year_month_day", "strict_year_month_day", "basic_date",
                                       "year", "strict_year", "year_month", "strict_year_month"):
        offset = value.utcoffset()
        suffix = "Z" if not offset else value.strftime("%z")[:3] + ":" + value.strftime("%z")[3:]
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}" + suffix
    if name in ("date", "strict_date", "year_month_day", "strict_year_month_day"):
        return value.strftime("%Y-%m-%d")
    if name == "basic_date":
        return value.strftime("%Y%m%d")
    if name in ("year", "strict_year"):
        return value.strftime("%Y")
    if name in ("year_month", "strict_year_month"):
        return value.strftime("%Y-%m")
    _, tokens = _java_pattern(name)
    out = []
    for token in tokens:
        if token in _JAVA_OUT:
            out.append(value.strftime(_JAVA_OUT[token]))
        elif token == "SSS":
            out.append(f"{value.microsecond // 1000:03d}")
        elif token in ("Z", "XXX", "X"):
            out.append("Z" if not value.utcoffset() else value.strftime("%z"))
        elif token.startswith("'"):
            out.append(token[1:-1] or "'")
        else:
            out.append(token)
    return "".join(out)


def check_format(spec: str) -> None:
    """Raise for a format this node cannot honour (index creation refuses it rather than mis-parse)."""
    for part in spec.split("||"):
        part = part.strip()
        if part and part not in NAMED:
            _java_pattern(part)


# ---- date math: now-1d/d, 2024-01-01||+1M/d ----
_MATH = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")
_UNIT_MS = {"w": 7 * 86400000, "d": 86400000, "h": 3600000, "H": 3600000, "m": 60000, "s": 1000}


def floor_unit(millis: int, unit: str, tz: dt.tzinfo = UTC) -> int:
    """Round down to the start of the calendar unit (y M q w d h m s) in ``tz``."""
    value = (EPOCH + dt.timedelta(milliseconds=millis)).astimezone(tz)
    if unit == "y":
        value = value.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "q":
        value = value.replace(month=(value.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "M":
        value = value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "w":
        value = (value - dt.timedelta(days=value.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "d":
        value = value.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit in ("h", "H"):
        value = value.replace(minute=0, second=0, microsecond=0)
    elif unit == "m":
        value = value.replace(second=0, microsecond=0)
    elif unit == "s":
        value = value.replace(microsecond=0)
    if isinstance(tz, ZoneInfo):
        value = value.replace(tzinfo=None).replace(tzinfo=tz)  # re-resolve the offset after rounding
    return _millis(value.astimezone(UTC))


def add_unit(millis: int, amount: int, unit: str, tz: dt.tzinfo = UTC) -> int:
    if unit in _UNIT_MS:
        return millis + amount * _UNIT_MS[unit]
    value = (EPOCH + dt.timedelta(milliseconds=millis)).astimezone(tz)
    months = amount * (12 if unit == "y" else 3 if unit == "q" else 1)
    total = value.year * 12 + value.month - 1 + months
    year, month = divmod(total, 12)
    import calendar
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return _millis(value.replace(year=year, month=month + 1, day=day).astimezone(UTC))


def parse_math(text: object, fmt: DateFormat, round_up: bool = False, tz: dt.tzinfo = UTC,
               now: int | None = None) -> int:
    """A range bound: a date in ``fmt`` or ``now``, then ``+1d``/``-1M``/``/d`` operations.

    ``round_up`` (for ``gt`` and ``lte``) rounds ``/unit`` to the last millisecond of the unit, as OpenSearch does.
    """
    if not isinstance(text, str):
        return fmt.parse(text, tz)
    if text.startswith("now"):
        base = int(time.time() * 1000) if now is None else now
        math = text[3:]
    elif "||" in text:
        anchor, math = text.split("||", 1)
        base = fmt.parse(anchor, tz, round_up and not math)
    else:
        return fmt.parse(text, tz, round_up)
    pos = 0
    value = base
    while pos < len(math):
        m = _MATH.match(math, pos)
        if not m:
            raise SearchError(400, "parse_exception", f"operator not supported for date math [{math}]")
        sign, amount, unit, rounding = m.groups()
        if rounding:
            value = floor_unit(value, rounding, tz)
            if round_up:
                value = add_unit(value, 1, rounding, tz) - 1
        else:
            value = add_unit(value, int(amount) * (1 if sign == "+" else -1), unit, tz)
        pos = m.end()
    return value
