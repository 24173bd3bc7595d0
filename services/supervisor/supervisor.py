"""The supervisor: starts the topology layer by layer, restarts crashed services with backoff, and
reports the stack's status (pids, ports, health, restarts, counters, topic depths).

One per data directory, enforced by a lock on ``run/supervisor.lock``.  Each service runs as
``python -m services.supervisor.child <module>`` with its output in ``logs/<name>.log``.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import psutil
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from services.common.service import read_run_file
from services.common.settings import Settings

from . import topology
from .topology import Service

log = logging.getLogger("services.supervisor")

LOG_ROTATE_BYTES = 20 * 1024 * 1024
HEALTHY_RUN_S = 30.0  # a service up this long has its crash backoff reset


class AlreadyRunning(RuntimeError):
    """Another supervisor holds this data directory."""


def lock_data_dir(home: Path) -> Any:
    """Hold ``run/supervisor.lock`` for the life of the process (released by the kernel on exit)."""
    run = home / "run"
    run.mkdir(parents=True, exist_ok=True)
    handle = open(run / "supervisor.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        info = read_run_file(home, "supervisor") or {}
        raise AlreadyRunning(
            f"a Mini stack is already running for {home} (supervisor pid {info.get('pid', '?')}); "
            f"stop it with `mini down --data-dir {home}` or use another --data-dir"
        ) from None
    return handle


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
        self.restarts = 0
        self.started = 0.0
        self.info: dict[str, Any] = {}
        self.sticky: dict[str, str] = {}
        self.ready = asyncio.Event()
        self.attempted = asyncio.Event()  # set after each start attempt: healthy, exited or timed out
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None

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
            code = await self._wait_exit()
            self.ready.clear()
            if not self.wanted:
                break
            self.restarts += 1
            ran = time.monotonic() - self.started
            failures = 1 if ran > HEALTHY_RUN_S else failures + 1
            delay = min(self.sup.settings["supervisor.backoff_max"], 0.5 * 2 ** failures)
            log.warning("%s exited with %s after %.1f s%s; restart %d in %.1f s (log: %s)", self.name, code, ran,
                        "" if became_ready else " before becoming healthy", self.restarts, delay, self.log_path)
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
        argv = [sys.executable, "-m", "services.supervisor.child", self.service.module,
                "--data-dir", str(self.sup.home), *self.sup.extra_args, *self.service.args]
        with open(self.log_path, "ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: starting {self.name}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=str(self.sup.home))
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
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.alive() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if self.alive():
                log.warning("%s did not stop within %.1f s; killing it", self.name, timeout)
                self.proc.kill()
                while self.alive():
                    await asyncio.sleep(0.05)
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
        self.ready.clear()
        self.state = "stopped"

    # -- status -------------------------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        info = self.info if self.alive() and self.state == "running" else {}
        doc: dict[str, Any] = {
            "pid": self.proc.pid if self.alive() else None,
            "port": info.get("port"),
            "http_port": info.get("http_port"),
            "healthy": False,
            "restarts": self.restarts,
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


class Supervisor:
    """The stack for one data directory."""

    def __init__(self, settings: Settings, extra_args: tuple[str, ...] = (),
                 iglu_check: Callable[[Settings], str | None] | None = None):
        self.settings = settings
        self.home = settings.home
        self.extra_args = extra_args  # e.g. ("--config", FILE), passed to every service
        self.iglu_check = iglu_check
        self.started = time.monotonic()
        self.ready = False
        self.stopping = False
        self.stopped = asyncio.Event()
        self.warnings: list[str] = []
        self.skipped: dict[str, str] = {}
        self.children: dict[str, Child] = {}
        self.exports: dict[str, dict[str, str]] = {}
        self.api_url = ""  # set once the API listens; services (the control plane) get it as MINI_SUPERVISOR_URL
        wanted = set(settings["supervisor.services"])
        unknown = wanted - {s.name for s in topology.SERVICES}
        if unknown:
            raise ValueError(f"supervisor.services: unknown service(s) {', '.join(sorted(unknown))}")
        for service in topology.SERVICES:
            reason = self._skip_reason(service, wanted)
            if reason:
                self.skipped[service.name] = reason
            else:
                self.children[service.name] = Child(service, self)

    def _skip_reason(self, service: Service, wanted: set[str]) -> str | None:
        if wanted and service.name not in wanted:
            return "not in supervisor.services"
        for key in service.skip_when:
            if self.settings.get(key):
                return f"{key} is set: using the external one at {self.settings[key]}"
        if not service.available():
            return f"{service.module} has no __main__ yet"
        return None

    # -- wiring ---------------------------------------------------------------------------------
    def child_env(self, child: Child) -> dict[str, str]:
        env = dict(os.environ)
        env["MINI_HOME"] = str(self.home)
        env["MINI_SUPERVISOR_PID"] = str(os.getpid())
        if self.api_url:
            env["MINI_SUPERVISOR_URL"] = self.api_url
        env.setdefault("PYTHONUNBUFFERED", "1")
        for name, exported in self.exports.items():
            if name != child.name:
                env.update(exported)
        env.update(child.sticky)
        if child.name == "collector":
            env["MINI_COLLECTOR_MOUNTS"] = topology.mounts_value(self.mounts())
        return env

    def mounts(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for service in topology.SERVICES:
            child = self.children.get(service.name)
            if child is not None and child.info:
                for prefix, field in service.mounts.items():
                    out[prefix] = health_url({"port": child.info.get(field) or child.info["port"]})
            elif service.name in self.skipped:
                for prefix, key in service.external_mounts.items():
                    if self.settings.get(key):
                        out[prefix] = str(self.settings[key]).rstrip("/")
        return out

    def on_ready(self, child: Child) -> None:
        """Record a service's addresses; if they changed on a restart, restart its dependents."""
        if child.service.exports is None:
            return
        new = child.service.exports(child.info)
        old = self.exports.get(child.name)
        self.exports[child.name] = new
        if old is not None and old != new:
            for other in self.children.values():
                if other.service.layer > child.service.layer and other.alive():
                    log.warning("%s moved (%s); restarting %s", child.name, new, other.name)
                    asyncio.create_task(self.restart(other.name))

    # -- lifecycle ------------------------------------------------------------------------------
    async def start_all(self) -> None:
        for name, reason in self.skipped.items():
            log.info("%s skipped: %s", name, reason)
        check = asyncio.create_task(self._warn_offline_iglu())
        for layer in topology.layers():
            children = [self.children[s.name] for s in layer if s.name in self.children]
            if self.stopping:
                return
            for child in children:
                child.want()
            await asyncio.gather(*(self._await_ready(child) for child in children))
        await check
        self.ready = True
        log.info("stack ready: %s", ", ".join(f"{c.name}={c.state}" for c in self.children.values()) or "no services")

    async def _await_ready(self, child: Child) -> None:
        timeout = self.settings["supervisor.start_timeout"]
        try:
            # Until it is healthy, or its first attempt failed: a crash-looping service keeps being
            # restarted in the background, and its dependents start anyway (they retry their peers).
            await asyncio.wait_for(child.attempted.wait(), timeout + 5)
        except asyncio.TimeoutError:
            pass
        if not child.ready.is_set():
            log.error("%s is not healthy; starting the next layer anyway (log: %s)", child.name, child.log_path)

    async def _warn_offline_iglu(self) -> None:
        if self.iglu_check is None or ("iglu" not in self.children and "enrich" not in self.children):
            return
        try:
            # It probes Iglu Central over HTTP: off the loop, beside the first layer's start.
            problem = await asyncio.get_running_loop().run_in_executor(None, self.iglu_check, self.settings)
        except Exception as exc:  # a broken check must not stop the stack
            problem = f"the Iglu Central check failed: {exc}"
        if problem:
            banner = "!" * 78
            log.warning("\n%s\n%s\n%s", banner, problem, banner)
            self.warnings.append(problem)

    def child(self, name: str) -> Child:
        if name in self.children:
            return self.children[name]
        topology.by_name(name)  # raises KeyError for a name not in the topology
        raise KeyError(f"{name} is not run by this stack: {self.skipped.get(name, 'skipped')}")

    async def start(self, name: str) -> dict[str, Any]:
        child = self.child(name)
        if not child.wanted:
            child.want()
        try:
            await asyncio.wait_for(child.ready.wait(), self.settings["supervisor.start_timeout"] + 5)
        except asyncio.TimeoutError:
            pass
        return await child.status()

    async def stop(self, name: str) -> dict[str, Any]:
        child = self.child(name)
        await child.stop(self.settings["supervisor.stop_timeout"])
        return await child.status()

    async def restart(self, name: str) -> dict[str, Any]:
        await self.stop(name)
        return await self.start(name)

    async def shutdown(self) -> None:
        """Stop every service, collector first, within ``supervisor.stop_timeout`` in total."""
        if self.stopping:
            await self.stopped.wait()
            return
        self.stopping = True
        log.info("stopping the stack")
        budget = self.settings["supervisor.stop_timeout"]
        deadline = time.monotonic() + budget
        groups = list(reversed(topology.layers()))
        for index, layer in enumerate(groups):
            share = max(0.5, (deadline - time.monotonic()) / (len(groups) - index))
            await asyncio.gather(*(self.children[s.name].stop(share) for s in layer if s.name in self.children))
        log.info("stack stopped")
        self.stopped.set()

    async def status(self) -> dict[str, Any]:
        ready = self.ready  # read before the probes: a service may finish starting while they run
        names = list(self.children)
        docs = await asyncio.gather(*(self.children[n].status() for n in names))
        services = dict(zip(names, docs))
        return {
            "home": str(self.home),
            "healthy": bool(services) and all(d["healthy"] for d in services.values()),
            "supervisor": {"pid": os.getpid(), "ready": ready, "stopping": self.stopping,
                           "uptime_s": round(time.monotonic() - self.started, 1)},
            "services": services,
            "skipped": dict(self.skipped),
            "topics": await self.topics(),
            "mounts": self.mounts(),
            "warnings": list(self.warnings),
        }

    async def topics(self) -> dict[str, Any]:
        """Topic and channel depths from the broker's (or the real nsqd's) ``/stats``."""
        address = self.exports.get("broker", {}).get("MINI_NSQD_HTTP_ADDRESS") or self.settings.get("nsqd.http_address")
        if not address:
            return {}
        code, body = await fetch(f"http://{address}/stats?format=json")
        if code != 200:
            return {}
        return topics_from_stats(body)


def topics_from_stats(body: bytes) -> dict[str, Any]:
    """nsqd's ``/stats?format=json`` (1.x, or 0.x wrapped in ``data``) → ``{topic: {depth, channels}}``."""
    try:
        stats = json.loads(body)
    except ValueError:
        return {}
    if isinstance(stats, dict) and "data" in stats and isinstance(stats["data"], dict):
        stats = stats["data"]
    out: dict[str, Any] = {}
    for topic in stats.get("topics", []) if isinstance(stats, dict) else []:
        channels = {
            ch.get("channel_name"): {"depth": ch.get("depth", 0), "in_flight": ch.get("in_flight_count", 0)}
            for ch in topic.get("channels", []) or []
        }
        out[topic.get("topic_name")] = {"depth": topic.get("depth", 0), "channels": channels}
    return out


def reap_orphans(home: Path) -> None:
    """Stop services left running by a supervisor that died without cleaning up."""
    run = home / "run"
    for path in run.glob("*.json"):
        if path.name == "supervisor.json":
            continue
        try:
            info = json.loads(path.read_text())
            proc = psutil.Process(int(info["pid"]))
            cmdline = proc.cmdline()
        except (ValueError, KeyError, TypeError, OSError, psutil.Error):
            path.unlink(missing_ok=True)
            continue
        if "services.supervisor.child" in cmdline and str(home) in cmdline:
            log.warning("stopping %s (pid %d) left over from a previous supervisor", path.stem, proc.pid)
            proc.terminate()
            try:
                proc.wait(10)
            except psutil.TimeoutExpired:
                proc.kill()
        path.unlink(missing_ok=True)
