"""OpenSearch's error bodies: ``{"error": {"root_cause": [...], "type", "reason", ...}, "status": N}``.

Every failure the node reports is a :class:`SearchError`; the HTTP layer and the bulk item results
render it the way OpenSearch 2.x does, so clients (opensearch-py raises by ``type``) behave the same.
"""

from __future__ import annotations

from typing import Any


class SearchError(Exception):
    """One OpenSearch exception: HTTP ``status``, ``type`` (e.g. ``index_not_found_exception``), ``reason``."""

    def __init__(self, status: int, type: str, reason: str, caused_by: "SearchError | None" = None, **extra: Any):
        super().__init__(reason)
        self.status = status
        self.type = type
        self.reason = reason
        self.caused_by = caused_by
        self.extra = extra

    def cause(self) -> dict[str, Any]:
        """The exception object as it appears in ``root_cause``, bulk items and ``caused_by``."""
        body: dict[str, Any] = {"type": self.type, "reason": self.reason, **self.extra}
        if self.caused_by is not None:
            body["caused_by"] = self.caused_by.cause()
        return body

    def body(self) -> dict[str, Any]:
        root = self
        while root.caused_by is not None and root.type in ("search_phase_execution_exception",):
            root = root.caused_by
        root_cause = {"type": root.type, "reason": root.reason, **root.extra}
        return {"error": {"root_cause": [root_cause], **self.cause()}, "status": self.status}


def bad_request(reason: str, type: str = "illegal_argument_exception", **extra: Any) -> SearchError:
    return SearchError(400, type, reason, **extra)


def parsing(reason: str, **extra: Any) -> SearchError:
    return SearchError(400, "parsing_exception", reason, **extra)


def unsupported(what: str) -> SearchError:
    """A feature OpenSearch has and this node does not: a 400 naming it, never a wrong answer."""
    return SearchError(400, "illegal_argument_exception", f"{what} is not supported by the Mini search node")


def index_not_found(name: str) -> SearchError:
    return SearchError(
        404, "index_not_found_exception", f"no such index [{name}]",
        index=name, **{"resource.id": name, "resource.type": "index_or_alias", "index_uuid": "_na_"},
    )


def mapper_parsing(reason: str, caused_by: SearchError | None = None) -> SearchError:
    return SearchError(400, "mapper_parsing_exception", reason, caused_by=caused_by)
