"""The archive of BadElasticsearchEvents / PiiEvents: lines, rollover, retention; and the sink's --help."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

from services.common.settings import COMMON, load, merge_specs
from services.sink import archive
from services.sink.settings import SETTINGS


def settings(tmp_path, **values):
    return load(merge_specs(COMMON, SETTINGS), args={"home": str(tmp_path), "durability.fsync": "true", **values},
                env={})


def test_lines_round_trip():
    for body in (b'{"schema":"x","data":{}}', "é ünïcode".encode(), b"two\nlines", b"\xff\x00binary",
                 b"base64:looks-encoded"):
        line = archive.encode_line(body)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert archive.decode_line(line) == body
    assert archive.encode_line(b"plain") == b"plain\n"


def test_archive_appends_rolls_over_and_expires(tmp_path):
    arch = archive.Archive(settings(tmp_path, **{"sink.archive_max_bytes": "100"}), tmp_path, "PiiEvents")
    bodies = [f"event-{n:03d}-".encode() * 3 for n in range(20)]

    async def feed():
        for body in bodies:
            await arch.handle(body, 1)

    asyncio.run(feed())
    files = sorted((tmp_path / "archive" / "PiiEvents").glob("*.log"))
    assert len(files) > 1 and all(f.stat().st_size <= 100 + 40 for f in files)
    assert sorted(archive.read(tmp_path, "PiiEvents")) == sorted(bodies)
    assert arch.counters["archived"] == 20
    # Retention: files last written more than archive_retention_days ago are deleted (not the open one).
    old = time.time() - 8 * 86400
    for f in files:
        os.utime(f, (old, old))
    deleted = arch.sweep()
    assert deleted == len(files) - 1
    arch.close()


def test_help_lists_every_setting():
    out = subprocess.run([sys.executable, "-m", "services.sink", "--help"], capture_output=True, text=True,
                         timeout=60).stdout
    for setting in SETTINGS:
        assert setting.long_flag in out, setting.key
    assert "--sink-kind" in out and "MINI_OPENSEARCH_URL" in out
