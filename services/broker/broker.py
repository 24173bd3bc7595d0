"""The broker: the registry of topics on disk, the group committer, timers and counters.

Data lives under ``$MINI_HOME/broker/``: ``topics/t-<name>/`` (segments, channel checkpoints) for
durable topics, ``ephemeral/`` (wiped at start) for ``#ephemeral`` topics.  The pipeline's topics
and channels (``services.common.bus``) exist from the start.
"""

from __future__ import annotations

import collections
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import tornado.ioloop

from services.common import bus

from . import protocol
from .commit import Committer
from .topic import Topic, dir_name

log = logging.getLogger(__name__)


class Broker:
    def __init__(self, settings: Any):
        self.settings = settings
        self.root = Path(settings.home) / "broker"
        self.committer = Committer(bool(settings["durability.fsync"]))
        self.topics: dict[str, Topic] = {}
        self.connections: set = set()
        self.counters: collections.Counter = collections.Counter()
        self.start_time = int(time.time())
        self.max_buffer_size = int(settings["broker.max_body_size"]) + 1024 * 1024
        self.tcp_port = 0
        self.http_port = 0
        self._ticker: tornado.ioloop.PeriodicCallback | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        (self.root / "topics").mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.root / "ephemeral", ignore_errors=True)
        for path in sorted((self.root / "topics").iterdir()):
            name = path.name[2:]
            if path.is_dir() and path.name.startswith("t-") and protocol.valid_name(name):
                self.topics[name] = self._make_topic(name)
        for topic_name in bus.TOPICS:
            topic = self.get_topic(topic_name)
            for channel_name in bus.CHANNELS.get(topic_name, ()):
                topic.get_channel(channel_name)
        log.info("broker data in %s: %d topics", self.root, len(self.topics))

    def start_ticker(self) -> None:
        self._ticker = tornado.ioloop.PeriodicCallback(self.tick, int(self.settings["broker.tick_ms"]))
        self._ticker.start()

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        for conn in list(self.connections):
            conn.close()
        for topic in self.topics.values():
            topic.close()
        self.committer.close()

    def tick(self) -> None:
        now_ns = time.time_ns()
        checkpoint_s = int(self.settings["broker.checkpoint_ms"]) / 1000
        for topic in list(self.topics.values()):
            try:
                topic.tick(now_ns, checkpoint_s)
            except OSError as exc:
                log.error("topic %s: %s", topic.name, exc)
        now = time.monotonic()
        for conn in list(self.connections):
            conn.heartbeat(now)

    # -- topics -------------------------------------------------------------------------

    def _make_topic(self, name: str) -> Topic:
        base = self.root / ("ephemeral" if protocol.is_ephemeral(name) else "topics")
        return Topic(name, base / dir_name("t", name), self.settings, self.committer, self._forget)

    def _forget(self, topic: Topic) -> None:
        if self.topics.get(topic.name) is topic:
            del self.topics[topic.name]

    def get_topic(self, name: str) -> Topic:
        topic = self.topics.get(name)
        if topic is None:
            topic = self._make_topic(name)
            self.topics[name] = topic
            log.info("topic %s created", name)
        return topic

    def delete_topic(self, name: str) -> bool:
        topic = self.topics.get(name)
        if topic is None:
            return False
        topic.delete()
        return True

    # -- reporting ----------------------------------------------------------------------

    def stats(self, topic: str | None = None, channel: str | None = None,
              include_clients: bool = True) -> dict[str, Any]:
        """nsqd 1.3's ``/stats?format=json`` document."""
        topics = [
            t.stats(channel, include_clients)
            for name, t in sorted(self.topics.items())
            if topic is None or name == topic
        ]
        producers = [c.stats() for c in self.connections if c.channel is None] if include_clients else []
        return {
            "version": self.settings["broker.version"],
            "health": "OK",
            "start_time": self.start_time,
            "topics": topics,
            "producers": producers,
        }

    def status(self) -> dict[str, Any]:
        """``GET /status`` for ``mini status``: counters plus a compact topic summary."""
        topics = {}
        depth_total = 0
        in_flight_total = 0
        disk = 0
        for name, t in sorted(self.topics.items()):
            channels = {}
            for cname, ch in sorted(t.channels.items()):
                depth, in_flight = ch.depth(), ch.in_flight_count()
                depth_total += depth
                in_flight_total += in_flight
                channels[cname] = {"depth": depth, "in_flight": in_flight, "deferred": ch.deferred_count,
                                   "clients": len(ch.clients)}
            disk += t.log.disk_bytes()
            topics[name] = {"depth": t.depth(), "messages": t.message_count, "channels": channels}
        c = self.committer
        counters = {
            "published": self.counters["published"],
            "client_errors": self.counters["client_errors"],
            "connections": len(self.connections),
            "topics": len(self.topics),
            "depth": depth_total,
            "in_flight": in_flight_total,
            "disk_bytes": disk,
            "fsync_passes": c.passes,
            "fsync_seconds": round(c.sync_seconds, 3),
            "tcp_reads": self.counters["tcp_reads"], "tcp_writes": self.counters["tcp_writes"],
        }
        return {"counters": counters, "topics": topics, "tcp_port": self.tcp_port, "http_port": self.http_port,
                "durability": "fsync" if c.fsync else "os"}
