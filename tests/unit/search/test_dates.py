"""Date formats, date math and rounding, with expectations from OpenSearch's date and range-query docs."""

import datetime as dt
import random

import pytest

from services.search import dates

UTC = dates.UTC


def ms(text):
    return dates.DateFormat("strict_date_optional_time").parse(text)


def test_optional_time_variants():
    assert ms("1970-01-01") == 0
    assert ms("1970-01-01T00:00:01Z") == 1000
    assert ms("1970-01-01T00:00:00.123Z") == 123
    assert ms("1970-01-01T01:00:00+01:00") == 0
    assert ms("1970-01-02T00:00") == 86400000
    assert ms("1970-02") == 31 * 86400000


def test_strict_rejects_loose_forms_but_date_optional_time_accepts_them():
    with pytest.raises(ValueError):
        ms("1970-1-2")
    assert dates.DateFormat("date_optional_time").parse("1970-1-2") == 86400000
    assert dates.DateFormat("dateOptionalTime").parse("1970-01-02T00:00:00Z") == 86400000


def test_default_format_accepts_epoch_millis():
    fmt = dates.DateFormat(None)
    assert fmt.parse(1500) == 1500
    assert fmt.parse("1500") == 1500 or fmt.parse("1500") == dates.DateFormat("strict_date_optional_time").parse("1500")


def test_custom_pattern_parse_and_print():
    fmt = dates.DateFormat("yyyy/MM/dd HH:mm:ss||epoch_millis")
    value = fmt.parse("2024/05/01 10:20:30")
    assert fmt.format(value) == "2024/05/01 10:20:30"


def test_printing_strict_date_optional_time():
    assert dates.format_millis(0, "strict_date_optional_time") == "1970-01-01T00:00:00.000Z"
    assert dates.format_millis(1714557600123, "date_optional_time") == "2024-05-01T10:00:00.123Z"


def test_date_math_rounding_as_range_queries_document():
    fmt = dates.DateFormat(None)
    # https://opensearch.org/docs/2.19/query-dsl/term/range/#date-math : gte/lt round down, gt/lte round up
    start = ms("2014-11-01")
    end_of_month = ms("2014-12-01") - 1
    assert dates.parse_math("2014-11-18||/M", fmt, round_up=False) == start
    assert dates.parse_math("2014-11-18||/M", fmt, round_up=True) == end_of_month
    assert dates.parse_math("2014-11-18||+1M/d", fmt) == ms("2014-12-18")
    now = ms("2024-05-10T15:30:00Z")
    assert dates.parse_math("now-1d/d", fmt, now=now) == ms("2024-05-09")
    assert dates.parse_math("now/d", fmt, round_up=True, now=now) == ms("2024-05-11") - 1
    assert dates.parse_math("now-2h", fmt, now=now) == ms("2024-05-10T13:30:00Z")


def test_round_up_parser_fills_missing_time_only():
    fmt = dates.DateFormat(None)
    assert dates.parse_math("2024-05-10", fmt, round_up=True) == ms("2024-05-11") - 1
    assert dates.parse_math("2024-05", fmt, round_up=True) == ms("2024-05-02") - 1


def test_calendar_floor_and_add():
    value = ms("2024-05-15T12:34:56Z")
    assert dates.floor_unit(value, "M") == ms("2024-05-01")
    assert dates.floor_unit(value, "w") == ms("2024-05-13")  # Monday
    assert dates.floor_unit(value, "q") == ms("2024-04-01")
    assert dates.add_unit(ms("2024-01-31"), 1, "M") == ms("2024-02-29")
    assert dates.floor_unit(value, "d", dates.zone("+02:00")) == ms("2024-05-14T22:00:00Z")


def test_day_arithmetic_agrees_with_datetime_on_every_kind_of_date():
    """Indexing parses UTC and fixed-offset times without datetime objects: same millis, same refusals."""
    rng = random.Random(11)
    fmt = dates.DateFormat("strict_date_optional_time")
    for _ in range(20000):
        y, mo, d = rng.choice([1, 4, 1600, 1900, 1969, 1970, 2000, 2024, 2100, 9999, rng.randint(1, 9999)]), \
            rng.randint(0, 13), rng.randint(0, 32)
        h, mi, s = rng.choice([0, 23, 24, rng.randint(0, 25)]), rng.randint(0, 60), rng.randint(0, 60)
        frac = rng.choice(["", ".5", ".123", ".123456789"])
        tz = rng.choice(["Z", "+01:00", "-05:30", "+0530", "+23:59", "+24:00", "-12"])
        text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{tz}"
        try:
            offset = dates._tz(tz)
            moment = dt.datetime(y, mo, d, h, mi, s, tzinfo=offset)
            expected = dates._millis(moment) + int((frac[1:] + "000")[:3])
        except ValueError:
            expected = None
        try:
            got = fmt.parse(text)
        except ValueError:
            got = None
        assert got == expected, text
