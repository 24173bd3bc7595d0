"""Search fixtures: ``osmem`` (the osmem-server test oracle) and ``search_node`` (our node as a process).

``osmem`` runs the Go binary bundled in the osmem-server wheel on a free loopback port;
``search_node`` runs ``python -m services.search`` in the test's data dir.  Both yield an object
with ``url``, ``port`` and ``client()`` (an opensearch-py client), and stop the process at teardown.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from mini_kernel.testing.processes import ServiceProcess, http_ok, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _client(port: int):
    from opensearchpy import OpenSearch

    return OpenSearch(hosts=[{"host": "127.0.0.1", "port": port}], timeout=60)


class Osmem:
    """A running osmem-server process."""

    def __init__(self) -> None:
        import osmem_server

        self.binary = osmem_server.resolve_binary()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([self.binary, "--addr", f"127.0.0.1:{self.port}", "--no-stdin-watch"],
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: self._alive() and http_ok(self.url + "/"), timeout=60, what="osmem-server")
        except BaseException:
            self.stop()
            raise

    def _alive(self) -> bool:
        if self.proc.poll() is not None:
            self._log.seek(0)
            raise RuntimeError(f"osmem-server exited: {self._log.read()[-2000:]!r}")
        return True

    def client(self):
        return _client(self.port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        self._log.close()


class SearchNode:
    """Our search node as a real process (``services.search``) in a data dir."""

    def __init__(self, home: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()):
        self.process = ServiceProcess("search", "services.search", home, env=env, args=list(args))

    def start(self) -> "SearchNode":
        self.process.start(timeout=90)
        return self

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self):
        return _client(self.port)

    def restart(self) -> "SearchNode":
        self.process.stop()
        return self.start()

    def kill9(self) -> None:
        self.process.kill9()

    def stop(self) -> None:
        self.process.stop()


@pytest.fixture(scope="session")
def osmem():
    """osmem-server (the differential oracle), one per test session."""
    server = Osmem()
    yield server
    server.stop()


@pytest.fixture
def search_node(mini_home):
    """Our search node running in this test's ``mini_home``."""
    node = SearchNode(mini_home).start()
    yield node
    node.stop()
