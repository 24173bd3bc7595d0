"""The Iglu resolver: a resolver-config 1-0-x, registries in Iglu's lookup order, and a schema cache.

Order (reference/iglu.md §2.2): vendor-prefix matches first, then class priority (embedded before
HTTP), then the configured ``priority``.  The cache (§2.4) keeps hits and NotFound misses for
``cacheTtl`` seconds, keeps a stale hit when a refresh fails, and retries other failures with
Iglu's backoff.  Entries that consulted the local Iglu Server are dropped as soon as its
generation file changes, so a publish is seen by the very next lookup in every process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import os
import re
import time
from pathlib import Path
from typing import Any, Iterable

from .core import SchemaCriterion, SchemaKey, SchemaVer, ParseError
from .registries import (
    CLIENT_FAILURE, IGLU_CENTRAL_HOSTS, NOT_FOUND, REPO_FAILURE, EmbeddedRegistry, HttpRegistry, Registry, RegistryError,
)
from .validation import DEFAULT_MAX_DEPTH, CompiledSchema

RESOLVER_CRITERION = SchemaCriterion.parse("iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-*")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
_SETTLE_NS = 1_000_000_000  # 1 s: far past the filesystem's timestamp granularity


class ResolverConfigError(ValueError):
    """The resolver config cannot be used; the message says why."""


class ResolutionFailure(Exception):
    """No registry returned the schema; ``lookup_history`` is Iglu's per-repo history."""

    def __init__(self, key: SchemaKey, lookup_history: list[dict]):
        super().__init__(f"cannot resolve {key.uri}: {lookup_history}")
        self.key = key
        self.lookup_history = lookup_history

    def as_json(self) -> dict:
        return {"error": "ResolutionError", "lookupHistory": self.lookup_history}


def backoff_ms(attempts: int) -> int:
    if attempts <= 8:
        delay = 500 + 4 ** attempts
    elif attempts <= 12:
        delay = 500 + 3 ** attempts
    elif attempts <= 20:
        delay = 500 + 2 ** attempts + 5000
    else:
        delay = 1_200_000 + attempts * 100
    return min(delay, 60_000)


def _instant(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclasses.dataclass
class RepoHistory:
    errors: list[dict]
    attempts: int
    last_attempt: float  # wall clock, for the report
    last_attempt_mono: float

    def not_found_only(self) -> bool:
        return all(e.get("error") == NOT_FOUND for e in self.errors)


@dataclasses.dataclass
class Entry:
    """A cached answer: a schema (from ``repo``) or the per-repo failures."""

    stored: float
    schema: dict | None = None
    repo: Registry | None = None
    failures: dict[str, RepoHistory] = dataclasses.field(default_factory=dict)
    consulted_local: bool = False
    compiled: CompiledSchema | None = None


@dataclasses.dataclass
class Resolved:
    key: SchemaKey  # the key actually validated against (the superseding one, if any)
    schema: dict
    compiled: CompiledSchema
    superseded_by: str | None = None


class Resolver:
    def __init__(
        self,
        repos: Iterable[Registry],
        cache_size: int = 500,
        cache_ttl: float | None = 600,
        generation_file: Path | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
        compiled: bool = True,
    ):
        self.repos = list(repos)
        names = [r.name for r in self.repos]
        if len(set(names)) != len(names):
            raise ResolverConfigError("Repository names must be unique")
        self.cache_enabled = cache_size > 0 and cache_ttl != 0
        self.cache_size = max(int(cache_size), 1)
        self.cache_ttl = cache_ttl
        self.generation_file = Path(generation_file) if generation_file else None
        self.max_depth = max_depth
        self.compiled = compiled
        self._cache: dict[SchemaKey, Entry] = {}
        self._locks: dict[SchemaKey, asyncio.Lock] = {}
        self._generation: Any = None
        self._generation_content: bytes | None = None
        self._settled = False
        self.counters = {"lookups": 0, "cache_hits": 0, "fetches": 0, "generation_reloads": 0}

    # ---- ordering and cache policy -------------------------------------------------------
    def ordered(self, vendor: str) -> list[Registry]:
        return sorted(self.repos, key=lambda r: (not r.matches(vendor), r.class_priority, r.priority))

    def refresh_generation(self) -> None:
        """Drop entries that asked the local server when its generation changed (one stat per lookup).

        File timestamps are coarse (a kernel tick) and inode numbers get reused, so the stat alone is
        trusted only once the content was read ``_SETTLE_NS`` after the file's mtime (a later write
        would then carry a later mtime); until then the content decides.
        """
        if self.generation_file is None:
            return
        try:
            st = os.stat(self.generation_file)
            signature = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            signature = None
        if signature == self._generation and (signature is None or self._settled):
            return
        read_at = time.time_ns()
        try:
            content = self.generation_file.read_bytes()
        except OSError:
            content = None
        self._settled = signature is not None and read_at - signature[1] > _SETTLE_NS
        if content != self._generation_content:
            if self._generation_content is not None or content is not None:
                self.counters["generation_reloads"] += 1
                self._cache = {k: e for k, e in self._cache.items() if not e.consulted_local}
            self._generation_content = content
        self._generation = signature

    def _fresh(self, entry: Entry, now: float) -> bool:
        return self.cache_ttl is None or now - entry.stored < self.cache_ttl

    def _retry_due(self, entry: Entry, now: float) -> list[Registry]:
        """Repos worth asking again for a cached failure still within its TTL."""
        due = []
        for repo in self.ordered(""):
            hist = entry.failures.get(repo.name)
            if hist is None:
                due.append(repo)  # never asked (added since), ask it
            elif hist.not_found_only() or isinstance(repo, EmbeddedRegistry):
                continue
            elif (now - hist.last_attempt_mono) * 1000 > backoff_ms(hist.attempts):
                due.append(repo)
        return due

    def cached(self, key: SchemaKey) -> Entry | None:
        """The entry a lookup would return without any I/O, or None when a fetch is needed."""
        entry = self._cache.get(key) if self.cache_enabled else None
        if entry is None:
            return None
        now = time.monotonic()
        if not self._fresh(entry, now):
            return None
        if entry.schema is None and self._retry_due(entry, now):
            return None
        return entry

    # ---- lookups --------------------------------------------------------------------------
    async def lookup_entry(self, key: SchemaKey) -> Entry:
        self.counters["lookups"] += 1
        self.refresh_generation()
        entry = self.cached(key)
        if entry is not None:
            self.counters["cache_hits"] += 1
            return entry
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one fetch per key even when many events need it at once
            entry = self.cached(key)
            if entry is None:
                entry = await self._fetch(key)
        if not lock.locked():
            self._locks.pop(key, None)
        return entry

    async def _fetch(self, key: SchemaKey) -> Entry:
        now_mono = time.monotonic()
        previous = self._cache.get(key)
        fresh_failure = previous is not None and previous.schema is None and self._fresh(previous, now_mono)
        failures: dict[str, RepoHistory] = {}
        if fresh_failure:
            failures = dict(previous.failures)
            candidates = self._retry_due(previous, now_mono)
        else:
            candidates = self.ordered(key.vendor)
            if previous is not None and previous.schema is None:
                # After the TTL NotFound is forgotten; other failures keep their attempt counts.
                failures = {n: h for n, h in previous.failures.items() if not h.not_found_only()}
        ordered_candidates = [r for r in self.ordered(key.vendor) if r in candidates]
        consulted_local = False
        for repo in ordered_candidates:
            consulted_local = consulted_local or repo.is_local_server
            self.counters["fetches"] += 1
            try:
                try:
                    schema = await repo.fetch(key)
                except RegistryError:
                    raise
                except Exception as unexpected:  # a registry problem must never escape a lookup
                    raise RegistryError(REPO_FAILURE, f"{repo.describe()}: {type(unexpected).__name__}: {unexpected}") from None
            except RegistryError as exc:
                old = failures.get(repo.name)
                errors = [] if old is None else [e for e in old.errors if e != exc.as_json()]
                failures[repo.name] = RepoHistory(  # the attempt's end starts its backoff
                    errors + [exc.as_json()], (old.attempts if old else 0) + 1, time.time(), time.monotonic()
                )
                continue
            entry = Entry(time.monotonic(), schema=schema, repo=repo, consulted_local=consulted_local)
            self._store(key, entry)
            return entry
        if previous is not None and previous.schema is not None:
            previous.stored = time.monotonic()  # keep the stale schema through an outage
            return previous
        local_asked = consulted_local or (previous is not None and previous.consulted_local)
        entry = Entry(time.monotonic(), failures=failures, consulted_local=local_asked)
        self._store(key, entry)
        return entry

    def _store(self, key: SchemaKey, entry: Entry) -> None:
        if not self.cache_enabled:
            return
        self._cache.pop(key, None)
        self._cache[key] = entry
        while len(self._cache) > self.cache_size:
            self._cache.pop(next(iter(self._cache)))

    def history(self, entry: Entry) -> list[dict]:
        out = []
        for repo in self.ordered(""):
            hist = entry.failures.get(repo.name)
            if hist is not None:
                out.append({"errors": hist.errors, "attempts": hist.attempts,
                            "lastAttempt": _instant(hist.last_attempt), "repository": repo.name})
        return out

    async def lookup(self, key: SchemaKey | str) -> dict:
        """The schema JSON for ``key``; raises :class:`ResolutionFailure`."""
        key = SchemaKey.parse(key) if isinstance(key, str) else key
        entry = await self.lookup_entry(key)
        if entry.schema is None:
            raise ResolutionFailure(key, self.history(entry))
        return entry.schema

    def compiled_for(self, entry: Entry) -> CompiledSchema:
        if entry.compiled is None:
            entry.compiled = CompiledSchema(entry.schema, max_depth=self.max_depth, compiled=self.compiled)
        return entry.compiled

    async def resolve(self, key: SchemaKey) -> Resolved:
        """Lookup with ``$supersededBy`` followed (once, to a greater version)."""
        entry = await self.lookup_entry(key)
        if entry.schema is None:
            raise ResolutionFailure(key, self.history(entry))
        superseding = self._superseding(key, entry)
        if superseding is None:
            return Resolved(key, entry.schema, self.compiled_for(entry))
        target = await self.lookup_entry(superseding)
        if target.schema is None:
            raise ResolutionFailure(superseding, self.history(target))
        return Resolved(superseding, target.schema, self.compiled_for(target), str(superseding.version))

    def resolve_cached(self, key: SchemaKey) -> Resolved | ResolutionFailure | None:
        """Like :meth:`resolve` from the cache only; None when a fetch would be needed."""
        self.refresh_generation()
        entry = self.cached(key)
        if entry is None:
            return None
        if entry.schema is None:
            return ResolutionFailure(key, self.history(entry))
        try:
            superseding = self._superseding(key, entry)
        except ResolutionFailure as exc:
            return exc
        if superseding is None:
            return Resolved(key, entry.schema, self.compiled_for(entry))
        target = self.cached(superseding)
        if target is None:
            return None
        if target.schema is None:
            return ResolutionFailure(superseding, self.history(target))
        return Resolved(superseding, target.schema, self.compiled_for(target), str(superseding.version))

    def _superseding(self, key: SchemaKey, entry: Entry) -> SchemaKey | None:
        raw = entry.schema.get("$supersededBy")
        if raw is None:
            return None
        try:
            version = SchemaVer.parse(raw)
        except ParseError:
            version = None
        if version is None or version <= key.version:
            repo = entry.repo.name if entry.repo else "unknown"
            raise ResolutionFailure(key, [{
                "errors": [{"error": CLIENT_FAILURE, "message": f"Invalid $supersededBy {raw!r}: must be a greater SchemaVer than {key.version}"}],
                "attempts": 1, "lastAttempt": _instant(time.time()), "repository": repo}])
        return key.with_version(version)

    def status(self) -> dict:
        return {**self.counters, "cached": len(self._cache), "repositories": [r.describe() for r in self.ordered("")]}


# ---- building a resolver from a resolver-config -----------------------------------------------
def _slug(text: str) -> str:
    return _SLUG.sub("_", text).strip("_") or "repo"


def build_repos(
    config: dict,
    *,
    base_dir: Path | None = None,
    cache_dir: Path | None = None,
    http_timeout: float = 4.0,
    local_server_uri: str | None = None,
    disk_first: re.Pattern = IGLU_CENTRAL_HOSTS,
) -> list[Registry]:
    """Registries of a resolver-config SDJ (or its bare ``data``)."""
    data = config
    if isinstance(config, dict) and "schema" in config and "data" in config:
        try:
            key = SchemaKey.parse(config["schema"])
        except ParseError as exc:
            raise ResolverConfigError(f"resolver config schema: {exc}") from None
        if not RESOLVER_CRITERION.matches(key):
            raise ResolverConfigError(f"{key.uri} does not match {RESOLVER_CRITERION}")
        data = config["data"]
    if not isinstance(data, dict) or not isinstance(data.get("repositories"), list):
        raise ResolverConfigError("resolver config needs a 'repositories' array")
    repos: list[Registry] = []
    local = local_server_uri.rstrip("/") if local_server_uri else None
    for item in data["repositories"]:
        try:
            name, priority = str(item["name"]), int(item["priority"])
            prefixes = list(item.get("vendorPrefixes") or [])
            connection = item["connection"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ResolverConfigError(f"bad repository entry {item!r}: {exc}") from None
        if "embedded" in connection:
            path = Path(os.path.expanduser(str(connection["embedded"]["path"])))
            if not path.is_absolute():
                path = (base_dir or Path.cwd()) / path
            repos.append(EmbeddedRegistry(name, priority, prefixes, path))
        elif "http" in connection:
            uri = str(connection["http"]["uri"]).rstrip("/")
            apikey = connection["http"].get("apikey")
            is_local = bool(local) and uri == local
            cacheable = not is_local and not apikey
            repos.append(HttpRegistry(
                name, priority, prefixes, uri, apikey,
                # Remote registries fail fast; the local server is on loopback, where a slow
                # connect means a busy machine, not a dead host, so it gets the full timeout.
                connect_timeout=http_timeout if is_local else min(1.0, http_timeout),
                request_timeout=http_timeout,
                disk_cache=(cache_dir / _slug(uri)) if cache_dir and cacheable else None,
                disk_first=bool(disk_first.match(uri)) and cacheable,
                is_local_server=is_local,
            ))
        else:
            raise ResolverConfigError(f"repository {name}: connection must be 'embedded' or 'http'")
    return repos


def cache_params(config: dict) -> tuple[int, float | None]:
    data = config.get("data", config) if isinstance(config, dict) else {}
    size = int(data.get("cacheSize", 500))
    ttl = data.get("cacheTtl")
    return size, (None if ttl is None else float(ttl))
