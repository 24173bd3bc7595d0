"""``offline_check`` (the warning `mini up` prints) and the offline resolution message (DESIGN §6)."""

import json

from services.common.settings import load
from services.iglu import offline_check
from services.iglu.settings import SETTINGS


def settings_for(tmp_path, **env):
    config = {"schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
              "data": {"cacheSize": 10, "cacheTtl": 600, "repositories": [
                  {"name": "Iglu Central", "priority": 0, "vendorPrefixes": [],
                   "connection": {"http": {"uri": "http://iglucentral.invalid"}}}]}}
    path = tmp_path / "resolver.json"
    path.write_text(json.dumps(config))
    return load(SETTINGS, env={"MINI_HOME": str(tmp_path / "home"), "MINI_IGLU_RESOLVER_CONFIG": str(path), **env})


def test_warns_when_iglu_central_is_unreachable_and_nothing_is_cached(tmp_path):
    message = offline_check(settings_for(tmp_path), timeout=2)
    assert message and "unreachable" in message
    assert "MINI_IGLU_MIRROR_DIRS" in message and "mini iglu mirror" in message


def test_quiet_with_a_mirror_or_a_disk_cache(tmp_path, iglu_central_dir):
    assert offline_check(settings_for(tmp_path, MINI_IGLU_MIRROR_DIRS=str(iglu_central_dir))) is None
    cached = tmp_path / "home" / "iglu" / "cache" / "iglucentral.invalid" / "schemas" / "com.x" / "e" / "jsonschema"
    cached.mkdir(parents=True)
    (cached / "1-0-0").write_text("{}")
    assert offline_check(settings_for(tmp_path)) is None


def test_quiet_when_reachable(tmp_path, iglu_central):
    # The stand-in is not an iglucentral host, so a config naming only it needs no warning either.
    config = {"data": {"cacheSize": 1, "repositories": [{"name": "x", "priority": 0, "vendorPrefixes": [],
                                                          "connection": {"http": {"uri": iglu_central.url}}}]}}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(config))
    settings = load(SETTINGS, env={"MINI_HOME": str(tmp_path / "h"), "MINI_IGLU_RESOLVER_CONFIG": str(path)})
    assert offline_check(settings) is None
