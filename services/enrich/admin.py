"""Enrich's admin API (loopback): list, switch and replace enrichment configs at run time.

``GET /enrichments``, ``GET|PUT|DELETE /enrichments/{name}`` and ``POST /enrichments`` (multipart field
``enrichmentjson``, the form Snowplow Mini's control plane uses).  A change is live for the next
event when the call answers; an invalid config gets 400 with every error and changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from ..common.http import ApiError, BaseHandler, error_body
from .enrichments.registry import ConfigError
from .enrichments.store import EnrichmentStore, for_state


class _Handler(BaseHandler):
    def initialize(self, store: EnrichmentStore) -> None:
        self.store = store

    def invalid(self, exc: ConfigError) -> None:
        body = error_body(400, "invalid enrichment config: " + "; ".join(exc.errors))
        body["errors"] = list(exc.errors)
        self.write_json(body, 400)

    async def apply(self, name: str | None, config: Any) -> None:
        try:
            entry = await self.store.put(name, config)
        except ConfigError as exc:
            self.invalid(exc)
            return
        self.write_json({"version": self.store.current.version, "enrichment": self.store.describe(entry)})


class EnrichmentsHandler(_Handler):
    def get(self) -> None:
        self.write_json(self.store.listing())

    async def post(self) -> None:
        files = self.request.files.get("enrichmentjson")
        if files:
            try:
                config = json.loads(files[0]["body"])
            except (ValueError, UnicodeDecodeError) as exc:
                raise ApiError(400, f"enrichmentjson is not valid JSON: {exc}") from None
        elif "enrichmentjson" in self.request.body_arguments:
            try:
                config = json.loads(self.request.body_arguments["enrichmentjson"][0])
            except (ValueError, UnicodeDecodeError) as exc:
                raise ApiError(400, f"enrichmentjson is not valid JSON: {exc}") from None
        elif (self.request.headers.get("Content-Type") or "").startswith("application/json"):
            config = self.json_body()
        else:
            raise ApiError(400, "send the config as multipart field 'enrichmentjson' or as a JSON body")
        await self.apply(None, config)


class EnrichmentHandler(_Handler):
    def get(self, name: str) -> None:
        found = self.store.lookup(name)
        if found is None:
            raise ApiError(404, f"no enrichment {name!r} is configured")
        self.write_json(found)

    async def put(self, name: str) -> None:
        await self.apply(name, self.json_body())

    async def delete(self, name: str) -> None:
        try:
            entry = await self.store.disable(name)
        except KeyError:
            raise ApiError(404, f"no enrichment {name!r} is configured") from None
        except ConfigError as exc:
            self.invalid(exc)
            return
        described = entry if isinstance(entry, dict) else self.store.describe(entry)
        self.write_json({"version": self.store.current.version, "enrichment": described})


def routes(state: Any) -> list:
    """Tornado URL rules for enrich's app; ``state`` is enrich's State (or an EnrichmentStore)."""
    store = state if isinstance(state, EnrichmentStore) else for_state(state)
    return [
        (r"/enrichments/?", EnrichmentsHandler, {"store": store}),
        (r"/enrichments/([A-Za-z0-9_.\-]+)", EnrichmentHandler, {"store": store}),
    ]
