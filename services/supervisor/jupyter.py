"""JupyterLab beside the stack: ``mini lab`` starts it, and ``jupyter-server-proxy`` entries make the
collector (the public origin) and the dashboard reachable through Jupyter's own URL.

The entries are the ``jupyter_serverproxy_servers`` entry points in pyproject.toml (so they work on
Binder/JupyterHub too, where Jupyter is started for us): ``<jupyter>/mini/`` → the collector,
``<jupyter>/mini-dashboard/`` → its ``/dashboard/`` mount.  Ports come from ``$MINI_HOME``'s run files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from services.common.service import read_run_file
from services.common.settings import Settings

from .client import resolve_home

DEFAULT_COLLECTOR_PORT = 9090


def collector_port(home: Path | None = None) -> int:
    info = read_run_file(resolve_home(home), "collector") or {}
    return int(info.get("port") or os.environ.get("MINI_COLLECTOR_PORT") or DEFAULT_COLLECTOR_PORT)


def collector_proxy() -> dict[str, Any]:
    """Server-proxy entry ``mini``: the collector, already running (no command to launch)."""
    return {
        "command": [],
        "port": collector_port(),
        "absolute_url": False,
        "launcher_entry": {"enabled": True, "title": "Mini collector", "path_info": "mini/micro/all"},
    }


def dashboard_proxy() -> dict[str, Any]:
    """Server-proxy entry ``mini-dashboard``: the collector's ``/dashboard/`` mount."""
    return {
        "command": [],
        "port": collector_port(),
        "absolute_url": False,
        "mappath": lambda path: "/dashboard" + (path if path.startswith("/") else "/" + path),
        "launcher_entry": {"enabled": True, "title": "Mini dashboard", "path_info": "mini-dashboard/"},
    }


def root_dir(settings: Settings) -> Path:
    if settings["lab.root_dir"]:
        return Path(os.path.expanduser(settings["lab.root_dir"])).resolve()
    repo_notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    return repo_notebooks if repo_notebooks.is_dir() else Path.cwd()


def start_lab(settings: Settings, port: int | None = None) -> subprocess.Popen:
    """JupyterLab in its own session (the CLI stops it on Ctrl-C), with ``MINI_HOME`` set."""
    env = dict(os.environ)
    env["MINI_HOME"] = str(settings.home)
    argv = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        f"--ServerApp.ip={settings['lab.ip']}",
        f"--ServerApp.port={port if port is not None else settings['lab.port']}",
        f"--ServerApp.root_dir={root_dir(settings)}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # containers and CI often run as root; Jupyter refuses it otherwise
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
