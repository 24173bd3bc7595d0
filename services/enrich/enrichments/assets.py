"""Enrichment data files ("assets"): Snowplow's ``uri`` + ``database`` pairs resolved to local paths.

``file:///dir`` + ``name`` is ``/dir/name``; ``http(s)://…`` is downloaded once into
``$MINI_HOME/enrich/assets/<database>`` (Snowplow's fixed file names) and reused offline afterwards;
``package://<python package>/<folder>`` is data shipped inside an installed package.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 30.0


class AssetError(ValueError):
    """An asset cannot be made available; the message names the file and how to provide it."""


def assets_dir(home: Path | None) -> Path:
    base = Path(home) if home is not None else Path(os.environ.get("MINI_HOME", "~/.mini")).expanduser()
    return base / "enrich" / "assets"


def _join(path: str, database: str) -> str:
    # Snowplow appends the database to the uri; accept a uri that already names the file too.
    path = path.rstrip("/")
    return path if path.rsplit("/", 1)[-1] == database else f"{path}/{database}"


def resolve(uri: str, database: str, home: Path | None = None, *, fallback: Path | None = None) -> Path:
    """A readable local file for the asset, or AssetError naming what is missing.

    ``fallback`` (data shipped in a package) is used only when an http(s) asset cannot be fetched
    and has never been cached, so Snowplow's own configs keep working offline.
    """
    parts = urllib.parse.urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "file" or scheme == "":
        path = Path(_join(urllib.parse.unquote(parts.path if scheme else uri), database))
        if not path.is_file():
            raise AssetError(f"asset {database!r} not found at {path} (from uri {uri!r})")
        return path
    if scheme == "package":
        try:
            root = importlib.resources.files(parts.netloc)
        except ModuleNotFoundError:
            raise AssetError(f"asset {database!r}: package {parts.netloc!r} (from uri {uri!r}) is not installed") from None
        path = Path(str(root.joinpath(*[p for p in _join(parts.path, database).split("/") if p])))
        if not path.is_file():
            raise AssetError(f"asset {database!r} not found in package {parts.netloc!r} at {path}")
        return path
    if scheme in ("http", "https"):
        cached = assets_dir(home) / database
        if cached.is_file():
            return cached
        url = _join(uri, database)
        try:
            _download(url, cached)
        except OSError as exc:
            if fallback is not None and Path(fallback).is_file():
                log.warning("asset %s: cannot download %s (%s); using the packaged copy %s",
                            database, url, exc, fallback)
                return Path(fallback)
            raise AssetError(
                f"asset {database!r} is not available offline: downloading {url} failed ({exc}); "
                f"put the file at {cached} or point 'uri' at a file:// folder that holds it") from None
        return cached
    raise AssetError(f"asset {database!r}: unsupported uri scheme {parts.scheme!r} in {uri!r} "
                     "(use file://, http(s):// or package://)")


def _download(url: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
            shutil.copyfileobj(resp, out)
        os.replace(tmp, dest)  # atomic: a half-downloaded file never looks cached
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
