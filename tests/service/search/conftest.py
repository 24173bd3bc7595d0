"""A search node shared by a test module (starting a process per test would dominate the run time)."""

import pytest

from mini_kernel.testing.search import SearchNode


@pytest.fixture(scope="module")
def node(request, tmp_path_factory):
    """The node; a module may parametrize it (indirectly) with the environment to start it with."""
    home = tmp_path_factory.mktemp("search-home")
    running = SearchNode(home, env=getattr(request, "param", None)).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(node):
    return node.client()
