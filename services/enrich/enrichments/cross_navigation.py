"""Cross navigation (``cross_navigation_config``): the ``cross_navigation`` entity from the page URL's
``_sp`` parameter (``duid.tstamp.session_id.user_id_b64.source_id.platform.reason_b64``); the atomic
``refr_domain_userid``/``refr_dvce_tstamp`` are set by enrich itself, always."""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from . import parameters, querystring
from .registry import Enrichment, EnrichmentFailure

SCHEMA = "iglu:com.snowplowanalytics.snowplow/cross_navigation/jsonschema/1-0-0"
PLATFORMS = {"web", "mob", "pc", "srv", "app", "tv", "cnsl", "iot", "headset"}


def _b64(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def entity(sp: str) -> dict | None:
    parts = sp.split(".")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    try:
        ms = int(parts[1])
        stamp = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise EnrichmentFailure({"field": "_sp", "value": sp,
                                 "expectation": "the second part of _sp must be a timestamp in milliseconds"}) from None
    part = lambda i: parts[i] if len(parts) > i and parts[i] else None  # noqa: E731
    platform = part(5)
    return {
        "domain_user_id": parts[0],
        "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z",
        "session_id": part(2),
        "user_id": _b64(part(3)),
        "source_id": part(4),
        "source_platform": platform if platform in PLATFORMS else None,
        "reason": _b64(part(6)),
    }


class CrossNavigation(Enrichment):
    name = "cross_navigation_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow.enrichments/cross_navigation_config/jsonschema/1-0-*"
    slot = 70

    def parse(self, config):
        parameters.check(config, None, params_required=False)
        return None

    async def enrich(self, event, ctx, conf):
        sp = querystring.parse(event.page_urlquery).get("_sp")
        found = entity(sp) if sp else None
        return [{"schema": SCHEMA, "data": found}] if found else []
