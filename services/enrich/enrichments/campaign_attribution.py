"""Campaign attribution (``campaign_attribution``): ``mkt_*`` fields from the page URL's querystring.

For each field the first configured parameter present wins (``utm_medium`` …); click ids
(``gclid`` → Google, ``msclkid`` → Microsoft, ``dclid`` → DoubleClick, plus ``mktClickId``) set
``mkt_clickid`` and ``mkt_network``.
"""

from __future__ import annotations

import dataclasses

from . import parameters, querystring
from .registry import Enrichment

PARAMS = parameters.strict({
    "mapping": {"type": ["string", "null"], "enum": ["static", "script", None]},
    "fields": parameters.strict({
        "mktMedium": parameters.STRINGS,
        "mktSource": parameters.STRINGS,
        "mktTerm": parameters.STRINGS,
        "mktContent": parameters.STRINGS,
        "mktCampaign": parameters.STRINGS,
        "mktClickId": {"type": "object", "additionalProperties": {"type": "string"}},
    }, ["mktMedium", "mktSource", "mktTerm", "mktContent", "mktCampaign"]),
}, ["fields"])

DEFAULT_CLICK_IDS = {"gclid": "Google", "msclkid": "Microsoft", "dclid": "DoubleClick"}
FIELDS = {"mktMedium": "mkt_medium", "mktSource": "mkt_source", "mktTerm": "mkt_term",
          "mktContent": "mkt_content", "mktCampaign": "mkt_campaign"}


@dataclasses.dataclass(frozen=True)
class CampaignConf:
    fields: tuple[tuple[str, tuple[str, ...]], ...]  # (event field, parameter names in priority order)
    click_ids: tuple[tuple[str, str], ...]  # (parameter, network)


class CampaignAttribution(Enrichment):
    name = "campaign_attribution"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow/campaign_attribution/jsonschema/1-0-*"
    slot = 60

    def parse(self, config):
        params = parameters.check(config, PARAMS)
        fields = params["fields"]
        click_ids = dict(DEFAULT_CLICK_IDS)
        click_ids.update(fields.get("mktClickId") or {})
        return CampaignConf(
            tuple((FIELDS[key], tuple(fields[key])) for key in FIELDS),
            tuple(click_ids.items()),
        )

    async def enrich(self, event, ctx, conf):
        qs = querystring.parse(event.page_urlquery)
        if not qs:
            return []
        for field, names in conf.fields:
            for name in names:
                if name in qs:
                    setattr(event, field, qs[name])
                    break
        for name, network in conf.click_ids:
            if name in qs:
                event.mkt_clickid = qs[name]
                event.mkt_network = network
                break
        return []
