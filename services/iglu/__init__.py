"""Iglu: Snowplow-exact schema validation, a caching resolver with mirrors, a local Iglu Server, tools.

Enrich and notebooks use :class:`services.iglu.client.IgluClient`; the supervisor calls
:func:`offline_check` at ``mini up``; ``python -m services.iglu`` runs the local Iglu Server.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

# jsonschema imports rfc3987_syntax when it is installed (Jupyter pulls it in) only for the draft-7+
# "iri" formats; building its grammar costs seconds per process.  Draft 4 never uses it.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)

PROBE = "schemas/com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"


def _has_schemas(path: Path) -> bool:
    root = path / "schemas" if (path / "schemas").is_dir() else path
    try:
        return root.is_dir() and any(root.iterdir())
    except OSError:
        return False


def offline_check(settings, timeout: float = 2.0) -> str | None:
    """A warning when Iglu Central is unreachable and no schemas are cached or mirrored, else None."""
    from .registries import IGLU_CENTRAL_HOSTS
    from .settings import resolver_config

    home = settings.home
    if any(_has_schemas(Path(d).expanduser()) for d in settings.get("iglu.mirror_dirs", [])):
        return None
    cache = home / "iglu" / "cache"
    if cache.is_dir() and any(_has_schemas(p) for p in cache.iterdir()):
        return None
    config, _ = resolver_config(settings, home)
    uris = [
        r["connection"]["http"]["uri"].rstrip("/")
        for r in config.get("data", config).get("repositories", [])
        if "http" in r.get("connection", {}) and IGLU_CENTRAL_HOSTS.match(r["connection"]["http"].get("uri", ""))
    ]
    for uri in uris:
        try:
            with urllib.request.urlopen(f"{uri}/{PROBE}", timeout=timeout) as response:
                if response.status == 200:
                    return None
        except (urllib.error.URLError, OSError, ValueError):
            continue
    if not uris:
        return None
    return (
        f"Iglu Central ({', '.join(uris)}) is unreachable and no schemas are cached in {cache} or mirrored: "
        "events using Iglu Central schemas will become schema_violations bad rows. Fix: set "
        "MINI_IGLU_MIRROR_DIRS to a local copy of Iglu Central, or run "
        "`mini iglu mirror --from http://iglucentral.com --to DIR` on a connected machine and add DIR to MINI_IGLU_MIRROR_DIRS."
    )
