"""``python -m services.search``: run the embedded OpenSearch-compatible search node."""

import sys

from services.common import service

from .app import start
from .settings import SETTINGS

if __name__ == "__main__":
    sys.exit(service.main("search", "Search node: embedded OpenSearch-compatible index store (SQLite).", SETTINGS, start))
