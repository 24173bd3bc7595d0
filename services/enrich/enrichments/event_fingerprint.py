"""Event fingerprint (``event_fingerprint_config``): ``event_fingerprint`` = hash of the raw parameters.

As Snowplow: parameters sorted by name, excluded names dropped, ``name + value`` concatenated, hashed
with the configured algorithm and written as lowercase hex.
"""

from __future__ import annotations

import dataclasses
import hashlib

from . import parameters
from .registry import Enrichment

ALGORITHMS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512"}

PARAMS = parameters.strict({
    "hashAlgorithm": {"enum": list(ALGORITHMS)},
    "excludeParameters": parameters.STRINGS,
}, ["hashAlgorithm", "excludeParameters"])


@dataclasses.dataclass(frozen=True)
class FingerprintConf:
    algorithm: str
    excluded: frozenset[str]


def fingerprint(params: dict[str, str | None], algorithm: str, excluded: frozenset[str]) -> str:
    text = "".join(f"{k}{v if v is not None else ''}" for k, v in sorted(params.items()) if k not in excluded)
    return hashlib.new(algorithm, text.encode("utf-8")).hexdigest()


class EventFingerprint(Enrichment):
    name = "event_fingerprint_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow/event_fingerprint_config/jsonschema/1-0-*"
    slot = 80

    def parse(self, config):
        params = parameters.check(config, PARAMS)
        return FingerprintConf(ALGORITHMS[params["hashAlgorithm"]], frozenset(params["excludeParameters"]))

    async def enrich(self, event, ctx, conf):
        event.event_fingerprint = fingerprint(ctx.raw.parameters, conf.algorithm, conf.excluded)
        return []
