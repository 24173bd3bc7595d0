"""The enrichment manager: one raw event -> an enriched event, or the one bad row it deserves.

Snowplow's order (snowplow-formats.md §2.5): set up the atomic fields and map the parameters;
validate the unstruct event and entities; run the always-on steps and then the configured
enrichments in slot order; validate derived contexts and field lengths; pick the bad-row type.
"""

from __future__ import annotations

import dataclasses
import uuid as uuid_mod
from typing import Any, Callable, Mapping

from ...common.enriched_event import EnrichedEvent
from . import atomic, entities
from .conversions import ConversionError, format_ms, safe, tstamp_ms
from .registry import EnrichContext, EnrichmentFailure, EnrichmentSet
from .urls import UrlError, cross_domain, parse_url

GOOD = "good"
SCHEMA_VIOLATIONS = "schema_violations"
ENRICHMENT_FAILURES = "enrichment_failures"

_SCHEMA_OF_EVENT = {
    "page_view": ("com.snowplowanalytics.snowplow", "page_view"),
    "page_ping": ("com.snowplowanalytics.snowplow", "page_ping"),
    "struct": ("com.google.analytics", "event"),
    "transaction": ("com.snowplowanalytics.snowplow", "transaction"),
    "transaction_item": ("com.snowplowanalytics.snowplow", "transaction_item"),
}


@dataclasses.dataclass
class EventResult:
    kind: str  # GOOD, SCHEMA_VIOLATIONS or ENRICHMENT_FAILURES
    event: EnrichedEvent
    messages: list[dict[str, Any]]
    pii: list[Any]


def _failure(field: str, value: Any, expectation: str) -> dict[str, Any]:
    return {"enrichment": None, "message": {"field": field, "value": value, "expectation": expectation}}


class Manager:
    """Enriches raw events with a fixed Iglu client and the live enrichment set (read per event)."""

    def __init__(
        self,
        iglu: Any,
        enrichments: Callable[[], EnrichmentSet],
        *,
        v_etl: str,
        limits: Mapping[str, int] = atomic.DEFAULT_LIMITS,
        accept_invalid: bool = False,
        max_json_depth: int = 50,
        http: Any = None,
    ):
        self.iglu = iglu
        self.enrichments = enrichments
        self.v_etl = v_etl
        self.limits = atomic.LengthLimits(limits)
        self.accept_invalid = accept_invalid
        self.max_json_depth = max_json_depth
        self.http = http

    async def enrich(self, raw, etl_tstamp: str) -> EventResult:
        event = EnrichedEvent()
        violations = self._setup(event, raw, etl_tstamp)
        params = raw.parameters
        unstruct_text, context_texts = self._entity_texts(params, violations)
        inner, tracker_entities, infos = None, [], []
        if unstruct_text is not None:
            event.unstruct_event = unstruct_text
            checked = await entities.unstruct(self.iglu, unstruct_text, self.max_json_depth)
            violations.extend(checked.messages)
            infos.extend(checked.infos)
            inner = checked.value
        if context_texts is not None:
            event.contexts = context_texts
            checked = await entities.contexts(self.iglu, context_texts, self.max_json_depth)
            violations.extend(checked.messages)
            infos.extend(i for i in checked.infos if i not in infos)
            tracker_entities = checked.value
        if violations:
            return EventResult(SCHEMA_VIOLATIONS, event, violations, [])
        # Valid: the JSON columns take their canonical form (§3.2).
        unstruct_column = entities.unstruct_column(inner) if inner is not None else None
        contexts_column = entities.contexts_column(tracker_entities)
        event.unstruct_event = unstruct_column
        event.contexts = contexts_column

        failures = self._always_on(event, inner)
        derived: list[dict[str, Any]] = []
        ctx = EnrichContext(raw=raw, contexts=tracker_entities, unstruct_event=inner, etl_tstamp=etl_tstamp,
                            http=self.http, derived=derived)
        for entry in self.enrichments().active:
            try:
                derived.extend(await entry.enrichment.enrich(event, ctx, entry.conf) or ())
            except EnrichmentFailure as exc:
                failures.extend(m if "enrichment" in m and "message" in m else
                                {"enrichment": entry.identifier, "message": m} for m in exc.messages)
            except Exception as exc:  # noqa: BLE001 - a crashing enrichment is that event's failure
                failures.append({"enrichment": entry.identifier,
                                 "message": {"error": f"{type(exc).__name__}: {exc}"}})
        if failures:
            return EventResult(ENRICHMENT_FAILURES, event, failures, [])

        late: list[dict[str, Any]] = []
        checked = await entities.derived(self.iglu, derived)
        late.extend(checked.messages)
        for info in checked.infos:
            if info not in infos:
                infos.append(info)
        if event.unstruct_event != unstruct_column and event.unstruct_event is not None:
            rechecked = await entities.unstruct(self.iglu, event.unstruct_event, self.max_json_depth)
            late.extend(rechecked.messages)
            if rechecked.value is not None:
                event.unstruct_event = entities.unstruct_column(rechecked.value)
        if event.contexts != contexts_column and event.contexts is not None:
            rechecked = await entities.contexts(self.iglu, event.contexts, self.max_json_depth)
            late.extend(rechecked.messages)
            event.contexts = entities.contexts_column(rechecked.value)
        event.derived_contexts = entities.contexts_column(checked.value + infos)
        lengths = self.limits.errors(event)
        if lengths and not self.accept_invalid:
            late.append(atomic.atomic_message(lengths))
        if late:
            return EventResult(SCHEMA_VIOLATIONS, event, late, [])
        return EventResult(GOOD, event, [], ctx.pii_events)

    # -- step 1 ---------------------------------------------------------------------------------
    def _setup(self, event: EnrichedEvent, raw, etl_tstamp: str) -> list[dict[str, Any]]:
        event.event_id = str(uuid_mod.uuid4())
        event.v_collector = raw.loader_name or None
        event.v_etl = self.v_etl
        event.etl_tstamp = etl_tstamp
        event.network_userid = raw.nuid
        event.user_ipaddress = raw.ip
        if raw.useragent:
            event.useragent = raw.useragent.replace("\r", "").replace("\n", "").replace("\t", "    ") or None
        reports = []
        if raw.timestamp is not None:
            try:
                event.collector_tstamp = format_ms(raw.timestamp)
            except ConversionError as exc:
                reports.append(atomic.report(str(exc), "collector_tstamp"))
        reports.extend(atomic.map_parameters(event, raw.parameters))
        if event.page_url is None and raw.parameters.get("url") is None and raw.referer:
            event.page_url = safe(raw.referer)
        return [atomic.atomic_message(reports)] if reports else []

    def _entity_texts(self, params: Mapping[str, str | None], violations: list) -> tuple[str | None, str | None]:
        """The unstruct and contexts JSON texts (base64 variants decoded)."""
        texts = []
        for plain, encoded in (("ue_pr", "ue_px"), ("co", "cx")):
            text = None
            if params.get(encoded) is not None:
                try:
                    text = entities.decode_base64(params[encoded])
                except ValueError as exc:
                    violations.append(atomic.atomic_message([atomic.report(str(exc), encoded)]))
            elif params.get(plain) is not None:
                text = params[plain]
            texts.append(text)
        return texts[0], texts[1]

    # -- step 3, the part that always runs --------------------------------------------------------
    def _always_on(self, event: EnrichedEvent, inner: dict[str, Any] | None) -> list[dict[str, Any]]:
        failures = []
        if not event.v_collector:
            failures.append(_failure("v_collector", None, "should be set"))
        if event.page_url is not None:
            try:
                parts = parse_url(event.page_url)
            except UrlError as exc:
                failures.append(_failure("page_url", event.page_url, f"could not be parsed as a URI: {exc}"))
            else:
                event.page_url = safe(parts.url)
                event.page_urlscheme, event.page_urlhost, event.page_urlport = parts.scheme, parts.host, parts.port
                event.page_urlpath, event.page_urlquery, event.page_urlfragment = parts.path, parts.query, parts.fragment
                try:
                    event.refr_domain_userid, event.refr_dvce_tstamp = cross_domain(parts.query)
                except UrlError as exc:
                    failures.append(_failure("refr_dvce_tstamp", event.page_urlquery, str(exc)))
        event.derived_tstamp = derived_tstamp(event)
        if event.page_referrer is not None:
            try:
                parts = parse_url(event.page_referrer)
            except UrlError:
                pass  # Snowplow leaves the referrer's components empty when it does not parse
            else:
                event.refr_urlscheme, event.refr_urlhost, event.refr_urlport = parts.scheme, parts.host, parts.port
                event.refr_urlpath, event.refr_urlquery, event.refr_urlfragment = parts.path, parts.query, parts.fragment
        schema = _SCHEMA_OF_EVENT.get(event.event)
        if schema is not None:
            event.event_vendor, event.event_name = schema
            event.event_format, event.event_version = "jsonschema", "1-0-0"
        elif event.event == "unstruct":
            if inner is not None:
                vendor_name_format_version = inner["schema"][len("iglu:"):].split("/")
                (event.event_vendor, event.event_name, event.event_format,
                 event.event_version) = vendor_name_format_version
        else:
            failures.append(_failure("event", event.event, (
                f"trying to extract the schema of the enriched event but event type [{event.event}] doesn't "
                "match any of page_view, page_ping, struct, transaction, transaction_item and unstruct")))
        return failures


def derived_tstamp(event: EnrichedEvent) -> str | None:
    """§3.3: true_tstamp; else collector - (sent - created) when created < sent; else collector."""
    if event.true_tstamp is not None:
        return event.true_tstamp
    created, sent, collector = event.dvce_created_tstamp, event.dvce_sent_tstamp, event.collector_tstamp
    if created and sent and collector and created < sent:
        try:
            return format_ms(tstamp_ms(collector) - (tstamp_ms(sent) - tstamp_ms(created)))
        except ConversionError:
            return collector
    return collector
