"""Copy a whole static registry into a directory for offline use (``mini iglu mirror``).

Static hosts have no list endpoint, so the schema list comes from whichever index the source
offers: an Iglu Server's ``/api/schemas``, an S3 bucket listing, or an HTML directory listing
(nginx/Apache autoindex, ``python -m http.server``).  A local directory is copied as is.
"""

from __future__ import annotations

import concurrent.futures
import html.parser
import json
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

from .core import ParseError, SchemaKey

_PATH = re.compile(r"(?:^|/)schemas/([^/]+/[^/]+/[^/]+/[^/]+)$")


class MirrorError(RuntimeError):
    pass


def _get(url: str, timeout: float) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, b"", ""


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href and not href.startswith(("?", "#", "../", "/", "http:", "https:")) and href != "./":
                self.links.append(href)


def _from_iglu_server(base: str, timeout: float) -> list[str] | None:
    try:
        status, body, _ = _get(f"{base}/api/schemas?repr=uri", timeout)
    except (urllib.error.URLError, OSError):
        return None
    if status != 200:
        return None
    try:
        return [SchemaKey.parse(u).path for u in json.loads(body)]
    except (ValueError, ParseError, TypeError):
        return None


def _from_s3(base: str, timeout: float) -> list[str] | None:
    paths, token = [], None
    while True:
        query = {"list-type": "2", "prefix": "schemas/"}
        if token:
            query["continuation-token"] = token
        try:
            status, body, _ = _get(f"{base}/?{urllib.parse.urlencode(query)}", timeout)
            root = ET.fromstring(body) if status == 200 and body.lstrip().startswith(b"<?xml") else None
        except (urllib.error.URLError, OSError, ET.ParseError):
            return None
        if root is None or not root.tag.endswith("ListBucketResult"):
            return None
        ns = root.tag[: -len("ListBucketResult")]
        for node in root.iter(f"{ns}Key"):
            match = _PATH.search(node.text or "")
            if match:
                paths.append(match.group(1))
        token_node = root.find(f"{ns}NextContinuationToken")
        if token_node is None or not token_node.text:
            return paths
        token = token_node.text


def _from_listing(base: str, timeout: float) -> list[str] | None:
    def links(url: str) -> list[str] | None:
        status, body, ctype = _get(url, timeout)
        if status != 200 or "html" not in ctype:
            return None
        parser = _Links()
        parser.feed(body.decode("utf-8", errors="replace"))
        return [urllib.parse.unquote(h) for h in parser.links]

    try:
        found: list[str] = []
        level = [""]
        for depth in range(4):  # vendor/, name/, format/, then version files
            nxt = []
            for prefix in level:
                entries = links(f"{base}/schemas/{prefix}")
                if entries is None:
                    return None if depth == 0 else found
                for entry in entries:
                    if depth < 3 and entry.endswith("/"):
                        nxt.append(prefix + entry)
                    elif depth == 3 and not entry.endswith("/"):
                        found.append(prefix + entry)
            level = nxt
        return found
    except (urllib.error.URLError, OSError):
        return None


def list_schemas(base: str, timeout: float = 20.0) -> list[str]:
    """Schema paths ``v/n/f/M-R-A`` a registry holds, from the first index it offers."""
    for finder in (_from_iglu_server, _from_s3, _from_listing):
        paths = finder(base, timeout)
        if paths:
            return sorted(set(paths))
    raise MirrorError(
        f"{base} offers no schema index (no Iglu Server /api/schemas, S3 listing or directory listing). "
        "Clone the registry's repository instead (e.g. git clone https://github.com/snowplow/iglu-central) "
        "and add its folder to MINI_IGLU_MIRROR_DIRS.")


def mirror(source: str, target: str | os.PathLike, timeout: float = 20.0, workers: int = 8) -> list[str]:
    """Copy every schema of ``source`` (URL or directory) to ``target/schemas/...``; returns the paths."""
    out = Path(target)
    if not source.startswith(("http://", "https://")):
        src = Path(source)
        src = src / "schemas" if (src / "schemas").is_dir() else src
        if not src.is_dir():
            raise MirrorError(f"{source} is neither a URL nor a directory")
        shutil.copytree(src, out / "schemas", dirs_exist_ok=True)
        return sorted(str(p.relative_to(out / "schemas")) for p in (out / "schemas").rglob("*") if p.is_file())
    base = source.rstrip("/")
    if base.endswith("/api"):
        base = base[:-4]
    paths = list_schemas(base, timeout)
    api = _from_iglu_server(base, timeout) is not None

    def copy(path: str) -> str:
        url = f"{base}/api/schemas/{path}" if api else f"{base}/schemas/{path}"
        status, body, _ = _get(url, timeout)
        if status != 200:
            raise MirrorError(f"GET {url} answered {status}")
        json.loads(body)  # only JSON goes into a mirror
        dest = out / "schemas" / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_bytes(body)
        os.replace(tmp, dest)
        return path

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(copy, paths))
