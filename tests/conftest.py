"""Fixtures shared across test folders (the rest come from the ``mini`` pytest plugin)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def osmem_base():
    """An osmem-server whose ``clone()`` gives a fresh, empty cluster per test (the sink tests).

    Its own plugin's session fixture leaks a pipe at teardown, so this one closes stdout itself.
    """
    from osmem_server import OsmemServer

    server = OsmemServer.start()
    yield server
    server.close()
    if server.process.stdout is not None:
        server.process.stdout.close()
