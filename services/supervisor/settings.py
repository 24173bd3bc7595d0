"""Settings of the supervisor process and of ``mini lab`` (JupyterLab beside the stack).

Service-specific keys (``collector.port``, ``broker.port``, ...) belong to their services; the
supervisor only passes peers' addresses to them through the same ``MINI_*`` variables a user would set.
"""

from __future__ import annotations

from services.common.settings import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("supervisor.port", 0, "Loopback port of the supervisor's HTTP API (0: a free port, written to run/supervisor.json)."),
    Setting("supervisor.start_timeout", 120.0, "Seconds to wait for a service's /health after starting it before reporting it unhealthy."),
    Setting("supervisor.stop_timeout", 9.0, "Seconds to stop the whole stack on shutdown; services still running then are killed."),
    Setting("supervisor.backoff_max", 30.0, "Longest pause in seconds between restarts of a service that keeps crashing (doubles from 1 s)."),
    Setting("supervisor.unhealthy_restart_after", 30.0,
            "Seconds a running service may leave every /health check unanswered (hung, SIGSTOP'd) before it is "
            "killed (SIGTERM, then SIGKILL) and restarted with the crash backoff; 0: never."),
    Setting("supervisor.services", [], "Services to run (comma-separated names; empty: every service in the topology).", type=list),
    Setting("lab.port", 8888, "Port of JupyterLab started by `mini lab`."),
    Setting("lab.ip", "127.0.0.1", "Address JupyterLab binds (`mini lab`)."),
    Setting("lab.root_dir", "", "JupyterLab's root directory (empty: the repository's notebooks/ if present, else the current directory)."),
)
