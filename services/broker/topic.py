"""A topic: its durable log, the channels reading it, and what a first channel inherits.

Every channel sees every record.  While a topic has no channel its records wait in the log for the
first channel (``orphan_start`` marks where that channel begins); later channels start at the end,
as nsqd's do.  Segments below every channel's checkpointed floor are reclaimed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import protocol
from .channel import Channel
from .commit import Committer
from .log import TopicLog

if TYPE_CHECKING:
    from services.common.settings import Settings

log = logging.getLogger(__name__)


def dir_name(kind: str, name: str) -> str:
    # A prefix keeps names such as ".." from meaning anything to the filesystem.
    return f"{kind}-{name}"


class Topic:
    def __init__(self, name: str, directory: Path, settings: "Settings", committer: Committer,
                 on_delete: Callable[["Topic"], None]):
        self.name = name
        self.ephemeral = protocol.is_ephemeral(name)
        self.directory = Path(directory)
        self.settings = settings
        self.committer = committer
        self._on_delete = on_delete
        self.log = TopicLog(self.directory / "segments", int(settings["broker.segment_bytes"]),
                            int(settings["broker.cache_bytes"]))
        # Everything that survived on disk was written before the restart: it is all visible.
        self.visible_end = self.log.next_seq
        self.channels: dict[str, Channel] = {}
        self.message_count = 0
        self.message_bytes = 0
        self.paused = False
        self.deleted = False
        self.orphan_start = self.log.first_seq
        self._read_meta()
        channel_dir = self.directory / "channels"
        if channel_dir.is_dir():
            for path in sorted(channel_dir.glob("c-*.state")):
                name = path.name[2:-len(".state")]
                if protocol.valid_name(name):
                    self.channels[name] = Channel(self, name, channel_dir, self.log.first_seq)

    # -- metadata -----------------------------------------------------------------------

    @property
    def _meta_path(self) -> Path:
        return self.directory / "topic.json"

    def _read_meta(self) -> None:
        try:
            meta = json.loads(self._meta_path.read_text())
            self.orphan_start = max(int(meta.get("orphan_start", 0)), self.log.first_seq)
        except (FileNotFoundError, ValueError, TypeError):
            pass

    def _write_meta(self) -> None:
        tmp = self._meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"orphan_start": self.orphan_start}))
        tmp.replace(self._meta_path)

    # -- publishing ---------------------------------------------------------------------

    def put(self, bodies: list[bytes], defer_ms: int = 0) -> asyncio.Future:
        """Append bodies; the future resolves once they are acknowledged (durable and visible)."""
        now = time.time_ns()
        due = now + defer_ms * 1_000_000 if defer_ms > 0 else 0
        upto = self.log.append_batch(now, due, bodies)
        self.message_count += len(bodies)
        self.message_bytes += sum(len(b) for b in bodies)
        return self.committer.commit(self.log, upto, self._visible)

    def _visible(self, upto: int) -> None:
        if upto > self.visible_end:
            self.visible_end = upto
            for channel in list(self.channels.values()):
                channel.pump()

    # -- channels -----------------------------------------------------------------------

    def get_channel(self, name: str) -> Channel:
        channel = self.channels.get(name)
        if channel is None:
            start = self.orphan_start if not self.channels else self.visible_end
            state_dir = None if self.ephemeral else self.directory / "channels"
            channel = Channel(self, name, state_dir, start)
            self.channels[name] = channel
            log.info("channel %s/%s created at %d", self.name, name, start)
        return channel

    def delete_channel(self, name: str) -> bool:
        channel = self.channels.pop(name, None)
        if channel is None:
            return False
        if not self.channels:
            # Records published from now on wait for the next first channel.
            self.orphan_start = self.visible_end
            self._write_meta()
        channel.destroy()
        if self.ephemeral and not self.channels:
            self.delete()
        return True

    # -- admin --------------------------------------------------------------------------

    def empty(self) -> None:
        """nsqd's topic empty: drop the records still waiting for a first channel."""
        self.orphan_start = self.visible_end
        self._write_meta()
        if not self.channels:
            self.log.truncate_all()
            self.visible_end = self.log.next_seq
            self.orphan_start = self.visible_end
            self._write_meta()

    def set_paused(self, paused: bool) -> None:
        """nsqd's topic pause: messages are kept but no channel delivers them."""
        self.paused = paused
        if not paused:
            for channel in self.channels.values():
                channel.pump()

    def depth(self) -> int:
        if self.channels:
            return 0
        return max(self.visible_end - self.orphan_start, 0)

    def floor(self) -> int:
        if not self.channels:
            return self.orphan_start
        return min(c.durable_floor for c in self.channels.values())

    def tick(self, now_ns: int, checkpoint_s: float) -> None:
        for channel in list(self.channels.values()):
            channel.tick(now_ns, checkpoint_s)
        self.log.reclaim_before(self.floor())

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        self._write_meta()
        self.log.close()

    def delete(self) -> None:
        if self.deleted:
            return
        self.deleted = True
        for channel in list(self.channels.values()):
            channel.destroy()
        self.channels.clear()
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)
        self._on_delete(self)

    def stats(self, channel_filter: str | None = None, include_clients: bool = True) -> dict[str, Any]:
        channels = []
        for name, ch in sorted(self.channels.items()):
            if channel_filter and name != channel_filter:
                continue
            clients = [c.stats() for c in ch.clients] if include_clients else []
            channels.append({
                "channel_name": name,
                "depth": ch.depth(),
                "backend_depth": max(self.visible_end - ch.cursor - len(ch.skip), 0),
                "in_flight_count": ch.in_flight_count(),
                "deferred_count": ch.deferred_count,
                "message_count": ch.message_count,
                "requeue_count": ch.requeue_count,
                "timeout_count": ch.timeout_count,
                "client_count": len(ch.clients),
                "clients": clients,
                "paused": ch.paused,
                "e2e_processing_latency": {"count": 0, "percentiles": None},
            })
        return {
            "topic_name": self.name,
            "channels": channels,
            "depth": self.depth(),
            "backend_depth": self.depth(),
            "message_count": self.message_count,
            "message_bytes": self.message_bytes,
            "paused": self.paused,
            "e2e_processing_latency": {"count": 0, "percentiles": None},
        }
