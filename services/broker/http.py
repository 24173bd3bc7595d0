"""The broker's HTTP API: nsqd 1.3's endpoints, nsqlookupd's lookups, and ``/health`` + ``/status``.

Errors are nsqd's: a status code and ``{"message": "INVALID_TOPIC"}`` (DESIGN §5: where we mirror
an API we mirror its error bodies).  ``/lookup`` names this broker as the topic's only producer, so
readers configured with ``lookupd_http_addresses`` find it.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import tornado.web
from tornado.log import access_log

from services.common.http import HealthHandler, StatusHandler

from . import protocol
from .broker import Broker


class NsqError(tornado.web.HTTPError):
    def __init__(self, status: int, message: str):
        super().__init__(status)
        self.message = message


class NsqHandler(tornado.web.RequestHandler):
    def initialize(self, broker: Broker) -> None:
        self.broker = broker

    def write_json(self, obj: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(obj, separators=(",", ":")))

    def write_ok(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("OK")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, NsqError):
            message = exc.message
        elif status_code == 405:
            message = "METHOD_NOT_ALLOWED"
        elif status_code == 404:
            message = "NOT_FOUND"
        else:
            message = "INTERNAL_ERROR"
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"message": message}))

    def topic_arg(self) -> str:
        name = self.get_query_argument("topic", None)
        if name is None:
            raise NsqError(400, "MISSING_ARG_TOPIC")
        if not protocol.valid_name(name):
            raise NsqError(400, "INVALID_TOPIC")
        return name

    def channel_arg(self) -> str:
        name = self.get_query_argument("channel", None)
        if name is None:
            raise NsqError(400, "MISSING_ARG_CHANNEL")
        if not protocol.valid_name(name):
            raise NsqError(400, "INVALID_CHANNEL")
        return name

    def existing_topic(self):
        topic = self.broker.topics.get(self.topic_arg())
        if topic is None:
            raise NsqError(404, "TOPIC_NOT_FOUND")
        return topic


class PingHandler(NsqHandler):
    def get(self) -> None:
        self.write_ok()

    head = get


class InfoHandler(NsqHandler):
    def get(self) -> None:
        b = self.broker
        self.write_json({
            "version": b.settings["broker.version"],
            "broadcast_address": b.settings["broker.address"],
            "hostname": socket.gethostname(),
            "http_port": b.http_port,
            "tcp_port": b.tcp_port,
            "start_time": b.start_time,
        })


class PubHandler(NsqHandler):
    async def post(self) -> None:
        name = self.topic_arg()
        body = self.request.body
        max_size = int(self.broker.settings["broker.max_msg_size"])
        if not body:
            raise NsqError(400, "MSG_EMPTY")
        if len(body) > max_size:
            raise NsqError(413, "MSG_TOO_BIG")
        defer = 0
        raw_defer = self.get_query_argument("defer", None)
        if raw_defer is not None:
            try:
                defer = int(raw_defer)
            except ValueError:
                raise NsqError(400, "INVALID_DEFER") from None
            if defer < 0 or defer > int(self.broker.settings["broker.max_req_timeout_ms"]):
                raise NsqError(400, "INVALID_DEFER")
        await self._put(name, [body], defer)

    put = post

    async def _put(self, name: str, bodies: list[bytes], defer: int) -> None:
        try:
            await self.broker.get_topic(name).put(bodies, defer)
        except OSError:
            raise NsqError(503, "EXITING") from None
        self.broker.counters["published"] += len(bodies)
        self.write_ok()


class MpubHandler(PubHandler):
    async def post(self) -> None:
        name = self.topic_arg()
        body = self.request.body
        settings = self.broker.settings
        if len(body) > int(settings["broker.max_body_size"]):
            raise NsqError(413, "BODY_TOO_BIG")
        max_size = int(settings["broker.max_msg_size"])
        if self.get_query_argument("binary", "false").lower() in ("true", "1"):
            try:
                bodies = protocol.parse_mpub(body, max_size)
            except protocol.ClientError as err:
                raise NsqError(413 if "too big" in err.message else 400, err.code[2:]) from None
        else:
            bodies = [line for line in body.split(b"\n") if line]
            if any(len(b) > max_size for b in bodies):
                raise NsqError(413, "MSG_TOO_BIG")
        if not bodies:
            raise NsqError(400, "MSG_EMPTY")
        await self._put(name, bodies, 0)

    put = post


class StatsHandler(NsqHandler):
    def get(self) -> None:
        topic = self.get_query_argument("topic", None)
        channel = self.get_query_argument("channel", None)
        include_clients = self.get_query_argument("include_clients", "true").lower() != "false"
        stats = self.broker.stats(topic, channel, include_clients)
        if self.get_query_argument("format", "text") == "json":
            self.write_json(stats)
            return
        lines = [f"nsqd v{stats['version']} (mini broker)", f"start_time {stats['start_time']}", "",
                 "Health: OK", ""]
        for t in stats["topics"]:
            lines.append(f"[{t['topic_name']:<24}] depth: {t['depth']:<5} msgs: {t['message_count']}")
            for c in t["channels"]:
                lines.append(f"    [{c['channel_name']:<22}] depth: {c['depth']:<5} inflt: {c['in_flight_count']:<4} "
                             f"def: {c['deferred_count']:<4} re-q: {c['requeue_count']:<5} "
                             f"timeout: {c['timeout_count']:<5} msgs: {c['message_count']}")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("\n".join(lines) + "\n")


class TopicAction(NsqHandler):
    def post(self, action: str) -> None:
        if action == "create":
            self.broker.get_topic(self.topic_arg())
        elif action == "delete":
            self.existing_topic().delete()
        elif action == "empty":
            self.existing_topic().empty()
        elif action in ("pause", "unpause"):
            self.existing_topic().set_paused(action == "pause")
        else:
            raise NsqError(404, "NOT_FOUND")
        self.finish()

    put = post


class ChannelAction(NsqHandler):
    def post(self, action: str) -> None:
        if action == "create":
            topic = self.broker.get_topic(self.topic_arg())
            topic.get_channel(self.channel_arg())
            self.finish()
            return
        topic = self.existing_topic()
        name = self.channel_arg()
        channel = topic.channels.get(name)
        if channel is None:
            raise NsqError(404, "CHANNEL_NOT_FOUND")
        if action == "delete":
            topic.delete_channel(name)
        elif action == "empty":
            channel.empty()
        elif action in ("pause", "unpause"):
            channel.paused = action == "pause"
            channel.pump()
        else:
            raise NsqError(404, "NOT_FOUND")
        self.finish()

    put = post


class LookupHandler(NsqHandler):
    """nsqlookupd's ``/lookup?topic=``: this broker is the one producer of every topic it has."""

    def get(self) -> None:
        name = self.get_query_argument("topic", None)
        if name is None:
            raise NsqError(400, "MISSING_ARG_TOPIC")
        topic = self.broker.topics.get(name)
        if topic is None:
            raise NsqError(404, "TOPIC_NOT_FOUND")
        self.write_json({"channels": sorted(topic.channels), "producers": [self.producer()]})

    def producer(self) -> dict[str, Any]:
        b = self.broker
        address = b.settings["broker.address"]
        return {
            "remote_address": f"{address}:{b.tcp_port}",
            "hostname": socket.gethostname(),
            "broadcast_address": address,
            "tcp_port": b.tcp_port,
            "http_port": b.http_port,
            "version": b.settings["broker.version"],
        }


class LookupTopicsHandler(NsqHandler):
    def get(self) -> None:
        self.write_json({"topics": sorted(self.broker.topics)})


class LookupChannelsHandler(NsqHandler):
    def get(self) -> None:
        topic = self.broker.topics.get(self.topic_arg())
        self.write_json({"channels": sorted(topic.channels) if topic else []})


class NodesHandler(LookupHandler):
    def get(self) -> None:
        node = self.producer()
        node["tombstones"] = [False] * len(self.broker.topics)
        node["topics"] = sorted(self.broker.topics)
        self.write_json({"producers": [node]})


class NotFound(NsqHandler):
    def prepare(self) -> None:
        raise NsqError(404, "NOT_FOUND")


def make_app(broker: Broker) -> tornado.web.Application:
    deps = {"broker": broker}
    return tornado.web.Application(
        [
            (r"/ping", PingHandler, deps),
            (r"/info", InfoHandler, deps),
            (r"/pub", PubHandler, deps),
            (r"/mpub", MpubHandler, deps),
            (r"/stats", StatsHandler, deps),
            (r"/topic/(create|delete|empty|pause|unpause)", TopicAction, deps),
            (r"/channel/(create|delete|empty|pause|unpause)", ChannelAction, deps),
            (r"/lookup", LookupHandler, deps),
            (r"/topics", LookupTopicsHandler, deps),
            (r"/channels", LookupChannelsHandler, deps),
            (r"/nodes", NodesHandler, deps),
            (r"/health", HealthHandler),
            (r"/status", StatusHandler, {"status": broker.status}),
        ],
        default_handler_class=NotFound,
        default_handler_args=deps,
        log_function=_log_request,
    )


def _log_request(handler: tornado.web.RequestHandler) -> None:
    # Publishes and polling are frequent: log only failures.
    status = handler.get_status()
    if status >= 400:
        access_log.warning("%d %s %.1fms", status, handler._request_summary(), 1000 * handler.request.request_time())
