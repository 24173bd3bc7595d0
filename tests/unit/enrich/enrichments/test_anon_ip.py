import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.anon_ip import AnonIp

from .helpers import SP, errors_of, parse_errors, run, sdj

SCHEMA = f"iglu:{SP}/anon_ip/jsonschema/1-0-1"


@pytest.mark.parametrize("octets, expected", [
    (1, "203.0.113.x"), (2, "203.0.x.x"), (3, "203.x.x.x"), (4, "x.x.x.x")])
def test_ipv4_octets_replaced_with_x(octets, expected):
    _, event, _ = run(AnonIp, sdj(SCHEMA, {"anonOctets": octets}), EnrichedEvent(user_ipaddress="203.0.113.7"))
    assert event.user_ipaddress == expected


@pytest.mark.parametrize("segments, expected", [
    (1, "2001:db8:0:0:0:ff00:42:x"), (2, "2001:db8:0:0:0:ff00:x:x"), (8, "x:x:x:x:x:x:x:x")])
def test_ipv6_segments_replaced_with_x(segments, expected):
    config = sdj(SCHEMA, {"anonOctets": 1, "anonSegments": segments})
    _, event, _ = run(AnonIp, config, EnrichedEvent(user_ipaddress="2001:0db8:0000:0000:0000:ff00:0042:8329"))
    assert event.user_ipaddress == expected


@pytest.mark.parametrize("ip", ["unknown", None, ""])
def test_non_ip_values_are_kept(ip):
    _, event, _ = run(AnonIp, sdj(SCHEMA, {"anonOctets": 2}), EnrichedEvent(user_ipaddress=ip))
    assert event.user_ipaddress == ip


def test_valid_configs_match_snowplow_schema():
    for params in ({"anonOctets": 1}, {"anonOctets": 4, "anonSegments": 8}):
        assert errors_of(sdj(SCHEMA, params)) == []
        run(AnonIp, sdj(SCHEMA, params), EnrichedEvent())


@pytest.mark.parametrize("params", [
    {}, {"anonOctets": 0}, {"anonOctets": 5}, {"anonOctets": "2"}, {"anonOctets": 2, "anonSegments": 9},
    {"anonOctets": 2, "extra": True}])
def test_invalid_configs_rejected_like_snowplow_schema(params):
    config = sdj(SCHEMA, params)
    assert errors_of(config), "the case must be invalid per Snowplow's schema too"
    assert parse_errors(AnonIp, config)


def test_every_error_reported_at_once():
    errors = parse_errors(AnonIp, sdj(SCHEMA, {"anonOctets": 9, "anonSegments": 0, "x": 1}))
    assert len(errors) == 3, errors
