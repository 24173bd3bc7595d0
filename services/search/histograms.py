"""date_histogram and histogram: bucket keys computed in SQL (fixed widths, calendar units, time zones).

Calendar units other than fixed-width ones use the ``mini_round`` SQL function; ``min_doc_count: 0`` fills
the empty buckets between the first and last (and ``extended_bounds``), as OpenSearch does.
"""

from __future__ import annotations

import math
import re
from typing import Any

from . import dates
from .docset import DocSet
from .errors import bad_request, parsing, unsupported
from .mapping import NUMERIC
from .query import EMPTY

MAX_BUCKETS = 65535
CALENDAR = {"minute": "m", "1m": "m", "hour": "h", "1h": "h", "day": "d", "1d": "d", "week": "w", "1w": "w",
            "month": "M", "1M": "M", "quarter": "q", "1q": "q", "year": "y", "1y": "y"}
FIXED_UNITS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}


class Histograms:
    """Mixed into the aggregation runner."""

    def _histogram(self, name: str, body: Any, subs: dict[str, Any], docs: DocSet, date: bool) -> dict[str, Any]:
        kind = "date_histogram" if date else "histogram"
        field = self.field(body, kind)
        allowed = {"field", "interval", "calendar_interval", "fixed_interval", "format", "time_zone", "offset",
                   "min_doc_count", "extended_bounds", "hard_bounds", "order", "keyed", "missing"}
        unknown = set(body) - allowed
        if unknown:
            raise parsing(f"[{kind}] unknown field [{sorted(unknown)[0]}]")
        if "missing" in body:
            raise unsupported(f"[missing] in aggregation [{kind}]")
        min_count = int(body.get("min_doc_count", 0))
        keyed = bool(body.get("keyed", False))
        if field is not None:
            self.check_aggregatable(field, kind)
            if date and field.type != "date":
                if field.type not in NUMERIC:
                    raise bad_request(f"Field [{field.path}] of type [{field.type}] is not supported for aggregation [date_histogram]")
            if not date and field.type not in NUMERIC | {"date"}:
                raise bad_request(f"Field [{field.path}] of type [{field.type}] is not supported for aggregation [histogram]")
        tz = dates.zone(body.get("time_zone")) if date else dates.UTC
        fmt = dates.DateFormat(body["format"]) if date and body.get("format") else (
            field.format if field is not None and field.format is not None else dates.DateFormat(None))
        # the bucketing: fixed width (ms or number) or a calendar unit
        unit = width = None
        if date:
            calendar = body.get("calendar_interval")
            fixed = body.get("fixed_interval")
            legacy = body.get("interval")
            if sum(x is not None for x in (calendar, fixed, legacy)) != 1:
                raise bad_request("Required one of fields [fixed_interval, calendar_interval], but none were specified." if
                                  not any((calendar, fixed, legacy)) else "Cannot use more than one interval")
            if calendar is not None:
                if calendar not in CALENDAR:
                    raise bad_request(f"The supplied interval [{calendar}] could not be parsed as a calendar interval.")
                unit = CALENDAR[calendar]
            else:
                text = str(fixed if fixed is not None else legacy)
                if fixed is None and text in CALENDAR:
                    unit = CALENDAR[text]
                else:
                    width = _fixed_ms(text)
            offset = _offset_ms(body.get("offset", 0))
        else:
            if "interval" not in body:
                raise bad_request("[interval] must be >0 for histogram aggregation [%s]" % name)
            width = float(body["interval"])
            if width <= 0:
                raise bad_request(f"[interval] must be >0 for histogram aggregation [{name}]")
            offset = float(body.get("offset", 0))
        src = self.values(field, docs) if field is not None else None
        if unit in ("m", "h", "d", "w") and not hasattr(tz, "key"):
            width = {"m": 60000, "h": 3600000, "d": 86400000, "w": 7 * 86400000}[unit]
            offset = offset + (4 * 86400000 if unit == "w" else 0)
            unit = None
        rows: list[tuple[Any, int]] = []
        if src is not None:
            if unit is not None:
                key_sql = "mini_round(v, ?, ?)"
                key_params = [unit, body.get("time_zone") or "UTC"]
            elif date:
                tz_shift = _fixed_tz_shift(tz)
                key_sql = f"(v - {offset} + {tz_shift}) - (((v - {offset} + {tz_shift}) % {int(width)}) + {int(width)}) % {int(width)} + {offset} - {tz_shift}"
                key_params = []
            else:
                key_sql = f"floor((v - {offset}) / {width}) * {width} + {offset}"
                key_params = []
            rows = self._range_counts(src, unit, width, offset, tz, date)
            if rows is None:
                rows = self.conn.execute(f"SELECT {key_sql} AS b, count(DISTINCT k) {src[0]} GROUP BY b ORDER BY b",
                                         key_params + src[1]).fetchall()
        counts = {b: c for b, c in rows}
        keys = list(counts)
        if min_count == 0:
            bounds = body.get("extended_bounds") or {}
            low = high = None
            if keys:
                low, high = keys[0], keys[-1]
            if bounds:
                def bound(x):
                    if x is None:
                        return None
                    if date:
                        x = dates.parse_math(x, fmt, False, tz, self.now) if isinstance(x, str) else int(x)
                        return self._round(x, unit, width, offset, tz)
                    return math.floor((float(x) - offset) / width) * width + offset
                lo_b, hi_b = bound(bounds.get("min")), bound(bounds.get("max"))
                low = lo_b if low is None else (min(low, lo_b) if lo_b is not None else low)
                high = hi_b if high is None else (max(high, hi_b) if hi_b is not None else high)
            if low is not None and high is not None:
                keys = []
                key = low
                while key <= high:
                    keys.append(key)
                    self.tick()
                    if unit is not None:
                        key = dates.add_unit(int(key), 1, unit, tz)
                        key = self._round(key, unit, width, offset, tz)
                    else:
                        key = key + width
                    if len(keys) > MAX_BUCKETS:
                        self.tick(MAX_BUCKETS)
        else:
            keys = [k for k in keys if counts[k] >= min_count]
        buckets = []
        for key in keys:
            count = counts.get(key, 0)
            bucket: dict[str, Any] = {}
            if date:
                bucket["key_as_string"] = fmt.format(int(key), tz)
                bucket["key"] = int(key)
            else:
                bucket["key"] = float(key)
            bucket["doc_count"] = count
            if subs:
                if date and unit is not None:
                    end = dates.add_unit(int(key), 1, unit, tz)
                else:
                    end = key + width
                bucket_docs = self.bucket_docs(field, "v >= ? AND v < ?", [key, end], docs) if count and field is not None \
                    else DocSet(EMPTY, docs.scope)
                bucket.update(self.sub(subs, bucket_docs))
            buckets.append(bucket)
        self.tick(len(buckets))
        order = body.get("order")
        if order:
            (okey, direction), = order.items() if isinstance(order, dict) else order[0].items()
            reverse = str(direction).lower() == "desc"
            if okey == "_key":
                buckets.sort(key=lambda b: b["key"], reverse=reverse)
            elif okey == "_count":
                buckets.sort(key=lambda b: (-b["doc_count"] if reverse else b["doc_count"], b["key"]))
            else:
                raise unsupported(f"ordering a {kind} by [{okey}]")
        if keyed:
            return {"buckets": {b.get("key_as_string", str(b["key"])): b for b in buckets}}
        return {"buckets": buckets}

    def _range_counts(self, src, unit, width, offset, tz, date: bool) -> list[tuple[Any, int]] | None:
        """Bucket counts as one index range count per bucket (C-speed), or None when buckets are too many.

        The field's first and last values bound the buckets; each count is ``count(DISTINCT k)`` over a
        (field, value) range, so a document with two values in one bucket still counts once.
        """
        low, high = self.conn.execute(f"SELECT min(v), max(v) {src[0]}", src[1]).fetchone()
        if low is None or not isinstance(low, (int, float)):
            return [] if low is None else None
        if date:
            bounds = [self._round(low, unit, width, offset, tz)]
        else:  # keys as OpenSearch computes them: floor((value - offset) / interval) * interval + offset
            base = math.floor((low - offset) / width)
            bounds = [base * width + offset]
        while bounds[-1] <= high:
            if unit is not None:
                nxt = self._round(dates.add_unit(int(bounds[-1]), 1, unit, tz), unit, width, offset, tz)
            elif date:
                nxt = bounds[-1] + width
            else:
                nxt = (base + len(bounds)) * width + offset
            bounds.append(nxt)
            if len(bounds) > 400:
                return None
        rows = []
        for start, end in zip(bounds, bounds[1:]):
            n = self.conn.execute(f"SELECT count(DISTINCT k) {src[0]} AND v >= ? AND v < ?",
                                  src[1] + [start, end]).fetchone()[0]
            if n:
                rows.append((start, n))
        return rows

    def _round(self, value: int, unit, width, offset, tz) -> int:
        if unit is not None:
            return dates.floor_unit(int(value), unit, tz)
        shift = _fixed_tz_shift(tz)
        v = value - offset + shift
        return int(v - (v % width) + offset - shift)

    def agg_date_histogram(self, name, body, subs, docs):
        return self._histogram(name, body, subs, docs, True)

    def agg_histogram(self, name, body, subs, docs):
        return self._histogram(name, body, subs, docs, False)


def _fixed_ms(text: str) -> int:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text.strip())
    if not m:
        raise bad_request(f"failed to parse setting [date_histogram.fixedInterval] with value [{text}] as a time value: "
                          f"unit is missing or unrecognized")
    return int(m.group(1)) * FIXED_UNITS[m.group(2)]


def _offset_ms(value: Any) -> int:
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    return sign * _fixed_ms(text) if text else 0


def _fixed_tz_shift(tz) -> int:
    offset = tz.utcoffset(None) if not hasattr(tz, "key") else None
    if offset is None:
        if hasattr(tz, "key"):
            raise unsupported("fixed_interval date_histogram with a region time_zone")
        return 0
    return int(offset.total_seconds() * 1000)
