"""Supervision rules with stand-in services (real processes, patched topology): a service that hangs
before serving is killed and retried; one that answers /health "unhealthy" is reported, not restarted;
a peer that comes back on another port gets its dependents restarted with the new address."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import psutil

from services.common.service import read_run_file
from services.common.settings import load
from services.supervisor import daemon, topology
from services.supervisor.supervisor import Supervisor

ROOT = Path(__file__).resolve().parents[3]
MODULE = "tests.service.supervisor.standin"


def standin(name: str, layer: int, **kwargs) -> topology.Service:
    return topology.Service(name, MODULE, layer, "stand-in", args=("--name", name), **kwargs)


async def until(condition, timeout: float = 60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


def run(monkeypatch, tmp_path, services, scenario, **env):
    monkeypatch.setattr(topology, "SERVICES", services)
    monkeypatch.setattr(topology.Service, "available", lambda self: True)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load(daemon.SPEC, env={"MINI_HOME": str(tmp_path), **env})

    async def main():
        sup = Supervisor(settings)
        try:
            await scenario(sup)
        finally:
            await sup.shutdown()

    asyncio.run(main())


def test_a_service_hanging_before_health_is_killed_and_retried(monkeypatch, tmp_path):
    async def scenario(sup):
        await sup.start_all()
        child = sup.children["hang"]
        assert not child.ready.is_set()
        await until(lambda: child.restarts >= 1)  # killed after start_timeout, then started again
        assert child.state in ("backoff", "starting")

    run(monkeypatch, tmp_path, (standin("hang", 0),), scenario,
        STANDIN_HANG="1", MINI_SUPERVISOR_START_TIMEOUT="2", MINI_SUPERVISOR_BACKOFF_MAX="1")


def test_a_service_answering_unhealthy_is_reported_but_not_restarted(monkeypatch, tmp_path):
    sick = tmp_path / "sick"

    async def scenario(sup):
        await sup.start_all()
        child = sup.children["s"]
        pid = child.proc.pid
        sick.touch()
        deadline = asyncio.get_running_loop().time() + 6  # three times supervisor.unhealthy_restart_after
        while asyncio.get_running_loop().time() < deadline:
            assert child.restarts == 0 and child.proc.pid == pid
            await asyncio.sleep(0.2)
        assert (await child.status())["healthy"] is False
        sick.unlink()
        await until(lambda: child.state == "running")
        assert child.restarts == 0 and child.proc.pid == pid

    run(monkeypatch, tmp_path, (standin("s", 0),), scenario,
        STANDIN_SICK_FILE=str(sick), MINI_SUPERVISOR_UNHEALTHY_RESTART_AFTER="2")


def test_dependents_restart_when_a_peer_moves(monkeypatch, tmp_path):
    def exports(info):
        return {"MINI_STANDIN_PEER": f"http://127.0.0.1:{info['port']}"}

    # 'a' has no port setting, so after a crash it comes back on a new port.
    services = (standin("a", 0, exports=exports), standin("b", 1))

    async def scenario(sup):
        await sup.start_all()
        a, b = sup.children["a"], sup.children["b"]
        assert a.ready.is_set() and b.ready.is_set()
        first_b = b.proc.pid
        assert read_run_file(tmp_path, "b")["peer"] == f"http://127.0.0.1:{a.info['port']}"
        old_port = a.info["port"]
        a.proc.kill()
        await until(lambda: a.ready.is_set() and a.info.get("port") != old_port and a.restarts == 1)
        await until(lambda: b.proc.pid != first_b and b.ready.is_set())
        assert read_run_file(tmp_path, "b")["peer"] == f"http://127.0.0.1:{a.info['port']}"
        assert not psutil.pid_exists(first_b) or psutil.Process(first_b).status() == psutil.STATUS_ZOMBIE

    run(monkeypatch, tmp_path, services, scenario)
