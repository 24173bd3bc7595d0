"""The settings rule of DESIGN §6: defaults < mini.toml < environment < flags."""

import argparse

import pytest

from services.common import settings as s

SPEC = (
    s.Setting("collector.port", 9090, "Public port.", flag="--port"),
    s.Setting("enrich.limits.page_url", 10000, "Max page_url length."),
    s.Setting("iglu.mirror_dirs", [], "Mirror dirs.", type=list),
    s.Setting("durability.fsync", True, "fsync."),
)


def parse(argv, env, tmp_path):
    parser = argparse.ArgumentParser()
    s.add_arguments(parser, s.merge_specs((s.HOME,), SPEC))
    args = parser.parse_args(["--data-dir", str(tmp_path), *argv])
    return s.load(SPEC, args, env=env)


def test_defaults(tmp_path):
    cfg = parse([], {}, tmp_path)
    assert cfg["collector.port"] == 9090
    assert cfg.source("collector.port") == "default"
    assert cfg.home == tmp_path.resolve()


def test_precedence_file_env_flag(tmp_path):
    (tmp_path / "mini.toml").write_text('[collector]\nport = 1111\n[enrich.limits]\npage_url = 5\n')
    cfg = parse([], {}, tmp_path)
    assert cfg["collector.port"] == 1111 and cfg["enrich.limits.page_url"] == 5
    cfg = parse([], {"MINI_COLLECTOR_PORT": "2222", "MINI_ENRICH_LIMITS_PAGE_URL": "7"}, tmp_path)
    assert cfg["collector.port"] == 2222 and cfg["enrich.limits.page_url"] == 7
    cfg = parse(["--port", "3333"], {"MINI_COLLECTOR_PORT": "2222"}, tmp_path)
    assert cfg["collector.port"] == 3333
    assert cfg.source("collector.port") == "--collector-port"


def test_lists_and_bools_from_env(tmp_path):
    cfg = parse([], {"MINI_IGLU_MIRROR_DIRS": "/a, /b", "MINI_DURABILITY_FSYNC": "false"}, tmp_path)
    assert cfg["iglu.mirror_dirs"] == ["/a", "/b"]
    assert cfg["durability.fsync"] is False


def test_bad_value_names_key_and_source(tmp_path):
    with pytest.raises(s.SettingsError, match="collector.port.*MINI_COLLECTOR_PORT"):
        parse([], {"MINI_COLLECTOR_PORT": "nope"}, tmp_path)


def test_invalid_toml_is_a_clear_error(tmp_path):
    (tmp_path / "mini.toml").write_text("[collector\n")
    with pytest.raises(s.SettingsError, match="not valid TOML"):
        parse([], {}, tmp_path)


def test_every_common_setting_has_help():
    for setting in s.COMMON:
        assert setting.help.strip(), setting.key
