"""Retention and reset of the good and bad indexes (Mini's weekly cron jobs, as functions).

``sweep`` deletes events whose ``collector_tstamp`` (bad rows: ``data.failure.timestamp``) is older
than ``sink.retention_days``; ``reset_indexes`` empties both indexes and recreates their mappings.
Both are plain functions over an opensearch-py client: the sinks' admin HTTP port and the CLI call them.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from . import mappings

log = logging.getLogger(__name__)


def older_than_query(kind: str, days: float) -> dict[str, Any]:
    """The query selecting documents of ``kind`` older than ``days`` (date math, whole seconds)."""
    seconds = max(0, int(days * 86400))
    return {"query": {"range": {mappings.TIME_FIELDS[kind]: {"lt": f"now-{seconds}s"}}}}


def sweep(es: OpenSearch, settings: Mapping[str, Any], kinds: tuple[str, ...] = mappings.KINDS,
          days: float | None = None) -> dict[str, int]:
    """Delete documents older than ``days`` (default ``sink.retention_days``; 0 = keep all)."""
    days = float(settings["sink.retention_days"] if days is None else days)
    deleted: dict[str, int] = {}
    for kind in kinds:
        if days <= 0:
            deleted[kind] = 0
            continue
        index = mappings.index_name(kind, settings)
        try:
            result = es.delete_by_query(index=index, body=older_than_query(kind, days), refresh=True,
                                        conflicts="proceed")
        except NotFoundError:
            deleted[kind] = 0
            continue
        deleted[kind] = int(result.get("deleted", 0))
        if deleted[kind]:
            log.info("retention: deleted %d documents older than %g days from %s", deleted[kind], days, index)
    return deleted


def reset_indexes(es: OpenSearch, settings: Mapping[str, Any],
                  kinds: tuple[str, ...] = mappings.KINDS) -> dict[str, str]:
    """Empty the indexes and recreate them with the shipped mappings; returns ``{kind: index}``."""
    done: dict[str, str] = {}
    for kind in kinds:
        mappings.recreate_index(es, kind, settings)
        done[kind] = mappings.index_name(kind, settings)
    log.info("reset indexes %s", ", ".join(done.values()))
    return done
