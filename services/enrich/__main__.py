import sys

from ..common import service
from .service import start
from .settings import SETTINGS

sys.exit(service.main("enrich", "Enrich: RawEvents -> EnrichedEvents / BadEvents / PiiEvents", SETTINGS, start))
