"""Atomic fields: tracker parameters mapped onto the enriched event, and the field length limits.

``map_parameters`` applies snowplow-formats.md §2.2 (each parameter's conversion and validation);
``length_errors`` applies §3.5 (limits in UTF-16 code units, as Java's ``String.length``).  Both
return Snowplow's atomic dataReports, which become one ``schema_violations`` message.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Mapping

from ...common.enriched_event import EnrichedEvent
from . import conversions as cv
from .conversions import ConversionError

ATOMIC_SCHEMA = "iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0"

_TEXT: dict[str, str] = {
    "aid": "app_id", "tna": "name_tracker", "tv": "v_tracker", "cv": "v_collector", "uid": "user_id",
    "duid": "domain_userid", "nuid": "network_userid", "ua": "useragent", "fp": "user_fingerprint",
    "tz": "os_timezone", "lang": "br_lang", "cs": "doc_charset", "cd": "br_colordepth", "url": "page_url",
    "page": "page_title", "refr": "page_referrer",
    "se_ca": "se_category", "se_ac": "se_action", "se_la": "se_label", "se_pr": "se_property",
    "ev_ca": "se_category", "ev_ac": "se_action", "ev_la": "se_label", "ev_pr": "se_property",
    "tr_id": "tr_orderid", "tr_af": "tr_affiliation", "tr_ci": "tr_city", "tr_st": "tr_state",
    "tr_co": "tr_country", "tr_cu": "tr_currency", "ti_id": "ti_orderid", "ti_sk": "ti_sku",
    "ti_nm": "ti_name", "ti_na": "ti_name", "ti_ca": "ti_category", "ti_cu": "ti_currency",
}
_CONVERTED: dict[str, tuple[str, Callable[[str], str | None]]] = {
    "e": ("event", cv.event_type), "p": ("platform", cv.platform),
    "eid": ("event_id", cv.uuid), "sid": ("domain_sessionid", cv.uuid),
    "tid": ("txn_id", cv.java_int), "vid": ("domain_sessionidx", cv.java_int),
    "dtm": ("dvce_created_tstamp", cv.timestamp_ms), "stm": ("dvce_sent_tstamp", cv.timestamp_ms),
    "ttm": ("true_tstamp", cv.timestamp_ms), "ip": ("user_ipaddress", cv.first_ip),
    "cookie": ("br_cookies", cv.byte_bool),
    "f_pdf": ("br_features_pdf", cv.byte_bool), "f_fla": ("br_features_flash", cv.byte_bool),
    "f_java": ("br_features_java", cv.byte_bool), "f_dir": ("br_features_director", cv.byte_bool),
    "f_qt": ("br_features_quicktime", cv.byte_bool), "f_realp": ("br_features_realplayer", cv.byte_bool),
    "f_wma": ("br_features_windowsmedia", cv.byte_bool), "f_gears": ("br_features_gears", cv.byte_bool),
    "f_ag": ("br_features_silverlight", cv.byte_bool),
    "se_va": ("se_value", cv.big_decimal), "ev_va": ("se_value", cv.big_decimal),
    "tr_tt": ("tr_total", cv.big_decimal), "tr_tx": ("tr_tax", cv.big_decimal),
    "tr_sh": ("tr_shipping", cv.big_decimal), "ti_pr": ("ti_price", cv.big_decimal),
    "ti_qu": ("ti_quantity", cv.java_int),
    "pp_mix": ("pp_xoffset_min", cv.java_int), "pp_max": ("pp_xoffset_max", cv.java_int),
    "pp_miy": ("pp_yoffset_min", cv.java_int), "pp_may": ("pp_yoffset_max", cv.java_int),
}
_SIZES: dict[str, tuple[str, str]] = {
    "res": ("dvce_screenwidth", "dvce_screenheight"),
    "vp": ("br_viewwidth", "br_viewheight"),
    "ds": ("doc_width", "doc_height"),
}
# The self-describing parameters are decoded here but validated in entities.py.
ENTITY_PARAMS = ("ue_pr", "ue_px", "co", "cx")

DEFAULT_LIMITS: dict[str, int] = {
    "app_id": 255, "platform": 255, "event": 128, "event_id": 36, "name_tracker": 128, "v_tracker": 100,
    "v_collector": 100, "v_etl": 100, "user_id": 255, "user_ipaddress": 128, "user_fingerprint": 128,
    "domain_userid": 128, "network_userid": 128, "geo_country": 2, "geo_region": 3, "geo_city": 75,
    "geo_zipcode": 15, "geo_region_name": 100, "ip_isp": 100, "ip_organization": 128, "ip_domain": 128,
    "ip_netspeed": 100, "page_url": 10000, "page_title": 2000, "page_referrer": 10000, "page_urlscheme": 16,
    "page_urlhost": 255, "page_urlpath": 3000, "page_urlquery": 6000, "page_urlfragment": 3000,
    "refr_urlscheme": 16, "refr_urlhost": 255, "refr_urlpath": 6000, "refr_urlquery": 6000,
    "refr_urlfragment": 3000, "refr_medium": 25, "refr_source": 50, "refr_term": 255, "mkt_clickid": 1000,
    "mkt_network": 64, "mkt_medium": 255, "mkt_source": 255, "mkt_term": 255, "mkt_content": 500,
    "mkt_campaign": 255, "se_category": 1000, "se_action": 1000, "se_label": 4096, "se_property": 1000,
    "tr_orderid": 255, "tr_affiliation": 255, "tr_city": 255, "tr_state": 255, "tr_country": 255,
    "ti_orderid": 255, "ti_sku": 255, "ti_name": 255, "ti_category": 255, "useragent": 1000, "br_name": 50,
    "br_family": 50, "br_version": 50, "br_type": 50, "br_renderengine": 50, "br_lang": 255,
    "br_colordepth": 12, "os_name": 50, "os_family": 50, "os_manufacturer": 50, "os_timezone": 255,
    "dvce_type": 50, "doc_charset": 128, "tr_currency": 3, "ti_currency": 3, "base_currency": 3,
    "geo_timezone": 64, "etl_tags": 500, "refr_domain_userid": 128, "domain_sessionid": 128,
    "event_vendor": 1000, "event_name": 1000, "event_format": 128, "event_version": 128,
    "event_fingerprint": 128,
}


def report(message: str, path: str, keyword: str = "atomic_field_parse_error") -> dict[str, Any]:
    return {"message": message, "path": path, "keyword": keyword, "targets": []}


# One lookup per parameter: name -> (field, converter or None for TSV-safe text, second field of a size).
_SPEC: dict[str, tuple[str, Callable[[str], Any] | None, str | None]] = {
    **{name: (field, None, None) for name, field in _TEXT.items()},
    **{name: (field, conv, None) for name, (field, conv) in _CONVERTED.items()},
    **{name: (w, cv.size, h) for name, (w, h) in _SIZES.items()},
}


def map_parameters(event: EnrichedEvent, params: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """Set the fields the parameters name; return the dataReports of values that failed."""
    errors: list[dict[str, Any]] = []
    spec_of = _SPEC.get
    safe = cv.safe
    for name, value in params.items():
        spec = spec_of(name)
        if spec is None or value is None:
            continue
        field, conv, second = spec
        if conv is None:
            setattr(event, field, safe(value))
            continue
        try:
            converted = conv(value)
        except ConversionError as exc:
            errors.append(report(str(exc), name))
            continue
        if second is None:
            setattr(event, field, converted)
        else:
            setattr(event, field, converted[0])
            setattr(event, second, converted[1])
    tnuid = params.get("tnuid")
    if tnuid is not None:
        event.network_userid = cv.safe(tnuid)
    return errors


def utf16_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


class LengthLimits:
    """Field length limits, checked with one attribute fetch per event (this runs for every event)."""

    def __init__(self, limits: Mapping[str, int]):
        self.items = tuple((f, int(n)) for f, n in limits.items())
        self.limits = tuple(n for _, n in self.items)
        self._values = operator.attrgetter(*(f for f, _ in self.items)) if self.items else (lambda _e: ())

    def errors(self, event: EnrichedEvent) -> list[dict[str, Any]]:
        values = self._values(event)
        if len(self.items) == 1:
            values = (values,)
        lengths = [0 if v is None else len(v) if v.isascii() else utf16_length(v) for v in values]
        if not any(map(operator.gt, lengths, self.limits)):
            return []
        return [report(f"Field is longer than maximum allowed size {limit}", field, "atomic_field_length_exceeded")
                for n, (field, limit) in zip(lengths, self.items) if n > limit]


def length_errors(event: EnrichedEvent, limits: Mapping[str, int]) -> list[dict[str, Any]]:
    return LengthLimits(limits).errors(event)


def atomic_message(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One schema_violations message for every atomic error of an event."""
    return {"schemaKey": ATOMIC_SCHEMA, "error": {"dataReports": reports, "error": "ValidationError"}}
