"""Enrich's live state: the Iglu client, the active enrichment set, the pipeline and its ledger.

The enrichment set is swapped by one reference assignment (``swap``), so a new configuration applies
from the next event on, without a restart; the admin API (``services.enrich.admin``) calls it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .. import __version__
from ..common.settings import Settings
from .enrichments.atomic import DEFAULT_LIMITS
from .enrichments.registry import EnrichmentSet
from .outputs.ledger import Ledger
from .pipeline import Pipeline

log = logging.getLogger(__name__)

V_ETL = f"mini-enrich-{__version__}"


def limits_from(settings: Settings) -> dict[str, int]:
    limits = dict(DEFAULT_LIMITS)
    for field, value in (settings.get("enrich.atomic_field_limits") or {}).items():
        limits[field] = int(value)
    return limits


class State:
    def __init__(self, settings: Settings, iglu: Any, enrichments: EnrichmentSet | None = None, *,
                 http: Any = None):
        self.settings = settings
        self.home: Path = settings.home
        self.iglu = iglu
        self.http = http
        self.enrichments: EnrichmentSet = enrichments or EnrichmentSet()
        self.enrichment_errors: list[str] = []
        self.ledger = Ledger()
        self.pipeline = Pipeline(
            iglu, lambda: self.enrichments, v_etl=V_ETL,
            max_record_bytes=int(settings.get("enrich.max_record_bytes", 1_000_000)),
            limits=limits_from(settings), accept_invalid=bool(settings.get("enrich.accept_invalid", False)),
            max_json_depth=int(settings.get("iglu.max_json_depth", 50)), http=http,
        )

    @property
    def enrichments_dir(self) -> Path:
        configured = self.settings.get("enrich.enrichments_dir")
        return Path(configured).expanduser() if configured else self.home / "enrichments"

    def swap(self, new: EnrichmentSet) -> EnrichmentSet:
        """Make ``new`` live for the next event; returns the retired set."""
        old, self.enrichments = self.enrichments, new
        log.info("enrichments now %s (active: %s)", new.version, ", ".join(e.id for e in new.active) or "none")
        return old

    def status(self) -> dict[str, Any]:
        return {
            "counters": self.ledger.as_dict(),
            "enrichments": {
                "version": self.enrichments.version,
                "active": [e.id for e in self.enrichments.active],
                "errors": list(self.enrichment_errors),
            },
        }
