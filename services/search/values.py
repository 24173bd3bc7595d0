"""JSON values to indexed values: text, numbers with OpenSearch's coercion, booleans, geo points.

Each function raises ValueError (or TypeError) for a value that does not fit; the mapping turns that into
OpenSearch's ``mapper_parsing_exception`` naming the field and document.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any

INTEGRAL = {"long": 2**63, "integer": 2**31, "short": 2**15, "byte": 2**7}
_GEOHASH = "0123456789bcdefghjkmnpqrstuvwxyz"


def float32(value: float) -> float:
    """Lucene keeps ``float`` fields in 32 bits; aggregations then report the widened value."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value) if not isinstance(value, float) else _float_text(value)
    raise ValueError(f"Can't get text on a {type(value).__name__}")


def _float_text(value: float) -> str:
    return repr(value) if not value.is_integer() or abs(value) >= 1e16 else f"{value:.1f}"


def _number(value: Any, coerce: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"Current token (VALUE_{str(value).upper()}) not numeric, can not use numeric value accessors")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and coerce not in (False, "false"):
        number = float(value.strip())
    else:
        raise ValueError(f"For input string: \"{value}\"")
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"[{value}] is not a valid number")
    return number


def _integral(value: Any, kind: str, coerce: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"Current token (VALUE_{str(value).upper()}) not numeric, can not use numeric value accessors")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if coerce in (False, "false") and not value.is_integer():
            raise ValueError(f"Value [{value}] has a decimal part")
        number = int(value)
    elif isinstance(value, str) and coerce not in (False, "false"):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            number = int(float(text)) if re.fullmatch(r"-?\d+(\.\d*)?([eE][-+]?\d+)?", text) else None
            if number is None:
                raise ValueError(f"For input string: \"{value}\"") from None
    else:
        raise ValueError(f"For input string: \"{value}\"")
    bound = INTEGRAL[kind]
    if not -bound <= number < bound:
        raise ValueError(f"Value [{value}] is out of range for {'a long' if kind == 'long' else 'an ' + kind}")
    return number


def _boolean(value: Any) -> int:
    if value is True or value == "true":
        return 1
    if value is False or value in ("false", ""):
        return 0
    raise ValueError(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


def _geo(value: Any) -> tuple[float, float]:
    if isinstance(value, dict):
        lat, lon = float(value["lat"]), float(value["lon"])
    elif isinstance(value, (list, tuple)) and len(value) >= 2:
        lon, lat = float(value[0]), float(value[1])
    elif isinstance(value, str) and "," in value:
        lat_text, lon_text = value.split(",", 1)
        lat, lon = float(lat_text), float(lon_text)
    elif isinstance(value, str) and value and all(c in _GEOHASH for c in value.lower()):
        lat, lon = _geohash(value.lower())
    else:
        raise ValueError(f"failed to parse geo point [{value}]")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"illegal latitude/longitude value [{lat}, {lon}]")
    return lat, lon


def _geohash(text: str) -> tuple[float, float]:
    lat_lo, lat_hi, lon_lo, lon_hi, even = -90.0, 90.0, -180.0, 180.0, True
    for char in text:
        bits = _GEOHASH.index(char)
        for shift in range(4, -1, -1):
            bit = (bits >> shift) & 1
            if even:
                mid = (lon_lo + lon_hi) / 2
                lon_lo, lon_hi = (mid, lon_hi) if bit else (lon_lo, mid)
            else:
                mid = (lat_lo + lat_hi) / 2
                lat_lo, lat_hi = (mid, lat_hi) if bit else (lat_lo, mid)
            even = not even
    return (lat_lo + lat_hi) / 2, (lon_lo + lon_hi) / 2


