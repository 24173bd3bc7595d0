"""Publish a static-registry tree to an Iglu Server, like ``igluctl static push``.

Schemas are read from ``DIR`` (``DIR/schemas/v/n/jsonschema/M-R-A`` or any tree of such files) and
PUT in SchemaVer order, so the server's publish rules never see a gap; each answer is reported.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from pathlib import Path

from .core import ParseError, SchemaKey, parse_self_describing_schema


@dataclasses.dataclass
class PushResult:
    key: str
    path: str
    status: int | None
    message: str

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)

    def line(self) -> str:
        return f"{'SUCCESS' if self.ok else 'FAILURE'}: {self.message} ({self.key}, {self.status})"


def read_tree(root: str | Path) -> tuple[list[tuple[SchemaKey, dict, Path]], list[PushResult]]:
    """Every jsonschema file under ``root`` with its key, in SchemaVer order, plus unreadable files."""
    found, bad = [], []
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file() and p.parent.name == "jsonschema"):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
            key = parse_self_describing_schema(schema)
        except (OSError, ValueError) as exc:
            code = exc.code if isinstance(exc, ParseError) else "not valid JSON"
            bad.append(PushResult(str(path), str(path), None, f"cannot read a self-describing schema: {code}"))
            continue
        found.append((key, schema, path))
    found.sort(key=lambda item: (item[0].vendor, item[0].name, item[0].format, item[0].version))
    return found, bad


def push(root: str | Path, server: str, api_key: str, public: bool = False, timeout: float = 30.0) -> list[PushResult]:
    """PUT every schema of ``root`` to ``server`` (base URL without ``/api``)."""
    schemas, results = read_tree(root)
    base = server.rstrip("/")
    for key, schema, path in schemas:
        url = f"{base}/api/schemas/{key.path}?isPublic={'true' if public else 'false'}"
        request = urllib.request.Request(url, data=json.dumps(schema).encode(), method="PUT",
                                         headers={"apikey": api_key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            results.append(PushResult(key.uri, str(path), None, f"cannot reach {base}: {exc}"))
            continue
        try:
            message = json.loads(body).get("message", body.decode(errors="replace"))
        except (ValueError, AttributeError):
            message = body.decode(errors="replace")
        results.append(PushResult(key.uri, str(path), status, message))
    return results


def summary(results: list[PushResult]) -> str:
    created = sum(r.status == 201 for r in results)
    updated = sum(r.status == 200 for r in results)
    failed = sum(not r.ok for r in results)
    return "\n".join([r.line() for r in results] + [
        f"TOTAL: {created + updated} Schemas successfully uploaded ({created} created; {updated} updated)",
        f"TOTAL: {failed} failed Schema uploads"])
