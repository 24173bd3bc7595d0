"""One managed service process: spawn it with its peers' settings, wait for its ``/health``, restart it
with backoff when it crashes or stops answering ``/health`` (``supervisor.unhealthy_restart_after``),
stop it (SIGTERM, then SIGKILL), and report its status.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from services.common.service import read_run_file

from .topology import Service

if TYPE_CHECKING:
    from .supervisor import Supervisor

log = logging.getLogger("services.supervisor")

LOG_ROTATE_BYTES = 20 * 1024 * 1024
HEALTHY_RUN_S = 30.0  # a service up this long has its crash backoff reset


async def fetch(url: str, timeout: float = 3.0) -> tuple[int, bytes]:
    """GET ``url``; (status, body), status 0 when nothing answered."""
    try:
        response = await AsyncHTTPClient().fetch(url, request_timeout=timeout, connect_timeout=timeout, raise_error=False)
        return response.code if response.code != 599 else 0, response.body or b""
    except (HTTPClientError, OSError):
        return 0, b""


def health_url(info: Mapping[str, Any]) -> str:
    return f"http://127.0.0.1:{info.get('http_port') or info['port']}"


class Child:
    """One managed service process and the loop that keeps it running while it is wanted."""

    def __init__(self, service: Service, sup: "Supervisor"):
        self.service = service
        self.sup = sup
        self.proc: subprocess.Popen | None = None
        self.state = "stopped"
        self.wanted = False
        self.restart_reasons: collections.Counter[str] = collections.Counter()
        self.last_restart_reason: str | None = None
        self.started = 0.0
        self.info: dict[str, Any] = {}
        self.sticky: dict[str, str] = {}
        self.ready = asyncio.Event()
        self.attempted = asyncio.Event()  # set after each start attempt: healthy, exited or timed out
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None

    @property
    def restarts(self) -> int:
        return sum(self.restart_reasons.values())

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def log_path(self) -> Path:
        return self.sup.home / "logs" / f"{self.name}.log"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- the keeper loop -------------------------------------------------------------------
    def want(self) -> None:
        self.wanted = True
        self.attempted.clear()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._keep(), name=f"keep-{self.name}")

    async def _keep(self) -> None:
        failures = 0
        while self.wanted:
            self._spawn()
            became_ready = await self._wait_ready()
            self.attempted.set()
            reason = "exited"
            if not became_ready and self.wanted and self.alive():
                # Hung before answering /health: stop it, so the loop below restarts it with backoff.
                reason = "start_timeout"
                await self._terminate(5.0)
            elif became_ready:
                reason = await self._watch()
            code = await self._wait_exit()
            self.ready.clear()
            if not self.wanted:
                break
            self.restart_reasons[reason] += 1
            self.last_restart_reason = reason
            ran = time.monotonic() - self.started
            failures = 1 if ran > HEALTHY_RUN_S else failures + 1
            delay = min(self.sup.settings["supervisor.backoff_max"], 0.5 * 2 ** failures)
            why = {"unhealthy": " (killed: it stopped answering /health)",
                   "start_timeout": " (killed: not healthy within supervisor.start_timeout)"}.get(reason, "")
            log.warning("%s exited with %s after %.1f s%s%s; restart %d in %.1f s (log: %s)", self.name, code, ran,
                        "" if became_ready else " before becoming healthy", why, self.restarts, delay,
                        self.log_path)
            self.state = "backoff"
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), delay)
            except asyncio.TimeoutError:
                pass
        self.state = "stopped"

    def _spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.log_path.exists() and self.log_path.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(self.log_path, self.log_path.with_suffix(".log.1"))
        env = self.sup.child_env(self)
        # -P: the user's current directory (kept, so relative paths in settings mean what they typed)
        # is not put on sys.path, where a folder named like one of our packages would shadow it.
        argv = [sys.executable, "-P", "-m", "services.supervisor.child", self.service.module,
                "--data-dir", str(self.sup.home), *self.sup.extra_args, *self.service.args]
        with open(self.log_path, "ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: starting {self.name}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        self.started = time.monotonic()
        self.state = "starting"
        log.info("%s starting (pid %d)", self.name, self.proc.pid)

    async def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.sup.settings["supervisor.start_timeout"]
        while self.wanted and self.alive():
            info = read_run_file(self.sup.home, self.name)
            if info and info.get("pid") == self.proc.pid and info.get("port"):
                status, _ = await fetch(health_url(info) + "/health", timeout=2.0)
                if status == 200:
                    self.info = info
                    self.state = "running"
                    self.ready.set()
                    self.sticky = self.service.port_env(info)
                    log.info("%s healthy: %s", self.name, " ".join(
                        f"{k}={info[k]}" for k in ("port", "http_port") if info.get(k)))
                    self.sup.on_ready(self)
                    return True
            if time.monotonic() > deadline:
                log.error("%s not healthy after %.0f s (log: %s)", self.name,
                          self.sup.settings["supervisor.start_timeout"], self.log_path)
                self.state = "unhealthy"
                return False
            await asyncio.sleep(0.1)
        return False

    async def _watch(self) -> str:
        """While the healthy process runs, probe its ``/health``; once no probe has been answered for
        ``supervisor.unhealthy_restart_after`` seconds, kill it.  A service that answers but reports
        itself unhealthy (e.g. 503 while its broker is away) is left running: a restart would not
        bring its peer back.  Returns why the process ended: ``unhealthy`` (killed here) or
        ``exited`` (crashed, or stopped on request)."""
        after = float(self.sup.settings["supervisor.unhealthy_restart_after"])
        if after <= 0:
            return "exited"
        interval = min(2.0, max(0.2, after / 5))
        probe_timeout = min(5.0, max(1.0, after / 2))
        url = health_url(self.info) + "/health"
        failing_since: float | None = None
        next_probe = time.monotonic() + interval
        while self.alive():
            await asyncio.sleep(0.2)
            if not self.wanted or time.monotonic() < next_probe:
                continue
            probed = time.monotonic()
            status, _ = await fetch(url, timeout=probe_timeout)
            now = time.monotonic()
            next_probe = now + interval
            if not self.alive() or not self.wanted:
                continue
            if status != 0:
                if failing_since is not None:
                    log.info("%s answers /health again (%d) after %.1f s", self.name, status, now - failing_since)
                failing_since = None
                continue
            if failing_since is None:
                failing_since = probed
                log.warning("%s (pid %d) did not answer /health; restarting it if that lasts %.0f s",
                            self.name, self.proc.pid, after)
            if now - failing_since >= after:
                log.error("%s (pid %d) has not answered /health for %.1f s (supervisor.unhealthy_restart_after "
                          "= %.0f s): killing it to restart it", self.name, self.proc.pid, now - failing_since, after)
                self.state = "unhealthy"
                await self._terminate(5.0)
                return "unhealthy"
        return "exited"

    async def _wait_exit(self) -> int | None:
        while self.alive():
            await asyncio.sleep(0.2)
        return self.proc.returncode if self.proc else None

    # -- stopping ---------------------------------------------------------------------------
    async def stop(self, timeout: float) -> None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; the keeper loop ends."""
        self.wanted = False
        self.wake.set()
        if self.alive():
            self.state = "stopping"
            await self._terminate(timeout)
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
        self.ready.clear()
        self.state = "stopped"

    async def _terminate(self, timeout: float) -> None:
        self.proc.send_signal(signal.SIGTERM)
        # A stopped (SIGSTOP'd) process only acts on the SIGTERM once continued; SIGKILL below
        # ends it either way.
        self.proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.alive():
            log.warning("%s did not stop within %.1f s; killing it", self.name, timeout)
            self.proc.kill()
            while self.alive():
                await asyncio.sleep(0.05)

    # -- status -------------------------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        info = self.info if self.alive() and self.state == "running" else {}
        doc: dict[str, Any] = {
            "pid": self.proc.pid if self.alive() else None,
            "port": info.get("port"),
            "http_port": info.get("http_port"),
            "healthy": False,
            "restarts": self.restarts,
            "restart_reasons": dict(self.restart_reasons),
            "last_restart_reason": self.last_restart_reason,
            "uptime_s": round(time.monotonic() - self.started, 1) if self.alive() else 0.0,
            "counters": {},
            "state": self.state,
            "log": str(self.log_path),
        }
        if info:
            base = health_url(info)
            (health, _), (code, body) = await asyncio.gather(fetch(base + "/health"), fetch(base + "/status"))
            doc["healthy"] = health == 200
            if code == 200:
                try:
                    detail = json.loads(body)
                except ValueError:
                    detail = {}
                if isinstance(detail, dict):
                    doc["counters"] = detail.pop("counters", {}) or {}
                    if detail:
                        doc["details"] = detail
        return doc
