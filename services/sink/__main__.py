"""``python -m services.sink --sink-kind good|bad``: one loader process (run file sink-good.json / sink-bad.json)."""

import sys

from services.common import service

from .app import start
from .settings import SETTINGS

if __name__ == "__main__":
    sys.exit(service.main(lambda s: f"sink-{s['sink.kind']}",
                          "Sink that loads enriched events (good) or bad rows (bad) into OpenSearch.", SETTINGS, start))
