import asyncio
import base64
import json

import pytest

from services.enrich.enrichments.registry import ConfigError
from services.enrich.enrichments.store import DEFAULT_DIR, EnrichmentStore

from .helpers import SP, errors_of, sdj

DEFAULTS_ON = {"campaign_attribution", "event_fingerprint_config", "referer_parser", "ua_parser_config"}


def store(tmp_path, iglu=None):
    s = EnrichmentStore(tmp_path / "enrichments", home=tmp_path, iglu=iglu)
    assert asyncio.run(s.load()) == []
    return s


def anon(enabled=True, octets=2):
    return sdj(f"iglu:{SP}/anon_ip/jsonschema/1-0-1", {"anonOctets": octets}, enabled=enabled)


def test_shipped_defaults_valid_against_their_schemas():
    files = sorted(DEFAULT_DIR.glob("*.json"))
    assert len(files) >= 17
    for path in files:
        config = json.loads(path.read_text())
        assert errors_of(config) == [], path.name
        assert config["data"]["name"] == path.stem


def test_defaults_on_as_snowplow_mini_ships(tmp_path):
    s = store(tmp_path)
    assert {e.name for e in s.current.active} == DEFAULTS_ON
    listed = {e["id"]: e for e in s.listing()["enrichments"]}
    assert {"anon_ip", "ip_lookups", "javascript_script_config", "pii_enrichment_config"} <= set(listed)
    assert all(not e["enabled"] for i, e in listed.items() if i not in DEFAULTS_ON)


def test_put_is_live_persisted_and_survives_restart(tmp_path):
    s = store(tmp_path)
    before = s.current.version
    entry = asyncio.run(s.put("anon_ip", anon()))
    assert entry.enabled and "anon_ip" in {e.name for e in s.current.active}
    assert s.current.version != before
    assert json.loads((tmp_path / "enrichments" / "anon_ip.json").read_text()) == anon()
    again = store(tmp_path)
    assert again.current.version == s.current.version
    assert "anon_ip" in {e.name for e in again.current.active}


def test_invalid_put_reports_every_error_and_changes_nothing(tmp_path):
    s = store(tmp_path)
    live = s.current
    bad = sdj(f"iglu:{SP}/anon_ip/jsonschema/1-0-1", {"anonOctets": 9, "anonSegments": 0})
    with pytest.raises(ConfigError) as caught:
        asyncio.run(s.put("anon_ip", bad))
    assert len(caught.value.errors) == 2
    assert s.current is live
    assert not (tmp_path / "enrichments" / "anon_ip.json").exists()


@pytest.mark.parametrize("config", [
    {"schema": "nope", "data": {}}, sdj("iglu:com.acme/unknown/jsonschema/1-0-0", {}),
    sdj(f"iglu:{SP}/anon_ip/jsonschema/2-0-0", {"anonOctets": 1})])
def test_unusable_configs_rejected(tmp_path, config):
    with pytest.raises(ConfigError):
        asyncio.run(store(tmp_path).put(None, config))


def test_name_in_url_must_match(tmp_path):
    with pytest.raises(ConfigError):
        asyncio.run(store(tmp_path).put("ua_parser_config", anon()))


def test_disable_and_dormant_defaults(tmp_path):
    s = store(tmp_path)
    entry = asyncio.run(s.disable("referer_parser"))
    assert not entry.enabled and "referer_parser" not in {e.name for e in s.current.active}
    ip = s.lookup("ip_lookups")
    assert ip["enabled"] is False and ip["errors"]  # no GeoLite2 file on this machine: listed, not run
    with pytest.raises(ConfigError) as caught:
        asyncio.run(s.put("ip_lookups", dict(ip["config"], data=dict(ip["config"]["data"], enabled=True))))
    assert any("GeoLite2-City.mmdb" in e for e in caught.value.errors)


def test_several_javascript_scripts(tmp_path):
    s = store(tmp_path)
    script = base64.b64encode(b"function process(e){ return null; }").decode()
    js = sdj(f"iglu:{SP}/javascript_script_config/jsonschema/1-0-1", {"script": script})
    asyncio.run(s.put("javascript_script_config", js))
    asyncio.run(s.put("second_script", js))
    assert [e.id for e in s.current.active if e.name == "javascript_script_config"] == [
        "javascript_script_config", "second_script"]


def test_invalid_user_file_reported_not_fatal(tmp_path):
    (tmp_path / "enrichments").mkdir()
    (tmp_path / "enrichments" / "broken.json").write_text("{nope")
    s = EnrichmentStore(tmp_path / "enrichments", home=tmp_path)
    errors = asyncio.run(s.load())
    assert any("broken" in e for e in errors)
    assert {e.name for e in s.current.active} == DEFAULTS_ON


def test_validated_through_the_resolver(tmp_path, iglu):
    s = store(tmp_path, iglu=iglu)
    assert s.lookup("ua_parser_config")["validated"] is True
    asyncio.run(s.put("anon_ip", anon()))
    assert s.lookup("anon_ip")["validated"] is True


class FakeState:
    """The parts of enrich's State the store uses."""

    def __init__(self, home, iglu):
        from services.enrich.enrichments.registry import EnrichmentSet
        self.home, self.iglu, self.enrichments_dir = home, iglu, home / "enrichments"
        self.enrichments, self.enrichment_errors = EnrichmentSet(), []
        self.settings = {}

    def swap(self, new):
        old, self.enrichments = self.enrichments, new
        return old


def test_load_set_hook_then_background_validation(tmp_path, iglu):
    from services.enrich.enrichments import store as store_mod

    async def body():
        state = FakeState(tmp_path, iglu)
        live, errors = store_mod.load_set(state)
        assert errors == [] and live is state.enrichments
        assert {e.name for e in live.active} == DEFAULTS_ON
        assert not any(e.validated for e in live.entries)
        await state.enrichment_store._validation
        assert all(e.validated for e in state.enrichments.entries)
        assert state.enrichments.version == live.version
        await state.enrichment_store.put("anon_ip", anon())
        assert "anon_ip" in {e.name for e in state.enrichments.active}
    asyncio.run(body())
