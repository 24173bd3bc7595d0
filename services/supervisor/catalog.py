"""Every setting of every service, found in each ``services/<pkg>/settings.py`` ``SETTINGS`` (plus the
common keys): what ``mini settings`` prints and what the README's settings tables must list.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Iterable

import services
from services.common.settings import COMMON, Setting, Settings


def packages() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(services.__path__) if m.ispkg and m.name != "common")


def all_settings(names: Iterable[str] | None = None) -> list[tuple[str, Setting]]:
    """(package, Setting) pairs: ``common`` first, then each package's own keys in its order."""
    wanted = list(names) if names else ["common", *packages()]
    found: list[tuple[str, Setting]] = []
    for name in wanted:
        if name == "common":
            found.extend(("common", s) for s in COMMON)
            continue
        try:
            module = importlib.import_module(f"services.{name}.settings")
        except ModuleNotFoundError as exc:
            if exc.name == f"services.{name}.settings" or exc.name == f"services.{name}":
                continue
            raise
        found.extend((name, s) for s in getattr(module, "SETTINGS", ()))
    return found


def _default(setting: Setting) -> str:
    value = setting.default
    if isinstance(value, list):
        return ",".join(map(str, value)) if value else "(none)"
    if value == "":
        return "(empty)"
    return str(value).lower() if isinstance(value, bool) else str(value)


def markdown(rows: list[tuple[str, Setting]]) -> str:
    """README-style table rows: key, environment, default, help."""
    out = ["| key | environment | default | help |", "|---|---|---|---|"]
    for _, s in rows:
        help_text = s.help.replace("|", "\\|")
        out.append(f"| `{s.key}` | `{s.env}` | `{_default(s)}` | {help_text} |")
    return "\n".join(out)


def text(rows: list[tuple[str, Setting]], values: Settings | None = None) -> str:
    out = []
    for package, s in rows:
        line = f"{s.key:<36} {s.env:<40} default {_default(s)}"
        if values is not None and s.key in values:
            line += f"\n{'':<36} now {values[s.key]!r} (from {values.source(s.key)})"
        out.append(f"{line}\n{'':<36} {s.help}  [{package}]")
    return "\n".join(out)
