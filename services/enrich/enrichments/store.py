"""The enrichment configs as files, and the live set built from them.

Snowplow's layout: a directory with one self-describing JSON per enrichment (``<id>.json``, ``enabled``
inside).  The shipped defaults (``services/config/enrichments/``) are overlaid by the user's directory
(``$MINI_HOME/enrichments/``), where every change is written, so it survives a restart.  ``current`` is
swapped by one assignment: a change applies to the next event, without a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from .registry import ConfigError, Enrichment, EnrichmentSet, Entry, config_version, registered

log = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "config" / "enrichments"
RETIRE_DELAY_S = 5.0  # events already running with a retired config finish before it is closed


def read_dir(path: Path) -> tuple[dict[str, Any], list[str]]:
    """``{id: config}`` of every ``*.json`` in ``path``, and the files that are not JSON."""
    configs, errors = {}, []
    if not path.is_dir():
        return configs, errors
    for file in sorted(path.glob("*.json")):
        try:
            configs[file.stem] = json.loads(file.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            errors.append(f"{file.stem}: {file} is not valid JSON: {exc}")
    return configs, errors


def shipped_defaults() -> list[dict[str, Any]]:
    """The shipped configs that are on (Snowplow Mini's four defaults), e.g. for benchmarks."""
    configs, _ = read_dir(DEFAULT_DIR)
    return [c for c in configs.values() if c.get("data", {}).get("enabled") is True]


def write_atomically(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(obj, out, indent=2, ensure_ascii=False)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class EnrichmentStore:
    """Configs on disk plus the live :class:`EnrichmentSet` (``current``) that enrich reads per event.

    ``iglu`` (an ``IgluClient``) validates each config against its Snowplow schema when it can be
    resolved; a config whose schema cannot be resolved is checked by its enrichment's parser alone
    and listed as not validated.
    """

    def __init__(self, user_dir: Path | str, default_dir: Path | str | None = DEFAULT_DIR, *,
                 home: Path | str | None = None, iglu: Any = None,
                 registry: Mapping[str, type[Enrichment]] | None = None, state: Any = None,
                 settings: Mapping[str, Any] | None = None):
        self.user_dir = Path(user_dir)
        self.default_dir = Path(default_dir) if default_dir else None
        self.home = Path(home) if home else None
        self.settings = settings
        self.iglu = iglu
        self.registry = dict(registered() if registry is None else registry)
        self.state = state  # enrich's State: the live set is its ``enrichments``, swapped by ``swap``
        self._current = EnrichmentSet()
        self.errors: list[str] = []  # problems of the files on disk at the last load
        # Disabled configs that do not parse yet (e.g. a database file not installed): listed, not run.
        self.dormant: dict[str, tuple[dict, list[str]]] = {}
        self._lock = asyncio.Lock()

    @property
    def current(self) -> EnrichmentSet:
        return self.state.enrichments if self.state is not None else self._current

    def _assign(self, new: EnrichmentSet) -> None:
        if self.state is not None:
            self.state.swap(new)
            self.state.enrichment_errors = list(self.errors)
        else:
            self._current = new

    # ---- loading ------------------------------------------------------------------------------
    def _read(self) -> tuple[dict[str, Any], list[str]]:
        configs, errors = read_dir(self.default_dir) if self.default_dir else ({}, [])
        user, user_errors = read_dir(self.user_dir)
        configs.update(user)
        return configs, errors + user_errors

    def _build(self, configs: dict[str, Any], errors: list[str], schema_errors: list[str],
               unvalidated: set[str]) -> list[str]:
        bad = {e.split(":", 1)[0] for e in schema_errors}
        new, parse_errors = EnrichmentSet.from_configs(
            {k: v for k, v in configs.items() if k not in bad}, home=self.home, registry=self.registry, settings=self.settings,
            unvalidated=unvalidated)
        dormant: dict[str, tuple[dict, list[str]]] = {}
        for problem in schema_errors + parse_errors:
            entry_id = problem.split(":", 1)[0]
            config = configs.get(entry_id)
            if isinstance(config, dict) and isinstance(config.get("data"), dict) \
                    and config["data"].get("enabled") is False:
                dormant.setdefault(entry_id, (config, []))[1].append(problem.split(": ", 1)[-1])
            elif problem not in errors:
                errors.append(problem)
        self.errors, self.dormant = errors, dormant
        self._swap(new)
        for problem in errors:
            log.warning("enrichment config %s", problem)
        return errors

    async def load(self) -> list[str]:
        """(Re)build the live set from the directories; returns every problem found (also kept in ``errors``)."""
        async with self._lock:
            configs, errors = self._read()
            unvalidated, schema_errors = await self._check_all(configs)
            return self._build(configs, errors, schema_errors, unvalidated)

    def load_now(self) -> list[str]:
        """``load`` without the resolver (at start-up, from sync code): every entry starts unvalidated;
        ``validate`` later marks those whose schema the resolver confirms."""
        configs, errors = self._read()
        return self._build(configs, errors, [], set(configs))

    async def validate(self) -> list[str]:
        """Check the live configs against their schemas; mark the confirmed ones validated."""
        async with self._lock:
            live = self.current
            results = await asyncio.gather(*(self._check(e.id, e.config) for e in live.entries))
            problems = [p for _, errs in results for p in errs]
            entries = [dataclasses.replace(e, validated=ok and not errs)
                       for e, (ok, errs) in zip(live.entries, results)]
            if self.current is live:
                self._swap(EnrichmentSet(entries), retire=False)
            for problem in problems:
                log.warning("enrichment config %s", problem)
            self.errors.extend(p for p in problems if p not in self.errors)
            return problems

    async def _check_all(self, configs: Mapping[str, Any]) -> tuple[set[str], list[str]]:
        results = await asyncio.gather(*(self._check(i, c) for i, c in configs.items()))
        unvalidated = {i for i, (validated, _) in zip(configs, results) if not validated}
        return unvalidated, [e for _, errs in results for e in errs]

    async def _check(self, entry_id: str, config: Any) -> tuple[bool, list[str]]:
        """(validated, errors) against the config's own schema through the resolver."""
        if self.iglu is None or not isinstance(config, dict) or not isinstance(config.get("schema"), str):
            return False, []
        result = await self.iglu.check(config)
        if result.ok:
            return True, []
        if result.not_iglu is not None:
            return False, []  # the envelope check of the registry reports it
        error = result.error or {}
        if error.get("error") == "ResolutionError":
            return False, []
        reports = error.get("dataReports") or error.get("schemaIssues") or [error]
        return True, [f"{entry_id}: {r.get('path', '$')}: {r.get('message', r)}" if isinstance(r, dict)
                      else f"{entry_id}: {r}" for r in reports]

    # ---- changing -----------------------------------------------------------------------------
    def resolve_id(self, name: str) -> str:
        """The file id for an enrichment named in a URL: an existing id, else the entry of that name."""
        if name in self.dormant or any(e.id == name for e in self.current.entries):
            return name
        entry = self.current.get(name)
        if entry:
            return entry.id
        return next((i for i, (c, _) in self.dormant.items() if c["data"].get("name") == name), name)

    async def put(self, name: str | None, config: Any) -> Entry:
        """Check ``config`` fully, write it, make it live; ConfigError (every error) leaves all untouched."""
        async with self._lock:
            if not isinstance(config, dict) or not isinstance(config.get("data"), dict):
                raise ConfigError(["the body must be a self-describing JSON: {\"schema\": ..., \"data\": {...}}"])
            given = config["data"].get("name")
            entry_id = self.resolve_id(name or (given if isinstance(given, str) else ""))
            if not entry_id:
                raise ConfigError(["data.name: the config names no enrichment"])
            old = next((e for e in self.current.entries if e.id == entry_id), None)
            multiple = getattr(self.registry.get(given), "multiple", False) if isinstance(given, str) else False
            if name and isinstance(given, str) and given != name and (old is None or old.name != given) \
                    and not (multiple and old is None):  # a new file for one more script
                raise ConfigError([f"data.name: {given!r} does not match the enrichment {name!r} of the URL"])
            validated, errors = await self._check(entry_id, config)
            if errors:
                raise ConfigError(errors)
            parsed, errors = EnrichmentSet.from_configs(
                {entry_id: config}, home=self.home, registry=self.registry, settings=self.settings,
                unvalidated=() if validated else (entry_id,))
            if errors:
                raise ConfigError([e.split(": ", 1)[1] if e.startswith(f"{entry_id}: ") else e for e in errors])
            entry = parsed.entries[0]
            clash = next((e for e in self.current.entries if e.name == entry.name and e.id != entry_id), None)
            if clash and not (entry.enrichment and entry.enrichment.multiple):
                await entry.enrichment.close()
                raise ConfigError([f"data.name: {entry.name!r} is already configured as {clash.id!r}"])
            write_atomically(self.user_dir / f"{entry_id}.json", config)
            self.dormant.pop(entry_id, None)
            self._swap(EnrichmentSet([e for e in self.current.entries if e.id != entry_id] + [entry]))
            return entry

    async def disable(self, name: str) -> Entry | dict:
        entry_id = self.resolve_id(name)
        if entry_id in self.dormant:
            return self.describe_dormant(entry_id)  # already off
        entry = self.current.get(entry_id)
        if entry is None:
            raise KeyError(name)
        config = json.loads(json.dumps(entry.config))
        config["data"]["enabled"] = False
        return await self.put(entry.id, config)

    def _swap(self, new: EnrichmentSet, retire: bool = True) -> None:
        old = self.current
        self._assign(new)
        kept = {id(e.enrichment) for e in new.entries}
        retired = [e.enrichment for e in old.entries if e.enrichment is not None and id(e.enrichment) not in kept]
        if retired and retire:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            loop.call_later(RETIRE_DELAY_S, lambda: [loop.create_task(r.close()) for r in retired])

    # ---- reading ------------------------------------------------------------------------------
    def describe(self, entry: Entry) -> dict[str, Any]:
        cls = self.registry.get(entry.name)
        return {
            "id": entry.id,
            "name": entry.name,
            "enabled": entry.enabled,
            "schema": entry.schema,
            "config": entry.config,
            "version": config_version([entry.config]),
            "validated": entry.validated,
            "criterion": cls.schema_criterion if cls else None,
        }

    def describe_dormant(self, entry_id: str) -> dict[str, Any]:
        config, errors = self.dormant[entry_id]
        name = config["data"].get("name")
        cls = self.registry.get(name)
        return {"id": entry_id, "name": name, "enabled": False, "schema": config.get("schema"),
                "config": config, "version": config_version([config]), "validated": False,
                "criterion": cls.schema_criterion if cls else None, "errors": errors}

    def lookup(self, name: str) -> dict[str, Any] | None:
        entry_id = self.resolve_id(name)
        if entry_id in self.dormant:
            return self.describe_dormant(entry_id)
        entry = self.current.get(entry_id)
        return self.describe(entry) if entry else None

    def listing(self) -> dict[str, Any]:
        items = [self.describe(e) for e in self.current.entries] + [self.describe_dormant(i) for i in self.dormant]
        return {"version": self.current.version,
                "enrichments": sorted(items, key=lambda d: d["id"]),
                "errors": list(self.errors),
                "available": sorted(self.registry)}


def for_state(state: Any) -> EnrichmentStore:
    """The store of enrich's ``State`` (created on first use, kept on the state)."""
    store = getattr(state, "enrichment_store", None)
    if store is None:
        store = EnrichmentStore(state.enrichments_dir, home=state.home, iglu=state.iglu, state=state,
                            settings=state.settings)
        state.enrichment_store = store
    return store


def load_set(state: Any) -> tuple[EnrichmentSet, list[str]]:
    """Enrich's start-up hook: build the set from the files now, confirm schemas in the background."""
    store = for_state(state)
    errors = store.load_now()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None and state.iglu is not None:
        store._validation = loop.create_task(store.validate())  # noqa: SLF001 - kept so it is not collected
    return store.current, errors
