import pytest

from .nsqtools import FAST_ENV


@pytest.fixture
def broker(spawn):
    """The broker as a real process on free ports, with fast timers."""
    return spawn("broker", "services.broker", env=FAST_ENV)
