"""``python -m services.iglu``: the local Iglu Server (Iglu Server 0.14-compatible REST API)."""

import sys

from services.common import service
from services.iglu.server.app import start
from services.iglu.settings import SETTINGS

if __name__ == "__main__":
    sys.exit(service.main("iglu", "Iglu: the local Iglu Server (schemas, API keys, validation)", SETTINGS, start))
