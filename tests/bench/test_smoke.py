"""Every benchmark runs in smoke mode (tiny sizes, seconds) and prints figures, so none rots.
Times are never judged here (DESIGN §6)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import modules

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", modules())
def test_bench_smoke(name):
    result = subprocess.run([sys.executable, "-m", f"bench.{name}", "--smoke"], cwd=ROOT, capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, f"bench.{name} --smoke exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    assert re.search(r"\d", result.stdout), f"bench.{name} printed no figures:\n{result.stdout}"


def test_bench_runner_lists_every_module():
    result = subprocess.run([sys.executable, "-m", "bench", "--list"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    assert result.stdout.split() == modules()
