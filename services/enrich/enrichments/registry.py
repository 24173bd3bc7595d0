"""The enrichment registry: the base class, registration by entry point, and the active set.

An enrichment is a subclass of :class:`Enrichment` declared in the entry-point group
``mini.enrichments`` (built-ins too, in pyproject.toml).  :class:`EnrichmentSet` is an immutable,
validated set of configs ordered by Snowplow's fixed slots; the service swaps the live set by one
reference assignment, so a new set applies to the next event without a restart.

INTERFACE (stable; the enrichments helper codes against it; announce any change here, loudly):
  Enrichment.name / schema_criterion / slot, parse(config) -> conf (raise ConfigError with every
  error), async enrich(event, ctx, conf) -> list of derived-context SDJs (raise EnrichmentFailure;
  may set fields on event).  Optional: multiple = True lets several configs of one name coexist
  (ids from the config mapping), and ``self.home`` is the data directory (assets), or None.
  EnrichmentFailure messages may be full {"enrichment", "message"} dicts or bare message bodies
  ({"error"} / {"field","value","expectation"} / {"schemaKey","error"}); the pipeline wraps bare
  ones with {"schemaKey": <the config's schema>, "identifier": <name>}.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping

from ...common.enriched_event import EnrichedEvent
from ..adapters.raw_event import RawEvent

log = logging.getLogger(__name__)

GROUP = "mini.enrichments"

# Snowplow's fixed order of the optional enrichments (snowplow-formats.md §2.5 step 3).
SLOTS: dict[str, int] = {
    "iab_spiders_and_robots_enrichment": 10,
    "user_agent_utils_config": 20,
    "ua_parser_config": 30,
    "currency_conversion_config": 40,
    "referer_parser": 50,
    "campaign_attribution": 60,
    "cross_navigation_config": 70,
    "event_fingerprint_config": 80,
    "cookie_extractor_config": 90,
    "http_header_extractor_config": 95,
    "weather_enrichment_config": 100,
    "yauaa_enrichment_config": 110,
    "ip_lookups": 120,
    "asn_lookups": 130,
    "bot_detection_enrichment_config": 140,
    "javascript_script_config": 150,
    "sql_query_enrichment_config": 160,
    "api_request_enrichment_config": 170,
    "anon_ip": 180,
    "pii_enrichment_config": 190,
    "event_spec_enrichment_config": 200,
}

_CRITERION = re.compile(r"^iglu:([a-zA-Z0-9-_.]+)/([a-zA-Z0-9-_]+)/([a-zA-Z0-9-_]+)/([0-9]+|\*)-([0-9]+|\*)-([0-9]+|\*)$")
_KEY = re.compile(r"^iglu:([a-zA-Z0-9-_.]+)/([a-zA-Z0-9-_]+)/([a-zA-Z0-9-_]+)/([1-9][0-9]*)-(0|[1-9][0-9]*)-(0|[1-9][0-9]*)$")


class ConfigError(ValueError):
    """An enrichment config cannot be used; ``errors`` lists every problem at once."""

    def __init__(self, errors: list[str] | str):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(self.errors))


class EnrichmentFailure(Exception):
    """An enrichment failed for one event; ``messages`` go into the enrichment_failures bad row."""

    def __init__(self, messages: list[dict[str, Any]] | dict[str, Any]):
        self.messages = [messages] if isinstance(messages, dict) else list(messages)
        super().__init__(json.dumps(self.messages, ensure_ascii=False)[:500])


@dataclasses.dataclass
class EnrichContext:
    """What an enrichment may read besides the event (Snowplow passes the same to its enrichments)."""

    raw: RawEvent
    contexts: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # tracker entities (validated)
    unstruct_event: dict[str, Any] | None = None  # the inner SDJ of the self-describing event
    etl_tstamp: str | None = None
    pii_events: list[Any] = dataclasses.field(default_factory=list)  # PiiEvents records to publish (emitEvent)
    http: Any = None  # a shared async HTTP client (tornado AsyncHTTPClient) or None
    derived: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # entities earlier enrichments derived


def criterion_matches(criterion: str, schema_key: str) -> bool:
    """Iglu SchemaCriterion match: equality on every component given, ``*`` matches any."""
    c = _CRITERION.match(criterion)
    k = _KEY.match(schema_key or "")
    if not c or not k:
        return False
    if c.group(1, 2, 3) != k.group(1, 2, 3):
        return False
    return all(want == "*" or int(want) == int(have) for want, have in zip(c.group(4, 5, 6), k.group(4, 5, 6)))


class Enrichment:
    """Base class.  Subclasses set the three class variables and implement parse/enrich."""

    name: ClassVar[str]
    schema_criterion: ClassVar[str]
    slot: ClassVar[int]
    multiple: ClassVar[bool] = False

    def __init__(self, home: Path | None = None, settings: Mapping[str, Any] | None = None):
        self.home = home
        self.settings = settings or {}  # the enrich service's settings (e.g. the JS limits)

    def parse(self, config: dict[str, Any]) -> Any:
        """Check the whole self-describing config; return what ``enrich`` needs, or raise ConfigError."""
        return config.get("data", {}).get("parameters")

    async def enrich(self, event: EnrichedEvent, ctx: EnrichContext, conf: Any) -> list[dict[str, Any]]:
        return []

    async def close(self) -> None:
        """Release resources (files, connections) when a set that used this instance is retired."""


def registered() -> dict[str, type[Enrichment]]:
    """Every enrichment class declared in the ``mini.enrichments`` entry-point group, by name."""
    found: dict[str, type[Enrichment]] = {}
    for ep in metadata.entry_points(group=GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide the others
            log.error("enrichment entry point %s failed to load: %s", ep.value, exc)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Enrichment)):
            log.error("entry point %s is not an Enrichment subclass", ep.value)
            continue
        found.setdefault(cls.name, cls)
    return found


@dataclasses.dataclass(frozen=True)
class Entry:
    """One config in a set: its id, the config JSON, the parsed form and the instance that runs it."""

    id: str
    name: str
    config: dict[str, Any]
    enabled: bool
    enrichment: Enrichment | None
    conf: Any
    validated: bool = True  # False when the config's schema could not be resolved (checked by parse only)

    @property
    def schema(self) -> str:
        return self.config.get("schema", "")

    @property
    def slot(self) -> int:
        return self.enrichment.slot if self.enrichment else SLOTS.get(self.name, 1000)

    @property
    def identifier(self) -> dict[str, str]:
        return {"schemaKey": self.schema, "identifier": self.name}


def config_version(configs: Iterable[dict[str, Any]]) -> str:
    canonical = json.dumps(sorted(json.dumps(c, sort_keys=True) for c in configs))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


class EnrichmentSet:
    """An immutable set of checked configs; ``active`` are the enabled ones in slot order."""

    def __init__(self, entries: Iterable[Entry] = ()):
        self.entries: tuple[Entry, ...] = tuple(sorted(entries, key=lambda e: (e.slot, e.id)))
        self.active: tuple[Entry, ...] = tuple(e for e in self.entries if e.enabled and e.enrichment)
        self.version = config_version(e.config for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, id_or_name: str) -> Entry | None:
        for entry in self.entries:
            if entry.id == id_or_name:
                return entry
        for entry in self.entries:
            if entry.name == id_or_name:
                return entry
        return None

    def configs(self) -> dict[str, dict[str, Any]]:
        return {e.id: e.config for e in self.entries}

    @classmethod
    def from_configs(
        cls,
        configs: Iterable[dict[str, Any]] | Mapping[str, dict[str, Any]],
        *,
        home: Path | None = None,
        registry: Mapping[str, type[Enrichment]] | None = None,
        unvalidated: Iterable[str] = (),
        settings: Mapping[str, Any] | None = None,
    ) -> tuple["EnrichmentSet", list[str]]:
        """Parse every config; return the set of the good ones and every error (``"<id>: msg"``).

        ``configs`` is a list (ids = names) or a mapping id -> config (e.g. file stems).
        ``unvalidated`` names ids whose schema the resolver could not check.
        """
        registry = registered() if registry is None else registry
        items = list(configs.items()) if isinstance(configs, Mapping) else [(None, c) for c in configs]
        unvalidated = set(unvalidated)
        entries: list[Entry] = []
        errors: list[str] = []
        seen: dict[str, str] = {}
        for given_id, config in items:
            problems, name, enabled = _envelope_problems(config)
            entry_id = given_id or name or "?"
            if problems:
                errors.extend(f"{entry_id}: {p}" for p in problems)
                continue
            klass = registry.get(name)
            if klass is None:
                errors.append(f"{entry_id}: no enrichment named {name!r} is registered")
                continue
            if not criterion_matches(klass.schema_criterion, config["schema"]):
                errors.append(f"{entry_id}: schema {config['schema']} does not match {klass.schema_criterion}")
                continue
            if name in seen and not klass.multiple:
                errors.append(f"{entry_id}: a second config for {name!r} (already given as {seen[name]!r})")
                continue
            seen.setdefault(name, entry_id)
            instance = klass(home, settings)
            try:
                conf = instance.parse(config)
            except ConfigError as exc:
                errors.extend(f"{entry_id}: {e}" for e in exc.errors)
                continue
            except Exception as exc:  # noqa: BLE001 - a parser bug is a config error, not a crash
                errors.append(f"{entry_id}: {type(exc).__name__}: {exc}")
                continue
            entries.append(Entry(entry_id, name, config, enabled, instance, conf, entry_id not in unvalidated))
        return cls(entries), errors


def _envelope_problems(config: Any) -> tuple[list[str], str | None, bool]:
    """The self-describing envelope: schema, data.name, data.vendor, data.enabled."""
    if not isinstance(config, dict):
        return ["config is not a JSON object"], None, False
    problems = []
    if not isinstance(config.get("schema"), str) or not _KEY.match(config["schema"]):
        problems.append(f"'schema' must be an Iglu URI, got {config.get('schema')!r}")
    data = config.get("data")
    if not isinstance(data, dict):
        return problems + ["'data' must be an object"], None, False
    name = data.get("name")
    if not isinstance(name, str) or not name:
        problems.append("'data.name' must be a non-empty string")
        name = None
    if not isinstance(data.get("enabled"), bool):
        problems.append("'data.enabled' must be true or false")
    if "vendor" in data and not isinstance(data["vendor"], str):
        problems.append("'data.vendor' must be a string")
    return problems, name, bool(data.get("enabled"))
