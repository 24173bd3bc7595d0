"""``mini reset-indexes`` and ``mini retention``: the sinks' admin actions from the command line.

Both go through a running sink's admin port when there is one (so its bulk writes pause during a
reset), else straight to OpenSearch: ``opensearch.url`` / ``MINI_OPENSEARCH_URL``, or the embedded
search node found through its run file.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from services.common import service
from services.common.settings import COMMON, load, merge_specs

from .settings import SETTINGS


def register(subparsers) -> None:
    p = subparsers.add_parser("reset-indexes", help="empty the good and bad indexes and recreate their mappings",
                              description=__doc__)
    p.set_defaults(func=cmd_reset)
    p = subparsers.add_parser("retention", help="delete events and bad rows older than sink.retention_days now",
                              description=__doc__)
    p.add_argument("--days", type=float, default=None, help="age limit in days (default: sink.retention_days)")
    p.set_defaults(func=cmd_retention)


def load_settings(home: Path):
    return load(merge_specs(COMMON, SETTINGS), {"home": str(home)})


def search_url(settings) -> str:
    """The configured OpenSearch, else the embedded node of this data directory."""
    if settings["opensearch.url"]:
        return settings["opensearch.url"]
    info = service.read_run_file(settings.home, "search")
    if not info:
        raise RuntimeError(f"no search node is running for {settings.home} and opensearch.url is not set")
    return f"http://127.0.0.1:{info.get('http_port') or info['port']}"


def _admin(home: Path, path: str, body: Any = None) -> dict[str, Any] | None:
    """POST to a running sink's admin port; None when no sink is running."""
    for name in ("sink-bad", "sink-good"):
        info = service.read_run_file(home, name)
        if not info:
            continue
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(f"http://127.0.0.1:{info['port']}{path}", data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(exc.read().decode(errors="replace")) from None
        except (urllib.error.URLError, OSError):
            continue  # a stale run file: try the next one, then OpenSearch directly
    return None


def reset(home: Path) -> dict[str, str]:
    """Empty both indexes and recreate their mappings (Python API of ``mini reset-indexes``)."""
    result = _admin(home, "/reset")
    if result is not None:
        return result["reset"]
    from . import mappings, retention

    settings = load_settings(home)
    settings = settings.replace(opensearch__url=search_url(settings))
    return retention.reset_indexes(mappings.client(settings), settings)


def sweep(home: Path, days: float | None = None) -> dict[str, int]:
    """Apply the retention policy to both indexes now (Python API of ``mini retention``)."""
    from . import mappings, retention

    settings = load_settings(home)
    settings = settings.replace(opensearch__url=search_url(settings))
    return retention.sweep(mappings.client(settings), settings, days=days)


def cmd_reset(args) -> int:
    try:
        done = reset(args.home)
    except Exception as exc:  # noqa: BLE001 - reported to the user
        print(f"mini reset-indexes: {exc}", file=sys.stderr)
        return 1
    print(f"Emptied and recreated: {', '.join(done.values())}")
    return 0


def cmd_retention(args) -> int:
    try:
        deleted = sweep(args.home, args.days)
    except Exception as exc:  # noqa: BLE001 - reported to the user
        print(f"mini retention: {exc}", file=sys.stderr)
        return 1
    print(", ".join(f"{kind}: {n} deleted" for kind, n in deleted.items()))
    return 0
