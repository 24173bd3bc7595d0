"""The stack's topology: every service, its module, start layer, and what it tells its peers.

A declarative list read by the supervisor.  Layers start in order (services within a layer in
parallel); each service's run file (``$MINI_HOME/run/<name>.json``) is turned into the ``MINI_*``
settings its peers read — the same keys a user sets to point the stack at real infrastructure.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any, Callable, Mapping

from services.common.settings import Setting

RunInfo = Mapping[str, Any]


def _url(info: RunInfo, field: str = "port") -> str:
    return f"http://127.0.0.1:{info.get(field) or info['port']}"


@dataclasses.dataclass(frozen=True)
class Service:
    """One process of the stack: ``python -m <module> [args]`` with run file ``run/<name>.json``."""

    name: str
    module: str
    layer: int
    description: str
    args: tuple[str, ...] = ()
    # run-file field -> setting key; on a restart the same ports are passed back in, so peers'
    # addresses stay valid (internal ports are dynamic only on the first start).
    ports: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # run file -> MINI_* variables for every other service.
    exports: Callable[[RunInfo], dict[str, str]] | None = None
    # collector mount prefix -> run-file field whose port serves it.
    mounts: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Setting keys: when the user set any of them, the service is external and not started.
    skip_when: tuple[str, ...] = ()
    # For a skipped (external) service: mount prefix -> setting key holding the external URL.
    external_mounts: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def available(self) -> bool:
        """True when ``python -m <module>`` can run (the package has a ``__main__``)."""
        try:
            return importlib.util.find_spec(self.module + ".__main__") is not None
        except (ModuleNotFoundError, ValueError):
            return False

    def port_env(self, info: RunInfo) -> dict[str, str]:
        env = {}
        for field, key in self.ports.items():
            if info.get(field):
                env[Setting(key, 0, "").env] = str(info[field])
        return env


def _broker(info: RunInfo) -> dict[str, str]:
    return {
        "MINI_NSQD_TCP_ADDRESS": f"127.0.0.1:{info['port']}",
        "MINI_NSQD_HTTP_ADDRESS": f"127.0.0.1:{info.get('http_port') or info['port']}",
    }


def _search(info: RunInfo) -> dict[str, str]:
    return {"MINI_OPENSEARCH_URL": _url(info)}


def _iglu(info: RunInfo) -> dict[str, str]:
    env = {"MINI_IGLU_SERVER_URL": _url(info)}
    if info.get("api_key"):
        env["MINI_IGLU_SERVER_API_KEY"] = str(info["api_key"])
    return env


def _enrich(info: RunInfo) -> dict[str, str]:
    return {"MINI_ENRICH_ADMIN_URL": _url(info, "http_port")}


def _control(info: RunInfo) -> dict[str, str]:
    return {"MINI_CONTROL_URL": _url(info, "http_port")}


def _dashboard(info: RunInfo) -> dict[str, str]:
    return {"MINI_DASHBOARD_URL": _url(info, "http_port")}


SERVICES: tuple[Service, ...] = (
    Service("broker", "services.broker", 0, "embedded NSQ-compatible broker",
            ports={"port": "broker.tcp_port", "http_port": "broker.http_port"},
            exports=_broker, skip_when=("nsqd.tcp_address",)),
    Service("search", "services.search", 0, "embedded OpenSearch-compatible search node",
            ports={"port": "search.port"}, exports=_search, mounts={"/elasticsearch": "port"},
            skip_when=("opensearch.url",), external_mounts={"/elasticsearch": "opensearch.url"}),
    Service("iglu", "services.iglu", 0, "local Iglu Server",
            ports={"port": "iglu.port"}, exports=_iglu, mounts={"/iglu-server": "port"}),
    Service("enrich", "services.enrich", 1, "enrich: RawEvents -> EnrichedEvents / BadEvents",
            ports={"port": "enrich.port"}, exports=_enrich),
    Service("sink-good", "services.sink", 1, "good sink: EnrichedEvents -> index good", args=("--sink-kind", "good")),
    Service("sink-bad", "services.sink", 1, "bad sink: BadEvents -> index bad", args=("--sink-kind", "bad")),
    Service("control", "services.control", 1, "control plane",
            ports={"port": "control.port"}, exports=_control, mounts={"/control-plane": "port"}),
    Service("dashboard", "services.dashboard", 1, "dashboard over the indexes",
            ports={"port": "dashboard.port"}, exports=_dashboard, mounts={"/dashboard": "port"}),
    Service("collector", "services.collector", 2, "collector: the public origin",
            ports={"port": "collector.port"}),
)

# Keys the skip rules read that may belong to services not installed yet.
PEER_SETTINGS: tuple[Setting, ...] = (
    Setting("opensearch.url", "", "URL of a real OpenSearch (empty: the embedded search node)."),
)


def by_name(name: str) -> Service:
    for service in SERVICES:
        if service.name == name:
            return service
    raise KeyError(f"unknown service {name!r} (known: {', '.join(s.name for s in SERVICES)})")


def layers(services: tuple[Service, ...] | None = None) -> list[list[Service]]:
    """Services grouped by layer, in start order."""
    out: dict[int, list[Service]] = {}
    for service in SERVICES if services is None else services:
        out.setdefault(service.layer, []).append(service)
    return [out[layer] for layer in sorted(out)]


def mounts_value(mounts: Mapping[str, str]) -> str:
    """``MINI_COLLECTOR_MOUNTS``: comma-separated ``prefix=url`` pairs."""
    return ",".join(f"{prefix}={url}" for prefix, url in sorted(mounts.items()))
