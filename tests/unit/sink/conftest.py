"""A fresh osmem clone per loader test (``osmem_base`` is in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def osmem_url(osmem_base):
    """A fresh, empty osmem clone for one test."""
    clone = osmem_base.clone()
    yield clone.url
    clone.close()
