"""The supervisor: starts the topology layer by layer, restarts crashed services with backoff, and
reports the stack's status (pids, ports, health, restarts, counters, topic depths).

One per data directory, enforced by a lock on ``run/supervisor.lock``.  Each service (a
``managed.Child``) runs as ``python -m services.supervisor.child <module>``, its output in
``logs/<name>.log``.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

import psutil

from services.common.service import read_run_file
from services.common.settings import Settings

from . import topology
from .managed import Child, fetch, health_url
from .topology import Service

log = logging.getLogger("services.supervisor")


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
        if not child.ready.is_set():
            # Until it is healthy or this attempt failed (a crash-looping service answers at once).
            child.attempted.clear()
            if not child.wanted:
                child.want()
            try:
                await asyncio.wait_for(child.attempted.wait(), self.settings["supervisor.start_timeout"] + 5)
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
