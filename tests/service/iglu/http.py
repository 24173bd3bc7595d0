"""A tiny HTTP helper for the Iglu service tests: status, headers and decoded body of one request."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any


def call(base: str, method: str, path: str, body: Any = None, headers: dict | None = None,
         raw: bytes | None = None, content_type: str = "application/json") -> tuple[int, Any, dict]:
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = {"Content-Type": content_type, **(headers or {})}
    try:
        conn.request(method, path, body=data, headers=hdrs)
        response = conn.getresponse()
        payload = response.read()
        text = payload.decode("utf-8", errors="replace")
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = text
        return response.status, decoded, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()
