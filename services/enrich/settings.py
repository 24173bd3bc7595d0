"""Enrich's settings (section ``enrich``) plus the resolver keys it shares with the iglu service."""

from __future__ import annotations

from ..common.settings import Setting
from ..iglu.settings import SETTINGS as IGLU_SETTINGS

# The resolver's keys (config file, mirror dirs, local server URL/key, timeouts, JSON depth).
_RESOLVER_KEYS = ("iglu.resolver_config", "iglu.mirror_dirs", "iglu.server_url", "iglu.server_api_key",
                  "iglu.http_timeout", "iglu.max_json_depth")

SETTINGS: tuple[Setting, ...] = (
    Setting("enrich.host", "127.0.0.1", "Interface enrich's admin HTTP API (/health, /status, /enrichments) binds."),
    Setting("enrich.port", 0, "Port of enrich's admin HTTP API (0: any free port, written to run/enrich.json)."),
    Setting("enrich.max_in_flight", 200, "RawEvents messages enrich works on at once (NSQ RDY)."),
    Setting("enrich.output_buffer_timeout_ms", 5,
            "How long nsqd may hold RawEvents messages to batch them to enrich (pynsq's default, 250 ms, throttles)."),
    Setting("enrich.max_record_bytes", 1_000_000,
            "Largest enriched TSV line written to EnrichedEvents, in bytes; a larger one becomes a size_violation."),
    Setting("enrich.atomic_field_limits", {}, "Overrides of the atomic field length limits (TOML table "
            "[enrich.atomic_field_limits], field = max length); defaults are Snowplow enrich's.", type=dict),
    Setting("enrich.accept_invalid", False,
            "Let events through whose atomic fields exceed their length limits (Snowplow's acceptInvalid)."),
    Setting("enrich.js_time_limit_s", 1.0,
            "CPU-time limit of one javascript_script run, in seconds; a script over it fails that event."),
    Setting("enrich.js_memory_mb", 64, "Memory limit of each javascript_script engine, in MiB."),
    Setting("enrich.enrichments_dir", "",
            "Directory of enrichment config JSON files, one per enrichment (empty: $MINI_HOME/enrichments)."),
) + tuple(s for s in IGLU_SETTINGS if s.key in _RESOLVER_KEYS)
