"""``python -m services.collector``: run the public origin (tracker endpoints, mounts) as a service."""

import sys

from services.common import service

from .app import start
from .settings import SETTINGS

if __name__ == "__main__":
    sys.exit(service.main("collector", "Collector: Snowplow tracker endpoints on the public origin, payloads to RawEvents.", SETTINGS, start))
