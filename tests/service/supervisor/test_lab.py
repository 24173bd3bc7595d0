"""``mini lab``: the stack and JupyterLab in the foreground, the server-proxy entry for the collector,
and Ctrl-C (SIGINT) stopping everything cleanly."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import psutil

from mini_kernel.testing.processes import child_env, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_code(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


def test_lab_runs_jupyter_beside_the_stack_and_ctrl_c_stops_everything(tmp_path):
    home, port = tmp_path / "home", free_port()
    env = child_env(home, {"MINI_SUPERVISOR_SERVICES": "broker", "JUPYTER_TOKEN": "t0ken",
                           "JUPYTER_CONFIG_DIR": str(tmp_path / "jcfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "jrt")})
    log = open(tmp_path / "lab.out", "wb")
    cli = subprocess.Popen([sys.executable, "-m", "services.supervisor.cli", "lab", "--data-dir", str(home),
                            "--port", "0", "--lab-port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                           cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: cli.poll() is not None or http_code(f"{base}/api/status?token=t0ken") == 200, timeout=180,
                 interval=0.5, what="JupyterLab")
        assert cli.poll() is None, (tmp_path / "lab.out").read_text()
        run = json.loads((home / "run" / "supervisor.json").read_text())
        broker = json.loads((home / "run" / "broker.json").read_text())
        jupyter = [p for p in psutil.Process(cli.pid).children() if "jupyterlab" in " ".join(p.cmdline())]
        assert jupyter, "JupyterLab is not a child of mini lab"
        # the server-proxy entry exists (the collector is not in this stack, so the proxy itself fails)
        assert http_code(f"{base}/mini/health?token=t0ken") != 404
        assert http_code(f"{base}/no-such-proxy/health?token=t0ken") == 404

        cli.send_signal(signal.SIGINT)
        assert cli.wait(60) == 0, (tmp_path / "lab.out").read_text()
        for pid in (run["pid"], broker["pid"], jupyter[0].pid):
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert "Stopped." in (tmp_path / "lab.out").read_text()
    finally:
        if cli.poll() is None:
            cli.send_signal(signal.SIGINT)
            cli.wait(60)
        log.close()
