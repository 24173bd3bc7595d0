import hashlib

import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.event_fingerprint import EventFingerprint
from services.enrich.enrichments.registry import EnrichContext

from .helpers import SP, errors_of, parse_errors, raw, run, sdj

SCHEMA = f"iglu:{SP}/event_fingerprint_config/jsonschema/1-0-1"
PARAMS = {"e": "pv", "eid": "2ec13853-ef9e-414a-8976-e64a4693b134", "tv": "js-4.6.8", "stm": "1665398554094",
          "aid": "site"}


@pytest.mark.parametrize("algorithm, fn", [("MD5", hashlib.md5), ("SHA1", hashlib.sha1),
                                           ("SHA256", hashlib.sha256), ("SHA384", hashlib.sha384),
                                           ("SHA512", hashlib.sha512)])
def test_hash_of_sorted_name_value_pairs_without_excluded(algorithm, fn):
    config = sdj(SCHEMA, {"hashAlgorithm": algorithm, "excludeParameters": ["eid", "stm"]})
    _, e, _ = run(EventFingerprint, config, EnrichedEvent(), EnrichContext(raw=raw(PARAMS)))
    # Snowplow: keys sorted, excluded dropped, key+value concatenated, hex digest.
    assert e.event_fingerprint == fn(b"aidsiteepvtvjs-4.6.8").hexdigest()


def test_same_event_resent_has_same_fingerprint():
    config = sdj(SCHEMA, {"hashAlgorithm": "MD5", "excludeParameters": ["eid", "stm"]})
    a = run(EventFingerprint, config, EnrichedEvent(), EnrichContext(raw=raw(PARAMS)))[1].event_fingerprint
    b = run(EventFingerprint, config, EnrichedEvent(),
            EnrichContext(raw=raw(dict(PARAMS, eid="other", stm="1")))
            )[1].event_fingerprint
    assert a == b


@pytest.mark.parametrize("params", [{}, {"hashAlgorithm": "CRC32", "excludeParameters": []},
                                    {"hashAlgorithm": "MD5"}, {"hashAlgorithm": "MD5", "excludeParameters": "eid"}])
def test_invalid_configs(params):
    assert errors_of(sdj(SCHEMA, params))
    assert parse_errors(EventFingerprint, sdj(SCHEMA, params))
