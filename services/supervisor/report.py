"""The human-readable stack summary ``mini up`` and ``mini status`` print: where everything is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .client import Stack


def describe(doc: dict[str, Any], home: Path) -> str:
    """Where everything is, for humans."""
    sup = doc.get("supervisor", {})
    lines = [f"Mini stack in {home}: {'healthy' if doc.get('healthy') else 'NOT healthy'} "
             f"(supervisor pid {sup.get('pid')}, API http://127.0.0.1:{_api_port(home)})"]
    for name, svc in doc.get("services", {}).items():
        if svc["pid"] is None or not svc["port"]:
            where = svc["state"]
        elif name == "broker":
            where = f"tcp 127.0.0.1:{svc['port']}  http http://127.0.0.1:{svc['http_port']}"
        else:
            where = f"http://127.0.0.1:{svc['http_port'] or svc['port']}"
        health = "healthy" if svc["healthy"] else "UNHEALTHY"
        extra = f", {svc['restarts']} restarts" if svc["restarts"] else ""
        if svc.get("last_restart_reason"):
            extra += f" (last: {svc['last_restart_reason']})"
        lines.append(f"  {name:<10} {where:<52} {health}{extra}")
    collector = doc.get("services", {}).get("collector")
    if collector and collector.get("port"):
        origin = f"http://127.0.0.1:{collector['port']}"
        mounts = "".join(f", {prefix}/" for prefix in sorted(doc.get("mounts", {})))
        lines.append(f"  public origin {origin} (trackers at /{mounts})")
    for name, reason in doc.get("skipped", {}).items():
        lines.append(f"  {name:<10} skipped: {reason}")
    for topic, info in sorted(doc.get("topics", {}).items()):
        channels = ", ".join(f"{name} {ch['depth']} queued/{ch['in_flight']} in flight"
                             for name, ch in sorted(info.get("channels", {}).items()))
        lines.append(f"  topic      {topic:<24} depth {info.get('depth', 0):<6} {channels}")
    for warning in doc.get("warnings", []):
        short = warning if len(warning) <= 100 else warning[:97] + "..."
        lines.append(f"  WARNING: {short} (full text: mini status --json)")
    if not doc.get("healthy"):
        lines.append(f"  why?       mini logs SERVICE --data-dir {home}  (or {home / 'logs'}/)")
    lines.append(f"  logs       {home / 'logs'}/<service>.log  (mini logs SERVICE -f)")
    lines.append(f"  stop       mini down --data-dir {home}")
    return "\n".join(lines)


def _api_port(home: Path) -> str:
    info = Stack(home).info()
    return str(info["port"]) if info else "?"
