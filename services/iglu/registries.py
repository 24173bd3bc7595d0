"""Schema registries the resolver asks: embedded/mirror directories and HTTP (static or Iglu Server).

Each ``fetch`` returns the schema JSON or raises :class:`RegistryError` carrying Iglu's error
object (``NotFound``, ``RepoFailure``, ``ClientFailure``; reference/iglu.md §2.3, §2.5).  HTTP
answers of immutable registries (Iglu Central) are kept on disk so a later offline start works.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .core import SchemaKey

CLASS_EMBEDDED = 2
CLASS_HTTP = 100
IGLU_CENTRAL_HOSTS = re.compile(r".*\biglucentral\b.*")
# Bad-row schemas cap an error message at 256 characters, so the fix must be short.
OFFLINE_FIX = "Offline? Set MINI_IGLU_MIRROR_DIRS to a local copy of the registry, or run `mini iglu mirror`."
MAX_MESSAGE = 256


class RegistryError(Exception):
    def __init__(self, kind: str, message: str | None = None):
        if message is not None and len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        super().__init__(message or kind)
        self.kind = kind
        self.message = message

    def as_json(self) -> dict[str, Any]:
        return {"error": self.kind} if self.message is None else {"error": self.kind, "message": self.message}


NOT_FOUND = "NotFound"
REPO_FAILURE = "RepoFailure"
CLIENT_FAILURE = "ClientFailure"


def _relative(key: SchemaKey) -> Path | None:
    parts = (key.vendor, key.name, key.format, str(key.version))
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None  # no path outside the registry root
    return Path("schemas", *parts)


def read_json_file(path: Path) -> Any:
    with open(path, "rb") as fh:
        return json.loads(fh.read())


class Registry:
    class_priority = CLASS_HTTP
    is_local_server = False

    def __init__(self, name: str, priority: int, vendor_prefixes: list[str]):
        self.name = name
        self.priority = int(priority)
        self.vendor_prefixes = list(vendor_prefixes or [])

    def matches(self, vendor: str) -> bool:
        return any(vendor.startswith(p) for p in self.vendor_prefixes)

    async def fetch(self, key: SchemaKey) -> dict:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


class EmbeddedRegistry(Registry):
    """A directory laid out as a static registry: ``{root}/schemas/v/n/f/M-R-A`` (files, no extension)."""

    class_priority = CLASS_EMBEDDED

    def __init__(self, name: str, priority: int, vendor_prefixes: list[str], path: str | os.PathLike):
        super().__init__(name, priority, vendor_prefixes)
        root = Path(path)
        # A mirror dir may be given as the registry root or as its schemas/ folder itself.
        if not (root / "schemas").is_dir() and root.name == "schemas":
            root = root.parent
        self.root = root

    def fetch_sync(self, key: SchemaKey) -> dict:
        rel = _relative(key)
        if rel is None:
            raise RegistryError(NOT_FOUND)
        try:
            schema = read_json_file(self.root / rel)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise RegistryError(NOT_FOUND) from None
        except (OSError, ValueError) as exc:
            raise RegistryError(REPO_FAILURE, f"cannot read {self.root / rel}: {exc}") from None
        if not isinstance(schema, dict):
            raise RegistryError(REPO_FAILURE, f"{self.root / rel} is not a JSON object")
        return schema

    async def fetch(self, key: SchemaKey) -> dict:
        return self.fetch_sync(key)

    def describe(self) -> str:
        return f"{self.name} ({self.root})"


class HttpRegistry(Registry):
    """``GET {uri}/schemas/v/n/f/M-R-A`` with an optional ``apikey`` header (static host or Iglu Server)."""

    def __init__(
        self,
        name: str,
        priority: int,
        vendor_prefixes: list[str],
        uri: str,
        apikey: str | None = None,
        *,
        connect_timeout: float = 1.0,
        request_timeout: float = 4.0,
        disk_cache: Path | None = None,
        disk_first: bool = False,
        is_local_server: bool = False,
    ):
        super().__init__(name, priority, vendor_prefixes)
        self.uri = uri.rstrip("/")
        self.apikey = apikey or None
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.disk_cache = Path(disk_cache) if disk_cache else None
        self.disk_first = disk_first
        self.is_local_server = is_local_server
        self.down_until = 0.0  # a connection failure pauses the repo briefly for every key
        self.down_for = 0.0
        self.last_down_reason = ""

    def describe(self) -> str:
        return f"{self.name} ({self.uri})"

    def _disk_path(self, key: SchemaKey) -> Path | None:
        rel = _relative(key)
        return self.disk_cache / rel if self.disk_cache and rel else None

    def _disk_read(self, key: SchemaKey) -> dict | None:
        path = self._disk_path(key)
        if path is None:
            return None
        try:
            schema = read_json_file(path)
        except (OSError, ValueError):
            return None
        return schema if isinstance(schema, dict) else None

    def _disk_write(self, key: SchemaKey, schema: dict) -> None:
        path = self._disk_path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(schema), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # the disk cache is an optimisation; a read-only data dir must not fail lookups

    def unreachable(self, detail: str) -> RegistryError:
        head = f"{self.uri} is unreachable"
        room = MAX_MESSAGE - len(head) - len(OFFLINE_FIX) - 5
        detail = detail if len(detail) <= room else detail[: max(room - 1, 0)] + "…"
        return RegistryError(REPO_FAILURE, f"{head} ({detail}). {OFFLINE_FIX}")

    async def fetch(self, key: SchemaKey) -> dict:
        if self.disk_first:
            cached = self._disk_read(key)
            if cached is not None:
                return cached
        now = time.monotonic()
        if now < self.down_until:
            cached = self._disk_read(key)
            if cached is not None:
                return cached
            raise self.unreachable(f"{self.last_down_reason}; not retried for {self.down_until - now:.0f} s")
        try:
            schema = await self._get(key)
        except RegistryError as exc:
            if exc.kind == REPO_FAILURE:
                cached = self._disk_read(key)
                if cached is not None:
                    return cached
            raise
        self.down_for = 0.0
        if self.disk_cache is not None:
            self._disk_write(key, schema)
        return schema

    async def _get(self, key: SchemaKey) -> dict:
        url = f"{self.uri}/schemas/{key.path}"
        headers = {"Accept": "application/json"}
        if self.apikey:
            headers["apikey"] = self.apikey
        request = HTTPRequest(url, headers=headers, connect_timeout=self.connect_timeout,
                              request_timeout=self.request_timeout, follow_redirects=True)
        client = AsyncHTTPClient()
        for attempt in range(2):
            try:
                response = await client.fetch(request, raise_error=False)
            except (OSError, asyncio.TimeoutError, HTTPClientError) as exc:
                # Tornado raises for no response at all: refused, DNS failure, timeout (HTTPTimeoutError).
                reason = str(exc) or type(exc).__name__
                self._mark_down(reason)
                raise self.unreachable(reason) from None
            code = response.code
            if code == 599:  # tornado's "no HTTP response": timeout, refused, DNS failure
                reason = str(response.error) if response.error else "no response"
                self._mark_down(reason)
                raise self.unreachable(reason)
            if 500 <= code and attempt == 0:
                await asyncio.sleep(0.2)
                continue
            break
        if code == 404:
            raise RegistryError(NOT_FOUND)
        if 400 <= code < 500:
            raise RegistryError(CLIENT_FAILURE, f"Unexpected response code {code} from {url}")
        if code >= 300:
            raise RegistryError(REPO_FAILURE, f"Unexpected response code {code} from {url}")
        try:
            schema = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            raise RegistryError(REPO_FAILURE, f"{url} did not return JSON") from None
        if not isinstance(schema, dict):
            raise RegistryError(REPO_FAILURE, f"{url} did not return a JSON object")
        return schema

    def _mark_down(self, reason: str) -> None:
        self.down_for = min(60.0, max(2.0, self.down_for * 2))
        self.down_until = time.monotonic() + self.down_for
        self.last_down_reason = reason

