"""Every iglu setting has help text, appears in ``--help`` and in the README's settings table."""

import subprocess
import sys
from pathlib import Path

from services.iglu.settings import SETTINGS

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_setting_is_documented():
    text = README.read_text()
    out = subprocess.run([sys.executable, "-m", "services.iglu", "--help"], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    for setting in SETTINGS:
        assert setting.help and setting.key.startswith("iglu.")
        assert f"| `{setting.key}` | `{setting.env}` |" in text, setting.key
        assert setting.long_flag in out, setting.key
