"""The archive: BadElasticsearchEvents and PiiEvents written to files, so no topic grows without bound.

Runs inside the bad sink (``sink.archive``).  Each message becomes one line of
``$MINI_HOME/archive/<topic>/<UTC date>[.<n>].log`` (the text itself; ``base64:<…>`` when it is not
one clean UTF-8 line), flushed (and fdatasync'd under ``durability.fsync``) before the message is
finished.  Files roll over at ``sink.archive_max_bytes`` and are deleted after ``sink.archive_retention_days``.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import time
from pathlib import Path
from typing import Any, Mapping

log = logging.getLogger(__name__)

TOPICS = ("BadElasticsearchEvents", "PiiEvents")


def archive_dir(home: Path) -> Path:
    return Path(home) / "archive"


def encode_line(body: bytes) -> bytes:
    """One archive line for a message: the text when it is clean UTF-8 on one line, else base64."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\n" in text or "\r" in text or text.startswith("base64:"):
        return b"base64:" + base64.b64encode(body) + b"\n"
    return body + b"\n"


def decode_line(line: bytes) -> bytes:
    line = line.rstrip(b"\n")
    return base64.b64decode(line[7:]) if line.startswith(b"base64:") else line


class Archive:
    """Appends messages of one topic to day files; ``handle`` is its bus handler."""

    def __init__(self, settings: Mapping[str, Any], home: Path, topic: str):
        self.dir = archive_dir(home) / topic
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fsync = bool(settings["durability.fsync"])
        self.max_bytes = int(settings["sink.archive_max_bytes"])
        self.retention_days = float(settings["sink.archive_retention_days"])
        self.counters = {"archived": 0, "bytes": 0, "files_deleted": 0}
        self._file = None
        self._path: Path | None = None

    def _target(self) -> Path:
        day = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
        if self._path is not None and self._path.name.startswith(day) and self._file is not None:
            if self._file.tell() < self.max_bytes:
                return self._path
        n = 0
        while True:
            path = self.dir / (f"{day}.log" if n == 0 else f"{day}.{n}.log")
            if not path.exists() or path.stat().st_size < self.max_bytes:
                return path
            n += 1

    async def handle(self, body: bytes, attempts: int) -> None:
        path = self._target()
        if path != self._path:
            if self._file is not None:
                self._file.close()
            self._file = open(path, "ab")
            self._path = path
        line = encode_line(body)
        self._file.write(line)
        self._file.flush()
        if self.fsync:
            os.fdatasync(self._file.fileno())
        self.counters["archived"] += 1
        self.counters["bytes"] += len(line)

    def sweep(self, now: float | None = None) -> int:
        """Delete archive files last written more than ``retention_days`` ago (0 keeps all)."""
        if self.retention_days <= 0:
            return 0
        cutoff = (now or time.time()) - self.retention_days * 86400
        deleted = 0
        for path in self.dir.glob("*.log"):
            if path == self._path:
                continue
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    deleted += 1
            except FileNotFoundError:
                pass
        self.counters["files_deleted"] += deleted
        return deleted

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read(home: Path, topic: str) -> list[bytes]:
    """Every archived message of ``topic``, oldest file first (for tests and notebooks)."""
    out: list[bytes] = []
    for path in sorted((archive_dir(home) / topic).glob("*.log"), key=lambda p: (p.stat().st_mtime, p.name)):
        out.extend(decode_line(line) for line in path.read_bytes().splitlines(keepends=True) if line.strip())
    return out
