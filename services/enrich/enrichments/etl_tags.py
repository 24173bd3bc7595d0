"""``etl_tags``: the smallest enrichment, proving the registry — writes configured tags to the
``etl_tags`` column (which Snowplow's own enrich never sets), e.g. to mark events of a test run.

Config: ``{"schema": "iglu:io.minilab.enrichments/etl_tags_config/jsonschema/1-0-0", "data": {"name":
"etl_tags", "vendor": "io.minilab.enrichments", "enabled": true, "parameters": {"tags": ["run-42"]}}}``.
"""

from __future__ import annotations

from typing import Any

from .registry import ConfigError, Enrichment, SLOTS

SLOTS.setdefault("etl_tags", 1000)


class EtlTags(Enrichment):
    name = "etl_tags"
    schema_criterion = "iglu:io.minilab.enrichments/etl_tags_config/jsonschema/1-0-*"
    slot = 1000  # after Snowplow's own enrichments

    def parse(self, config: dict[str, Any]) -> str:
        params = config.get("data", {}).get("parameters")
        if not isinstance(params, dict):
            raise ConfigError("'parameters' must be an object")
        tags = params.get("tags")
        errors = []
        if not isinstance(tags, list) or not tags:
            errors.append("'parameters.tags' must be a non-empty array of strings")
        else:
            for i, tag in enumerate(tags):
                if not isinstance(tag, str) or not tag or any(c in tag for c in ",\t\r\n"):
                    errors.append(f"'parameters.tags[{i}]' must be a non-empty string without commas or tabs")
        extra = sorted(set(params) - {"tags"})
        if extra:
            errors.append(f"unknown parameters: {', '.join(extra)}")
        if errors:
            raise ConfigError(errors)
        return ",".join(tags)

    async def enrich(self, event, ctx, conf: str) -> list[dict[str, Any]]:
        event.etl_tags = conf
        return []
