"""A whole Mini stack for tests: ``mini up --detach`` in a temporary data dir on a free public port.

``MiniStack(home).up()`` runs the real CLI and supervisor; the object answers ``.status()``,
``.url(service)``, ``.collector_url``, ``.env`` (the ``MINI_*`` peer settings a client needs) and
drives services (``.stop/.start/.restart/.kill9``).  Services join simply by being in the topology.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

from services.common.service import read_run_file
from services.supervisor.client import Stack, StackDown

from .processes import ServiceFailed, child_env, wait_for


class MiniStack:
    """One isolated stack; ``services`` limits it to some of the topology (all by default)."""

    def __init__(self, home: str | os.PathLike, port: int = 0, env: Mapping[str, str] | None = None,
                 services: Iterable[str] | None = None):
        self.home = Path(home).resolve()
        self.port = port
        self.extra_env = dict(env or {})
        if services is not None:
            self.extra_env["MINI_SUPERVISOR_SERVICES"] = ",".join(services)
        self.client = Stack(self.home, timeout=120)

    # -- lifecycle ---------------------------------------------------------------------------------
    def mini(self, *args: str, timeout: float = 600.0, check: bool = False) -> subprocess.CompletedProcess:
        """Run the ``mini`` CLI against this stack's data dir."""
        result = subprocess.run(
            [sys.executable, "-m", "services.supervisor.cli", *args, "--data-dir", str(self.home)],
            env=child_env(self.home, self.extra_env), capture_output=True, text=True, timeout=timeout,
        )
        if check and result.returncode != 0:
            raise ServiceFailed(f"mini {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}\n"
                                f"{self.log_tail('supervisor')}")
        return result

    def up(self, timeout: float = 600.0) -> "MiniStack":
        self.home.mkdir(parents=True, exist_ok=True)
        result = self.mini("up", "--detach", "--port", str(self.port), timeout=timeout)
        if result.returncode != 0:
            details = f"{result.stdout}\n{result.stderr}\n" + "\n".join(
                f"--- {name}.log:\n{self.log_tail(name)}" for name in self._log_names())
            self.down()
            raise ServiceFailed(f"mini up exited {result.returncode}:\n{details}")
        return self

    def down(self) -> None:
        if self.client.info() is not None:
            self.mini("down", timeout=120)

    def __enter__(self) -> "MiniStack":
        return self.up()

    def __exit__(self, *exc: Any) -> None:
        self.down()

    # -- inspection --------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The ``mini status --json`` document."""
        return self.client.status()

    def service(self, name: str) -> dict[str, Any]:
        return self.status()["services"][name]

    def url(self, service: str) -> str:
        """Base URL of a service's HTTP API (its ``http_port``, else its ``port``)."""
        doc = self.service(service)
        return f"http://127.0.0.1:{doc['http_port'] or doc['port']}"

    @property
    def collector_url(self) -> str:
        return f"http://127.0.0.1:{self.service('collector')['port']}"

    @property
    def env(self) -> dict[str, str]:
        """``MINI_*`` settings that point a client or an extra service at this stack."""
        services = self.status()["services"]
        env = {"MINI_HOME": str(self.home)}
        broker = services.get("broker")
        if broker and broker["port"]:
            env["MINI_NSQD_TCP_ADDRESS"] = f"127.0.0.1:{broker['port']}"
            env["MINI_NSQD_HTTP_ADDRESS"] = f"127.0.0.1:{broker['http_port'] or broker['port']}"
        search = services.get("search")
        if search and search["port"]:
            env["MINI_OPENSEARCH_URL"] = f"http://127.0.0.1:{search['port']}"
        iglu = services.get("iglu")
        if iglu and iglu["port"]:
            env["MINI_IGLU_SERVER_URL"] = f"http://127.0.0.1:{iglu['port']}"
            key = (read_run_file(self.home, "iglu") or {}).get("api_key")
            if key:
                env["MINI_IGLU_SERVER_API_KEY"] = str(key)
        return env

    def log_tail(self, name: str, lines: int = 40) -> str:
        try:
            return "\n".join((self.home / "logs" / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def _log_names(self) -> list[str]:
        return sorted(p.stem for p in (self.home / "logs").glob("*.log"))

    # -- driving services --------------------------------------------------------------------------
    def stop(self, name: str) -> dict[str, Any]:
        return self.client.stop(name)

    def start(self, name: str) -> dict[str, Any]:
        return self.client.start(name)

    def restart(self, name: str) -> dict[str, Any]:
        return self.client.restart(name)

    def kill9(self, name: str, wait: bool = True, timeout: float = 120.0) -> dict[str, Any]:
        """``kill -9`` a service; with ``wait``, return once the supervisor has it healthy again."""
        before = self.service(name)
        if not before["pid"]:
            raise ServiceFailed(f"{name} is not running")
        os.kill(before["pid"], signal.SIGKILL)
        if not wait:
            return before
        return self.wait_healthy(name, timeout=timeout, other_than=before["pid"])

    def wait_healthy(self, name: str | None = None, timeout: float = 120.0, other_than: int | None = None) -> dict[str, Any]:
        """Wait until ``name`` (or the whole stack) is healthy; returns the service's (or stack's) status."""

        def check() -> dict[str, Any] | None:
            try:
                doc = self.status()
            except StackDown:
                return None
            if name is None:
                return doc if doc["healthy"] else None
            svc = doc["services"][name]
            if svc["healthy"] and (other_than is None or svc["pid"] != other_than):
                return svc
            return None

        try:
            return wait_for(check, timeout=timeout, interval=0.2, what=f"{name or 'the stack'} to be healthy")
        except TimeoutError as exc:
            raise ServiceFailed(f"{exc}\n{self.log_tail(name or 'supervisor')}") from None


# -- pytest fixtures (re-exported by mini_kernel.pytest_plugin) ---------------------------------------
try:
    import pytest
except ImportError:  # MiniStack works without pytest (notebooks, scripts); only the fixtures need it
    pytest = None

if pytest is not None:

    @pytest.fixture
    def mini_stack_factory(tmp_path_factory):
        """Start isolated stacks: ``mini_stack_factory(services=("broker",), env={...})``; all torn down after."""
        stacks: list[MiniStack] = []

        def _make(services: Iterable[str] | None = None, env: Mapping[str, str] | None = None, port: int = 0,
                  start: bool = True) -> MiniStack:
            stack = MiniStack(tmp_path_factory.mktemp("mini-stack"), port=port, env=env, services=services)
            stacks.append(stack)
            return stack.up() if start else stack

        yield _make
        for stack in reversed(stacks):
            stack.down()

    @pytest.fixture(scope="module")
    def mini_stack(tmp_path_factory):
        """The whole stack (every service in the topology that exists), shared by one test module."""
        stack = MiniStack(tmp_path_factory.mktemp("mini-stack")).up()
        yield stack
        stack.down()
