"""The ``good`` and ``bad`` index definitions (``mappings/*.json``) and the OpenSearch client the sinks use.

The JSON files follow Snowplow Mini's mappings (snowplow-formats.md §5.3) with every timestamp typed
``date`` (``date_optional_time``) and the total-fields limit raised by a setting.  Indexes are created
when missing; an existing index keeps its mapping and only gets the limit raised.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any, Mapping

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError

log = logging.getLogger(__name__)

HERE = Path(__file__).parent / "mappings"
KINDS = ("good", "bad")
# The time field of each index: retention and the Dashboards index patterns use it.
TIME_FIELDS = {"good": "collector_tstamp", "bad": "data.failure.timestamp"}


def definition(kind: str, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The create-index body for ``good`` or ``bad``, with the sink's shard and field-limit settings."""
    body = json.loads((HERE / f"{kind}.json").read_text(encoding="utf-8"))
    if settings is not None:
        index = body["settings"]["index"]
        index["number_of_shards"] = int(settings["sink.shards"])
        index["mapping"]["total_fields"]["limit"] = int(settings["sink.total_fields_limit"])
    return body


def index_name(kind: str, settings: Mapping[str, Any]) -> str:
    return settings["sink.index_good"] if kind == "good" else settings["sink.index_bad"]


def client(settings: Mapping[str, Any]) -> OpenSearch:
    """An opensearch-py client for ``opensearch.url`` (+ basic auth and TLS options)."""
    url = settings["opensearch.url"]
    if not url:
        raise ValueError("opensearch.url is empty: start the search node or set MINI_OPENSEARCH_URL")
    kwargs: dict[str, Any] = {
        "hosts": [url],
        "timeout": float(settings["opensearch.timeout_s"]),
        "verify_certs": bool(settings["opensearch.verify_certs"]),
        "ssl_show_warn": bool(settings["opensearch.verify_certs"]),
    }
    if settings["opensearch.username"]:
        kwargs["http_auth"] = (settings["opensearch.username"], settings["opensearch.password"])
    if settings.get("opensearch.ca_certs"):
        kwargs["ca_certs"] = settings["opensearch.ca_certs"]
    return OpenSearch(**kwargs)


def ensure_index(es: OpenSearch, kind: str, settings: Mapping[str, Any]) -> bool:
    """Create the index if missing (True when created); raise the field limit of an existing one."""
    name = index_name(kind, settings)
    body = definition(kind, settings)
    if es.indices.exists(index=name):
        limit = body["settings"]["index"]["mapping"]["total_fields"]["limit"]
        try:
            es.indices.put_settings(index=name, body={"index": {"mapping": {"total_fields": {"limit": limit}}}})
        except RequestError as exc:  # a node without the setting: the index still works
            log.warning("could not raise the field limit of %s: %s", name, exc)
        return False
    try:
        es.indices.create(index=name, body=body)
    except RequestError as exc:
        # The other sink (or a restarted twin) may have created it first.
        if "resource_already_exists" in str(exc.error):
            return False
        raise
    log.info("created index %s", name)
    return True


def recreate_index(es: OpenSearch, kind: str, settings: Mapping[str, Any]) -> None:
    """Delete the index (if present) and create it again, empty, with the shipped mapping."""
    name = index_name(kind, settings)
    for _ in range(5):
        try:
            es.indices.delete(index=name)
        except NotFoundError:
            pass
        if ensure_index(es, kind, settings):
            return
        # Another writer's _bulk auto-created the index (dynamic mapping) between our delete and create.
    raise RuntimeError(f"could not recreate index {name}: something keeps writing to it")


def mapping_copy(kind: str) -> dict[str, Any]:
    """The mapping properties, for tests and the docs."""
    return copy.deepcopy(definition(kind)["mappings"]["properties"])
