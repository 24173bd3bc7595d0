"""A Python client for a running stack's supervisor (what the CLI, notebooks and tests call).

``Stack(home).status()`` is the ``mini status --json`` document; ``start/stop/restart(name)``,
``logs(name)``, ``shutdown()`` go through the supervisor's loopback API found in ``run/supervisor.json``.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from services.common.service import read_run_file


class StackDown(RuntimeError):
    """No supervisor is running for this data directory."""


def resolve_home(data_dir: str | os.PathLike | None = None) -> Path:
    """``--data-dir``, else ``MINI_HOME``, else ``~/.mini`` (absolute)."""
    raw = data_dir or os.environ.get("MINI_HOME") or "~/.mini"
    return Path(os.path.expanduser(str(raw))).resolve()


class Stack:
    """The supervisor of the stack in ``home``."""

    def __init__(self, home: str | os.PathLike | None = None, timeout: float = 60.0):
        self.home = resolve_home(home)
        self.timeout = timeout

    def info(self) -> dict[str, Any] | None:
        """The supervisor's run file if its process is alive, else None."""
        info = read_run_file(self.home, "supervisor")
        if not info:
            return None
        try:
            if not psutil.pid_exists(int(info["pid"])):
                return None
            if psutil.Process(int(info["pid"])).status() == psutil.STATUS_ZOMBIE:
                return None
        except (KeyError, ValueError, psutil.Error):
            return None
        return info

    @property
    def url(self) -> str:
        info = self.info()
        if info is None:
            raise StackDown(f"no Mini stack is running for {self.home} (start it with `mini up --data-dir {self.home}`)")
        return f"http://127.0.0.1:{info['port']}"

    def running(self) -> bool:
        try:
            self._request("GET", "/health", timeout=5)
            return True
        except StackDown:
            return False

    def _request(self, method: str, path: str, timeout: float | None = None) -> bytes:
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                message = json.loads(body)["error"]
            except (ValueError, KeyError, TypeError):
                message = body.decode(errors="replace") or str(exc)
            raise LookupError(message) if exc.code == 404 else RuntimeError(message) from None
        except (urllib.error.URLError, OSError) as exc:
            raise StackDown(f"the supervisor for {self.home} does not answer: {exc}") from None

    def ready(self) -> bool:
        """Has the supervisor finished starting the stack (healthy or not)?"""
        return bool(json.loads(self._request("GET", "/ready", timeout=10))["ready"])

    def status(self) -> dict[str, Any]:
        return json.loads(self._request("GET", "/status"))

    def action(self, name: str, verb: str) -> dict[str, Any]:
        """``verb`` is stop, start or restart; returns the service's status after it."""
        timeout = max(self.timeout, 180.0)
        return json.loads(self._request("POST", f"/services/{name}/{verb}", timeout=timeout))["status"]

    def stop(self, name: str) -> dict[str, Any]:
        return self.action(name, "stop")

    def start(self, name: str) -> dict[str, Any]:
        return self.action(name, "start")

    def restart(self, name: str) -> dict[str, Any]:
        return self.action(name, "restart")

    def logs(self, name: str, lines: int = 200) -> str:
        return self._request("GET", f"/services/{name}/logs?lines={lines}").decode("utf-8", errors="replace")

    def shutdown(self, wait: float = 30.0) -> bool:
        """Ask the supervisor to stop everything; wait for its process to exit (True if it did)."""
        info = self.info()
        if info is None:
            return True
        pid = int(info["pid"])
        try:
            self._request("POST", "/shutdown", timeout=10)
        except StackDown:
            _signal(pid)  # wedged API: fall back to SIGTERM, which stops it just the same
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return True
            time.sleep(0.1)
        return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _signal(pid: int) -> None:
    try:
        psutil.Process(pid).terminate()
    except psutil.Error:
        pass
