"""The enrichment configs as files, and the live set built from them.

Snowplow's layout: a directory with one self-describing JSON per enrichment (``<id>.json``, ``enabled``
inside).  The shipped defaults (``services/config/enrichments/``) are overlaid by the user's directory
(``$MINI_HOME/enrichments/``), where every change is written, so it survives a restart.  ``current`` is
swapped by one assignment: a change applies to the next event, without a restart.
"""

from __future__ import annotations

import asyncio
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
                 registry: Mapping[str, type[Enrichment]] | None = None):
        self.user_dir = Path(user_dir)
        self.default_dir = Path(default_dir) if default_dir else None
        self.home = Path(home) if home else None
        self.iglu = iglu
        self.registry = dict(registered() if registry is None else registry)
        self.current = EnrichmentSet()
        self.errors: list[str] = []  # problems of the files on disk at the last load
        # Disabled configs that do not parse yet (e.g. a database file not installed): listed, not run.
        self.dormant: dict[str, tuple[dict, list[str]]] = {}
        self._lock = asyncio.Lock()

    # ---- loading ------------------------------------------------------------------------------
    async def load(self) -> list[str]:
        """(Re)build the live set from the directories; returns every problem found (also kept in ``errors``)."""
        async with self._lock:
            configs, errors = read_dir(self.default_dir) if self.default_dir else ({}, [])
            user, user_errors = read_dir(self.user_dir)
            configs.update(user)
            errors += user_errors
            unvalidated, schema_errors = await self._check_all(configs)
            bad = {e.split(":", 1)[0] for e in schema_errors}
            new, parse_errors = EnrichmentSet.from_configs(
                {k: v for k, v in configs.items() if k not in bad}, home=self.home, registry=self.registry,
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
            self._swap(new)
            self.errors, self.dormant = errors, dormant
            for problem in errors:
                log.warning("enrichment config %s", problem)
            return errors

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
                {entry_id: config}, home=self.home, registry=self.registry,
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

    def _swap(self, new: EnrichmentSet) -> None:
        old, self.current = self.current, new
        kept = {id(e.enrichment) for e in new.entries}
        retired = [e.enrichment for e in old.entries if e.enrichment is not None and id(e.enrichment) not in kept]
        if retired:
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
