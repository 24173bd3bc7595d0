"""Settings of the iglu service (the local Iglu Server) and of every process that resolves schemas.

Resolver keys (``iglu.resolver_config``, ``iglu.mirror_dirs``, ``iglu.server_url``...) are read by
enrich too, through :meth:`services.iglu.client.IgluClient.from_settings`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from services.common.service import read_run_file
from services.common.settings import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("iglu.host", "127.0.0.1", "Interface the local Iglu Server binds."),
    Setting("iglu.port", 0, "HTTP port of the local Iglu Server (0: any free port, written to run/iglu.json)."),
    Setting("iglu.super_api_key", "", "Super API key of the local Iglu Server (empty: generated at first start and stored)."),
    Setting("iglu.patches_allowed", True, "Allow overwriting (PUT on an existing version) and DELETE of schemas, like Mini's dev registry."),
    Setting("iglu.max_payload_size", 100000, "Largest request body the local Iglu Server accepts, in bytes (larger: 413)."),
    Setting("iglu.server_max_json_depth", 40, "Deepest JSON nesting the local Iglu Server accepts in a body."),
    Setting("iglu.resolver_config", "", "Path of a Snowplow resolver-config JSON (empty: services/config/resolver.json)."),
    Setting("iglu.mirror_dirs", [], "Directories holding local copies of static registries (e.g. Iglu Central), "
            "tried as embedded registries; comma-separated.", type=list),
    Setting("iglu.server_url", "", "Base URL of the local Iglu Server for resolvers, e.g. http://127.0.0.1:4001 "
            "(empty: read from run/iglu.json)."),
    Setting("iglu.server_api_key", "", "API key resolvers send to the local Iglu Server (empty: read from run/iglu.json)."),
    Setting("iglu.http_timeout", 4.0, "Seconds a resolver waits for an HTTP registry answer (remote connect timeout at most 1 s)."),
    Setting("iglu.max_json_depth", 50, "Deepest JSON nesting a validated instance may have (Enrich's maxJsonDepth)."),
)

PROJECT_REGISTRY = Path(__file__).resolve().parent.parent / "config" / "iglu"
DEFAULT_RESOLVER = Path(__file__).resolve().parent.parent / "config" / "resolver.json"
URL_PLACEHOLDER = "${MINI_IGLU_SERVER_URL}"
KEY_PLACEHOLDER = "${MINI_IGLU_SERVER_API_KEY}"


def local_server(settings, home: Path) -> tuple[str | None, str | None]:
    """The local Iglu Server's base URL and API key: settings first, else its run file."""
    url = (settings.get("iglu.server_url") or "").rstrip("/") or None
    key = settings.get("iglu.server_api_key") or None
    if url is None or key is None:
        info = read_run_file(home, "iglu") or {}
        if url is None and info.get("port"):
            url = f"http://127.0.0.1:{info['port']}"
        if key is None:
            key = info.get("api_key") or None
    return url, key


def resolver_config(settings, home: Path) -> tuple[dict, Path]:
    """The resolver config with the local server's URL/key filled in and the project registry present."""
    path = Path(settings.get("iglu.resolver_config") or DEFAULT_RESOLVER).expanduser()
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        from .resolver import ResolverConfigError
        raise ResolverConfigError(f"resolver config {path}: {exc}") from None
    url, key = local_server(settings, home)
    return fill_placeholders(config, url, key, path.parent), path.parent


def fill_placeholders(config: dict, url: str | None, key: str | None, base_dir: Path) -> dict:
    config = copy.deepcopy(config)
    data = config.get("data", config)
    repos = []
    has_project = False
    for repo in data.get("repositories", []):
        http = repo.get("connection", {}).get("http")
        if http is not None and URL_PLACEHOLDER in str(http.get("uri", "")):
            if not url:
                continue  # no local server known: leave it out rather than fail every lookup
            http["uri"] = http["uri"].replace(URL_PLACEHOLDER, url)
        if http is not None and http.get("apikey") == KEY_PLACEHOLDER:
            http["apikey"] = key
        embedded = repo.get("connection", {}).get("embedded")
        if embedded is not None and (base_dir / embedded.get("path", "")).resolve() == PROJECT_REGISTRY:
            has_project = True
        repos.append(repo)
    if not has_project:  # like the Scala client's always-present embedded registry
        repos.insert(0, {"name": "Iglu Client Embedded", "priority": 0, "vendorPrefixes": [],
                         "connection": {"embedded": {"path": str(PROJECT_REGISTRY)}}})
    data["repositories"] = repos
    return config
