"""Every collector setting has help text, shows in ``--help`` and has a row in the README."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.collector.settings import RESERVED_PREFIXES, SETTINGS

REPO = Path(__file__).resolve().parents[3]


def test_every_setting_is_documented():
    readme = (REPO / "README.md").read_text()
    for setting in SETTINGS:
        assert setting.key.startswith("collector.") and setting.help.strip()
        assert f"| `{setting.key}` | `{setting.env}` |" in readme, setting.key


def test_help_lists_every_setting():
    out = subprocess.run([sys.executable, "-m", "services.collector", "--help"], capture_output=True, text=True,
                         timeout=120, cwd=REPO, env={**os.environ, "COLUMNS": "1000"}).stdout
    for setting in SETTINGS:
        assert setting.long_flag in out or (setting.flag and setting.flag in out), setting.key
        assert setting.env in out


def test_reserved_prefixes_are_designs():
    assert set(RESERVED_PREFIXES) == {"/micro", "/iglu-server", "/control-plane", "/elasticsearch", "/dashboard", "/home", "/kibana"}
