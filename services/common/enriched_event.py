"""The canonical enriched event: the 131 fields, the TSV line, and the bad-row ``enriched`` object.

Every attribute of :class:`EnrichedEvent` holds the TSV text of its field (``str``) or ``None``
(empty column), so writing the line is a join.  Field order and value formats follow
snowplow-formats.md §3.1; the bad-row types of ``as_payload_dict`` follow §4.4.
"""

from __future__ import annotations

import operator
from typing import Any

FIELDS: tuple[str, ...] = (
    "app_id", "platform", "etl_tstamp", "collector_tstamp", "dvce_created_tstamp", "event", "event_id",
    "txn_id", "name_tracker", "v_tracker", "v_collector", "v_etl", "user_id", "user_ipaddress",
    "user_fingerprint", "domain_userid", "domain_sessionidx", "network_userid", "geo_country", "geo_region",
    "geo_city", "geo_zipcode", "geo_latitude", "geo_longitude", "geo_region_name", "ip_isp", "ip_organization",
    "ip_domain", "ip_netspeed", "page_url", "page_title", "page_referrer", "page_urlscheme", "page_urlhost",
    "page_urlport", "page_urlpath", "page_urlquery", "page_urlfragment", "refr_urlscheme", "refr_urlhost",
    "refr_urlport", "refr_urlpath", "refr_urlquery", "refr_urlfragment", "refr_medium", "refr_source",
    "refr_term", "mkt_medium", "mkt_source", "mkt_term", "mkt_content", "mkt_campaign", "contexts",
    "se_category", "se_action", "se_label", "se_property", "se_value", "unstruct_event", "tr_orderid",
    "tr_affiliation", "tr_total", "tr_tax", "tr_shipping", "tr_city", "tr_state", "tr_country", "ti_orderid",
    "ti_sku", "ti_name", "ti_category", "ti_price", "ti_quantity", "pp_xoffset_min", "pp_xoffset_max",
    "pp_yoffset_min", "pp_yoffset_max", "useragent", "br_name", "br_family", "br_version", "br_type",
    "br_renderengine", "br_lang", "br_features_pdf", "br_features_flash", "br_features_java",
    "br_features_director", "br_features_quicktime", "br_features_realplayer", "br_features_windowsmedia",
    "br_features_gears", "br_features_silverlight", "br_cookies", "br_colordepth", "br_viewwidth",
    "br_viewheight", "os_name", "os_family", "os_manufacturer", "os_timezone", "dvce_type", "dvce_ismobile",
    "dvce_screenwidth", "dvce_screenheight", "doc_charset", "doc_width", "doc_height", "tr_currency",
    "tr_total_base", "tr_tax_base", "tr_shipping_base", "ti_currency", "ti_price_base", "base_currency",
    "geo_timezone", "mkt_clickid", "mkt_network", "etl_tags", "dvce_sent_tstamp", "refr_domain_userid",
    "refr_dvce_tstamp", "derived_contexts", "domain_sessionid", "derived_tstamp", "event_vendor", "event_name",
    "event_format", "event_version", "event_fingerprint", "true_tstamp",
)
assert len(FIELDS) == 131

# Fields the bad-row ``enriched`` object carries as JSON numbers (§4.4); everything else is a string.
INT_FIELDS = frozenset({
    "domain_sessionidx", "page_urlport", "refr_urlport", "ti_quantity", "pp_xoffset_min", "pp_xoffset_max",
    "pp_yoffset_min", "pp_yoffset_max", "br_features_pdf", "br_features_flash", "br_features_java",
    "br_features_director", "br_features_quicktime", "br_features_realplayer", "br_features_windowsmedia",
    "br_features_gears", "br_features_silverlight", "br_cookies", "dvce_ismobile", "br_viewwidth",
    "br_viewheight", "dvce_screenwidth", "dvce_screenheight", "doc_width", "doc_height",
})
FLOAT_FIELDS = frozenset({"geo_latitude", "geo_longitude"})
TIMESTAMP_FIELDS = frozenset({
    "etl_tstamp", "collector_tstamp", "dvce_created_tstamp", "dvce_sent_tstamp", "refr_dvce_tstamp",
    "derived_tstamp", "true_tstamp",
})
JSON_FIELDS = frozenset({"contexts", "unstruct_event", "derived_contexts"})
INDEX = {name: i for i, name in enumerate(FIELDS)}


class EnrichedEvent:
    """One event; attributes named as :data:`FIELDS`, each the TSV text or ``None``."""

    __slots__ = FIELDS

    def __init__(self, **values: str | None):
        _clear(self)
        for name, value in values.items():
            setattr(self, name, value)

    def to_tsv(self) -> str:
        return "\t".join([v or "" for v in _values(self)])

    @classmethod
    def from_tsv(cls, line: str) -> "EnrichedEvent":
        """Parse one TSV line; raises ValueError unless it has exactly 131 fields."""
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) != len(FIELDS):
            raise ValueError(f"expected {len(FIELDS)} tab-separated fields, found {len(parts)}")
        event = cls.__new__(cls)
        _fill(event, *[p or None for p in parts])
        return event

    def as_dict(self) -> dict[str, str | None]:
        """Every field by name, TSV text or None (handy for DataFrames and tests)."""
        return dict(zip(FIELDS, _values(self)))

    def as_payload_dict(self) -> dict[str, Any]:
        """The ``enriched`` object of schema_violations / enrichment_failures payloads (§4.4)."""
        out: dict[str, Any] = {}
        for name in FIELDS:
            value = getattr(self, name)
            if value is not None and name in INT_FIELDS:
                try:
                    value = int(value)
                except ValueError:
                    pass
            elif value is not None and name in FLOAT_FIELDS:
                try:
                    value = float(value)
                except ValueError:
                    pass
            out[name] = value
        return out

    def copy(self) -> "EnrichedEvent":
        event = EnrichedEvent.__new__(EnrichedEvent)
        _fill(event, *_values(self))
        return event

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnrichedEvent) and _values(self) == _values(other)

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        set_fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in FIELDS if getattr(self, n) is not None)
        return f"EnrichedEvent({set_fields})"


# The hot path builds and writes one of these per event: straight-line code beats 131 setattr calls.
_values = operator.attrgetter(*FIELDS)
_namespace: dict = {}
exec(  # noqa: S102 - generated from the constant FIELDS above, nothing external
    "def _clear(self):\n" + "".join(f"    self.{n} = None\n" for n in FIELDS)
    + "def _fill(self, " + ", ".join(FIELDS) + "):\n" + "".join(f"    self.{n} = {n}\n" for n in FIELDS),
    _namespace,
)
_clear = _namespace["_clear"]
_fill = _namespace["_fill"]
