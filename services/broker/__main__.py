"""``python -m services.broker``: the embedded NSQ-compatible broker (TCP V2 + nsqd/nsqlookupd HTTP)."""

import sys

from services.common import service

from .server import start
from .settings import SETTINGS

if __name__ == "__main__":
    sys.exit(service.main("broker", "Embedded NSQ-compatible broker, durable on disk.", SETTINGS, start))
