"""HTTP header extractor (``http_header_extractor_config``): one ``org.ietf/http_header`` entity per
request header whose name matches ``headersPattern`` (a whole-name regular expression, as Java's
``String.matches``)."""

from __future__ import annotations

import re

from . import headers, parameters
from .registry import ConfigError, Enrichment

SCHEMA = "iglu:org.ietf/http_header/jsonschema/1-0-0"
PARAMS = parameters.strict({"headersPattern": {"type": "string"}}, ["headersPattern"])
MAX_VALUE = 4096  # the http_header schema's maxLength


class HttpHeaderExtractor(Enrichment):
    name = "http_header_extractor_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow.enrichments/http_header_extractor_config/jsonschema/1-0-*"
    slot = 95

    def parse(self, config):
        params = parameters.check(config, PARAMS)
        try:
            return re.compile(params["headersPattern"])
        except re.error as exc:
            raise ConfigError([f"data.parameters.headersPattern: not a regular expression: {exc}"]) from None

    async def enrich(self, event, ctx, conf):
        return [{"schema": SCHEMA, "data": {"name": name, "value": value[:MAX_VALUE]}}
                for name, value in headers.pairs(ctx.raw.headers) if conf.fullmatch(name)]
