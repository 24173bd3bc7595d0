"""Iglu test fixtures: the Iglu Central stand-in and a local Iglu Server process.

``../shared/iglu-central`` (or ``MINI_TEST_IGLU_CENTRAL``) is served over loopback HTTP as a
static registry, exactly like iglucentral.com serves ``/schemas/v/n/f/M-R-A``; the same folder is
usable as a mirror directory.  Tests only: the project never ships a copy of Iglu Central.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def iglu_central_path() -> Path:
    return Path(os.environ.get("MINI_TEST_IGLU_CENTRAL") or REPO.parent / "shared" / "iglu-central").resolve()


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args) -> None:  # keep test output clean; requests are recorded instead
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.server.fail_with:
            self.send_error(self.server.fail_with)
            return
        super().do_GET()


class StaticRegistry:
    """A static Iglu registry on ``http://127.0.0.1:PORT`` serving ``root``; records request paths."""

    def __init__(self, root: Path):
        self.root = Path(root)
        handler = functools.partial(_Handler, directory=str(self.root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.requests = []
        self.httpd.fail_with = None
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="iglu-central-stand-in", daemon=True)
        self._thread.start()

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    def fail(self, status: int | None) -> None:
        """Answer every request with ``status`` (e.g. 500) until ``fail(None)``."""
        self.httpd.fail_with = status

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def iglu_central_dir() -> Path:
    """The Iglu Central copy used as a mirror dir (skips when it is not beside the checkout)."""
    path = iglu_central_path()
    if not (path / "schemas").is_dir():
        pytest.skip(f"no Iglu Central copy at {path} (set MINI_TEST_IGLU_CENTRAL)")
    return path


@pytest.fixture(scope="session")
def iglu_central_url(iglu_central_dir):
    """URL of the session-wide loopback stand-in for http://iglucentral.com."""
    registry = StaticRegistry(iglu_central_dir)
    yield registry.url
    registry.close()


@pytest.fixture
def iglu_central(iglu_central_dir):
    """A fresh stand-in per test (its ``requests`` list and ``fail()`` switch are the test's own)."""
    registry = StaticRegistry(iglu_central_dir)
    yield registry
    registry.close()


@pytest.fixture
def iglu_server(spawn):
    """A local Iglu Server process in the test's MINI_HOME: ``.url`` and ``.api_key`` (super key)."""
    proc = spawn("iglu", "services.iglu")
    proc.api_key = proc.info()["api_key"]
    return proc
