"""A set of owners (documents or nested objects) that an aggregation runs over."""

from __future__ import annotations

from .query import EMPTY, Sql


class DocSet:
    """A set of owners in a scope; ``everything`` lets a leaf skip the membership test."""

    def __init__(self, sql: Sql, scope: str | None, everything: bool = False, materialized: bool = False,
                 size: int | None = None):
        self.sql = sql
        self.size = size  # members, when known (lets a leaf choose lookups over a scan)
        self.scope = scope
        self.everything = everything
        self.materialized = materialized  # already a temp table: cheap to read several times


def _and(docs: DocSet, inner: Sql) -> DocSet:
    if inner is EMPTY or docs.sql is EMPTY:
        return DocSet(EMPTY, docs.scope)
    if docs.everything:
        return DocSet(inner, docs.scope)
    return DocSet((f"SELECT k FROM ({docs.sql[0]}) INTERSECT SELECT k FROM ({inner[0]})", list(docs.sql[1]) + inner[1]),
                  docs.scope)
