"""Cookie extractor (``cookie_extractor_config``): one ``org.ietf/http_cookie`` entity per configured
cookie found in the request's ``Cookie`` headers (the collector keeps them in the payload)."""

from __future__ import annotations

from . import headers, parameters
from .registry import Enrichment

SCHEMA = "iglu:org.ietf/http_cookie/jsonschema/1-0-0"
PARAMS = parameters.strict({"cookies": parameters.STRINGS}, ["cookies"])


class CookieExtractor(Enrichment):
    name = "cookie_extractor_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow/cookie_extractor_config/jsonschema/1-0-*"
    slot = 90

    def parse(self, config):
        return frozenset(parameters.check(config, PARAMS)["cookies"])

    async def enrich(self, event, ctx, conf):
        return [{"schema": SCHEMA, "data": {"name": name, "value": value}}
                for name, value in headers.cookies(ctx.raw.headers) if name in conf]
