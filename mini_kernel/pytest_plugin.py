"""pytest plugin (entry point ``mini``): fixtures to run real Mini services in temporary data dirs.

Fixture modules live in ``mini_kernel.testing``; this file only re-exports them so a project's
tests (and ours) get them by installing mini_kernel.
"""

from __future__ import annotations

import pytest

from mini_kernel.testing.databases import mysql_server, postgres_server  # noqa: F401  (fixtures)
from mini_kernel.testing.iglu import iglu_central, iglu_central_dir, iglu_central_url, iglu_server  # noqa: F401  (fixtures)
from mini_kernel.testing.processes import ServiceProcess
from mini_kernel.testing.search import osmem, search_node  # noqa: F401  (fixtures)
from mini_kernel.testing.stack import mini_stack, mini_stack_factory  # noqa: F401  (fixtures)


@pytest.fixture
def mini_home(tmp_path):
    """A fresh, empty data directory (``MINI_HOME``) for one test."""
    home = tmp_path / "mini-home"
    home.mkdir()
    return home


@pytest.fixture
def spawn(mini_home):
    """Start service processes that are stopped at teardown: ``spawn(name, module, env=..., args=...)``."""
    started: list[ServiceProcess] = []

    def _spawn(name, module, env=None, args=(), home=None, timeout=60.0):
        proc = ServiceProcess(name, module, home or mini_home, env=env, args=args)
        started.append(proc)
        return proc.start(timeout=timeout)

    yield _spawn
    for proc in reversed(started):
        proc.stop()
