"""An osmem-server for the loader tests (its own plugin's session fixture leaks a pipe at teardown)."""

from __future__ import annotations

import pytest
from osmem_server import OsmemServer


@pytest.fixture(scope="module")
def osmem_base():
    server = OsmemServer.start()
    yield server
    server.close()
    if server.process.stdout is not None:
        server.process.stdout.close()


@pytest.fixture
def osmem_url(osmem_base):
    """A fresh, empty osmem clone for one test."""
    clone = osmem_base.clone()
    yield clone.url
    clone.close()
