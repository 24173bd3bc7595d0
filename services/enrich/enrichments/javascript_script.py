"""JavaScript enrichment (``javascript_script_config``): a user's ``process(event, params)`` per event.

As Snowplow documents it: the script (base64 in ``script``) gets the event with ``getX()``/``setX(v)``
bean accessors for every atomic field and ``parameters.config`` as ``params``; it returns an array of
self-describing entities (added to ``derived_contexts``) or null.  A throw, a non-array result or a hit
limit is an ``enrichment_failures`` bad row.  Several scripts may be configured (one file each).
"""

from __future__ import annotations

import base64
import binascii

from ...common.enriched_event import FIELDS
from . import parameters
from .js_sandbox import DEFAULT_MEMORY_LIMIT, DEFAULT_TIME_LIMIT_S, Sandbox, ScriptError
from .registry import ConfigError, Enrichment, EnrichmentFailure

PARAMS = parameters.strict({"script": {"type": "string"}, "config": {"type": "object"}}, ["script"])
_FIELD_SET = frozenset(FIELDS)


def limits(settings) -> tuple[float, int]:
    """(time limit s, memory limit bytes): settings ``enrich.js_time_limit_s`` / ``enrich.js_memory_mb``."""
    time_s = float(settings.get("enrich.js_time_limit_s") or DEFAULT_TIME_LIMIT_S)
    memory_mb = int(settings.get("enrich.js_memory_mb") or DEFAULT_MEMORY_LIMIT // (1024 * 1024))
    return time_s, memory_mb * 1024 * 1024


class JavascriptConf:
    def __init__(self, sandbox: Sandbox, params: dict):
        self.sandbox, self.params = sandbox, params


def _contexts(out) -> list[dict]:
    if out is None:
        return []
    if not isinstance(out, list):
        raise ScriptError(f"process must return an array of self-describing JSONs or null, got {type(out).__name__}")
    for item in out:
        if not (isinstance(item, dict) and isinstance(item.get("schema"), str) and "data" in item):
            raise ScriptError(f"process returned an element that is not a self-describing JSON: {item!r}"[:500])
    return out


class JavascriptScript(Enrichment):
    name = "javascript_script_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow/javascript_script_config/jsonschema/1-0-*"
    slot = 150
    multiple = True

    def parse(self, config):
        params = parameters.check(config, PARAMS)
        try:
            source = base64.b64decode(params["script"], validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise ConfigError([f"data.parameters.script: not base64-encoded UTF-8 JavaScript: {exc}"]) from None
        time_s, memory = limits(self.settings)
        try:
            sandbox = Sandbox(source, time_limit_s=time_s, memory_limit=memory)
        except ScriptError as exc:
            raise ConfigError([f"data.parameters.script: {exc}"]) from None
        return JavascriptConf(sandbox, params.get("config") or {})

    async def enrich(self, event, ctx, conf):
        # Only the set fields cross into the engine: a getter of an absent one answers null.
        fields = {name: value for name in FIELDS if (value := getattr(event, name)) is not None}
        try:
            out, changed = conf.sandbox.run(fields, conf.params)
            contexts = _contexts(out)
        except ScriptError as exc:
            raise EnrichmentFailure({"error": f"Error during execution of JavaScript function: [{exc}]"}) from None
        for name, value in changed.items():
            if name in _FIELD_SET:
                setattr(event, name, value)
        return contexts
