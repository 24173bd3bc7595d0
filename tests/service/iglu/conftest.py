import pytest

from mini_kernel.testing.processes import ServiceProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One local Iglu Server per test module (tests use distinct vendors)."""
    home = tmp_path_factory.mktemp("iglu-home")
    proc = ServiceProcess("iglu", "services.iglu", home)
    proc.start(timeout=90)
    proc.api_key = proc.info()["api_key"]
    yield proc
    proc.stop()
