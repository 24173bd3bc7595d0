"""The Iglu client enrich and notebooks call: ``check`` an SDJ, ``lookup`` a schema.

``check`` never raises for data or registry problems: it returns a :class:`CheckResult` whose
``not_iglu`` / ``error`` fields are exactly the JSON a bad row carries (snowplow-formats.md §4.1).
On a warm cache it does no I/O beyond one ``stat`` of the local server's generation file.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import Any

from .core import ParseError, SchemaCriterion, SchemaKey, parse_sdj
from .registries import EmbeddedRegistry
from .resolver import Resolved, ResolutionFailure, Resolver, build_repos, cache_params
from .validation import DEFAULT_MAX_DEPTH

VALIDATION_INFO = "iglu:com.snowplowanalytics.iglu/validation_info/jsonschema/1-0-0"


@dataclasses.dataclass
class CheckResult:
    ok: bool
    schema_key: str | None = None
    schema_criterion: str | None = None
    not_iglu: dict | None = None
    error: dict | None = None
    superseded_by: str | None = None
    data: Any = None

    def validation_info(self) -> dict | None:
        """The derived context Enrich adds when a superseding schema was used (iglu.md §1.5 item 7)."""
        if not self.superseded_by or not self.schema_key:
            return None
        return {"schema": VALIDATION_INFO,
                "data": {"originalSchema": self.schema_key, "validatedWith": self.superseded_by}}

    @property
    def criterion_mismatch(self) -> bool:
        return not self.ok and self.schema_criterion is not None and self.error is None and self.not_iglu is None


class IgluClient:
    """Validates self-describing JSON through a :class:`Resolver` (one per process; share it)."""

    def __init__(self, resolver: Resolver):
        self.resolver = resolver

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_resolver_config(
        cls,
        config: dict,
        cache_dir: str | os.PathLike | None = None,
        http_timeout: float = 4.0,
        *,
        base_dir: str | os.PathLike | None = None,
        mirror_dirs: list[str] | tuple[str, ...] = (),
        local_server_uri: str | None = None,
        generation_file: str | os.PathLike | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
        compiled: bool = True,
        disk_first=None,
    ) -> "IgluClient":
        kwargs = {} if disk_first is None else {"disk_first": disk_first}
        repos = build_repos(
            config, base_dir=Path(base_dir) if base_dir else None,
            cache_dir=Path(cache_dir) if cache_dir else None, http_timeout=http_timeout,
            local_server_uri=local_server_uri, **kwargs,
        )
        names = {r.name for r in repos}
        for i, path in enumerate(mirror_dirs):
            name = f"Mirror {path}"
            if name not in names:
                repos.append(EmbeddedRegistry(name, 10 + i, [], Path(os.path.expanduser(path))))
        size, ttl = cache_params(config)
        return cls(Resolver(repos, size, ttl, generation_file=generation_file, max_depth=max_depth, compiled=compiled))

    @classmethod
    def from_settings(cls, settings, home: str | os.PathLike | None = None) -> "IgluClient":
        """The resolver Mini's services use: resolver config, mirror dirs, local server URL and key."""
        from .settings import local_server, resolver_config

        home = Path(home) if home else settings.home
        config, base_dir = resolver_config(settings, home)
        local_uri, _key = local_server(settings, home)
        return cls.from_resolver_config(
            config,
            cache_dir=home / "iglu" / "cache",
            http_timeout=float(settings.get("iglu.http_timeout", 4.0)),
            base_dir=base_dir,
            mirror_dirs=list(settings.get("iglu.mirror_dirs", [])),
            local_server_uri=f"{local_uri}/api" if local_uri else None,
            generation_file=home / "iglu" / "generation",
            max_depth=int(settings.get("iglu.max_json_depth", DEFAULT_MAX_DEPTH)),
        )

    # ---- API ------------------------------------------------------------------------------
    async def lookup(self, key: str | SchemaKey) -> dict:
        """A copy of the schema JSON; raises :class:`ResolutionFailure` (``.lookup_history``)."""
        return copy.deepcopy(await self.resolver.lookup(key))

    async def check(self, instance: Any, criterion: str | SchemaCriterion | None = None) -> CheckResult:
        """Validate self-describing data against its schema (superseding followed)."""
        parsed = _parse(instance, criterion)
        if isinstance(parsed, CheckResult):
            return parsed
        key, data, crit = parsed
        try:
            resolved = await self.resolver.resolve(key)
        except ResolutionFailure as exc:
            return CheckResult(False, key.uri, crit, error=exc.as_json(), data=data)
        return _validate(key, data, crit, resolved)

    def check_sync(self, instance: Any, criterion: str | SchemaCriterion | None = None) -> CheckResult | None:
        """``check`` answered from the warm cache; None when a fetch is needed."""
        parsed = _parse(instance, criterion)
        if isinstance(parsed, CheckResult):
            return parsed
        key, data, crit = parsed
        resolved = self.resolver.resolve_cached(key)
        if resolved is None:
            return None
        if isinstance(resolved, ResolutionFailure):
            return CheckResult(False, key.uri, crit, error=resolved.as_json(), data=data)
        return _validate(key, data, crit, resolved)

    def status(self) -> dict:
        return self.resolver.status()


def _parse(instance: Any, criterion):
    try:
        key, data = parse_sdj(instance)
    except ParseError as exc:
        return CheckResult(False, not_iglu={"json": instance, "error": exc.code})
    crit = None
    if criterion is not None:
        crit_obj = SchemaCriterion.parse(criterion) if isinstance(criterion, str) else criterion
        crit = str(crit_obj)
        if not crit_obj.matches(key):
            return CheckResult(False, key.uri, crit, data=data)
    return key, data, crit


def _validate(key: SchemaKey, data: Any, crit: str | None, resolved: Resolved) -> CheckResult:
    compiled = resolved.compiled
    try:
        issues = compiled.issues
        reports = [] if issues else compiled.errors(data)
    except Exception as exc:  # e.g. a local $ref to nowhere: the schema is unusable, never a crash
        issues = [{"path": "$", "message": f"the schema cannot be used for validation: {type(exc).__name__}: {exc}"}]
    if issues:
        error = {"error": "ValidationError", "schemaIssues": issues}
    else:
        if not reports:
            return CheckResult(True, key.uri, crit, superseded_by=resolved.superseded_by, data=data)
        error = {"error": "ValidationError", "dataReports": reports}
    if resolved.superseded_by:
        error["supersededBy"] = resolved.superseded_by
    return CheckResult(False, key.uri, crit, error=error, superseded_by=resolved.superseded_by, data=data)
