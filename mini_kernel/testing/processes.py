"""Start a service as a real process in a data dir, wait for readiness, stop or kill it.

Readiness = its run file names this pid and ``GET /health`` answers 200 on its ``http_port`` (or
``port`` when it has no separate HTTP port).  Never sleep-and-hope: every wait polls a condition
with a generous deadline for a busy 2-core machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence


class ServiceFailed(RuntimeError):
    """A service exited or never became ready; the message carries the tail of its log."""


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns a truthy value; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def child_env(home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child service: no inherited MINI_* except what the test passes."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MINI_")}
    base["MINI_HOME"] = str(home)
    base.setdefault("PYTHONUNBUFFERED", "1")
    base.update(env or {})
    return base


class ServiceProcess:
    """One service process: ``python -m <module> --data-dir HOME [args]``."""

    def __init__(
        self,
        name: str,
        module: str,
        home: Path,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
    ):
        self.name = name
        self.module = module
        self.home = Path(home)
        self.env = dict(env or {})
        self.args = list(args)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.home / "logs" / f"{name}.test.log"

    @property
    def run_file(self) -> Path:
        return self.home / "run" / f"{self.name}.json"

    def info(self) -> dict[str, Any]:
        try:
            return json.loads(self.run_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    @property
    def port(self) -> int:
        return int(self.info()["port"])

    @property
    def http_port(self) -> int:
        info = self.info()
        return int(info.get("http_port") or info["port"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def start(self, timeout: float = 60.0) -> "ServiceProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, "--data-dir", str(self.home), *self.args],
            env=child_env(self.home, self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.wait_ready(timeout)
        return self

    def ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise ServiceFailed(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
        info = self.info()
        if self.proc is not None and info.get("pid") != self.proc.pid:
            return False
        if not info:
            return False
        return http_ok(f"http://127.0.0.1:{info.get('http_port') or info['port']}/health")

    def wait_ready(self, timeout: float = 60.0) -> None:
        try:
            wait_for(self.ready, timeout=timeout, what=f"{self.name} to be ready")
        except TimeoutError as exc:
            raise ServiceFailed(f"{exc}\n{self.log_tail()}") from None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait, then SIGKILL; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(15)

    def __enter__(self) -> "ServiceProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
