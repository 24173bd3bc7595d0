"""Default configuration shipped with the stack: the resolver config, enrichment configs, index
mappings and other data files each piece adds here.  ``path(name)`` locates one; ``read_json(name)``
loads it.  Users override them through settings (``iglu.resolver_config``, ...), never by editing these.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent


def path(name: str) -> Path:
    """The shipped file ``name`` (e.g. ``"resolver.json"``, ``"enrichments/ua_parser_config.json"``)."""
    target = (ROOT / name).resolve()
    if ROOT not in target.parents:
        raise ValueError(f"{name!r} is outside services/config")
    if not target.exists():
        raise FileNotFoundError(f"no default config {name!r} in {ROOT}")
    return target


def read_json(name: str) -> Any:
    return json.loads(path(name).read_text(encoding="utf-8"))
