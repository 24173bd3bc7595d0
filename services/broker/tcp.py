"""The TCP side: one :class:`Connection` per client speaking NSQ protocol V2 as nsqd 1.3 does.

Commands are read and executed in order; publish answers wait for the group commit but keep their
order (pynsq matches answers to publishes FIFO), so a client may pipeline many publishes.  Message
frames and heartbeats are written as they come, coalesced into one socket write per loop turn.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import TYPE_CHECKING, Any

from tornado.iostream import IOStream, StreamClosedError, UnsatisfiableReadError
from tornado.tcpserver import TCPServer

from . import protocol
from .protocol import ClientError, fatal

if TYPE_CHECKING:
    from .broker import Broker
    from .channel import Channel

log = logging.getLogger(__name__)

INIT, SUBSCRIBED, CLOSING = "init", "subscribed", "closing"
MAX_LINE = 64 * 1024
MAX_PENDING = 512  # unanswered publishes per connection before the reader waits


class BrokerTCPServer(TCPServer):
    def __init__(self, broker: "Broker"):
        super().__init__(max_buffer_size=broker.max_buffer_size)
        self.broker = broker

    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        conn = Connection(self.broker, stream, address)
        await conn.run()


class Connection:
    def __init__(self, broker: "Broker", stream: IOStream, address: Any):
        self.broker = broker
        self.settings = broker.settings
        self.stream = stream
        self.address = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        self.negotiated = protocol.Negotiated(self.settings)
        self.state = INIT
        self.channel: "Channel | None" = None
        self.ready_count = 0
        self.in_flight: set[int] = set()
        self.msg_timeout_ms = self.negotiated.msg_timeout_ms
        self.connect_ts = int(time.time())
        self.last_read = time.monotonic()
        self.last_heartbeat = time.monotonic()
        self.counters = collections.Counter()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._pending: collections.deque[list] = collections.deque()
        self._closing = False
        self.closed = False

    # -- what a channel calls -----------------------------------------------------------

    def capacity(self) -> int:
        if self.state != SUBSCRIBED or self.closed:
            return 0
        return self.ready_count - len(self.in_flight)

    def send_message(self, data: bytes) -> None:
        self.counters["message_count"] += 1
        self._write(data)

    def kick(self) -> None:
        """Disconnect (the channel or topic was deleted)."""
        self.channel = None
        self.close()

    # -- output -------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self.closed:
            return
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.closed or not self._out:
            self._out.clear()
            return
        data = b"".join(self._out)
        self._out.clear()
        try:
            self.stream.write(data)
        except StreamClosedError:
            self.close()

    def _respond(self, data: bytes | None, after: asyncio.Future | None = None,
                 error: ClientError | None = None, fail: str = "") -> None:
        """Queue a response (or error) behind earlier ones; ``after`` delays it until resolved."""
        self._pending.append([after, data, error, fail])
        if after is not None and not after.done():
            after.add_done_callback(lambda _f: self._drain())
        else:
            self._drain()

    def _drain(self) -> None:
        pending = self._pending
        while pending:
            after, data, error, fail = pending[0]
            if after is not None and not after.done():
                return
            pending.popleft()
            if after is not None and after.exception() is not None:
                code = fail.split(" ", 1)[0]
                error = fatal(code, f"{fail.split(' ', 1)[1]} {after.exception()}")
            if error is not None:
                self.counters["errors"] += 1
                self.broker.counters["client_errors"] += 1
                self._write(error.frame())
                if error.fatal:
                    self._closing = True
                    pending.clear()
                    asyncio.get_running_loop().call_soon(self._close_after_flush)
                    return
            elif data is not None:
                self._write(protocol.response(data))

    def _close_after_flush(self) -> None:
        self._flush()
        self.close()

    def heartbeat(self, now: float) -> None:
        """Called by the broker's ticker: send ``_heartbeat_``; drop a client silent for 2 intervals."""
        interval = self.negotiated.heartbeat_ms / 1000
        if interval <= 0 or self.closed:
            return
        if now - self.last_read > 2 * interval + 0.5:
            log.info("%s: no data for %.1fs (heartbeat %.1fs); closing", self.address, now - self.last_read, interval)
            self.close()
            return
        if now - self.last_heartbeat >= interval:
            self.last_heartbeat = now
            self._write(protocol.response(protocol.HEARTBEAT))

    # -- input --------------------------------------------------------------------------

    async def run(self) -> None:
        self.broker.connections.add(self)
        try:
            magic = await self.stream.read_bytes(4)
            if magic != protocol.MAGIC_V2:
                self._write(protocol.frame(protocol.FRAME_ERROR, b"E_BAD_PROTOCOL"))
                self._flush()
                return
            while not self._closing and not self.closed:
                line = await self.stream.read_until(b"\n", max_bytes=MAX_LINE)
                self.last_read = time.monotonic()
                line = line[:-1]
                if line.endswith(b"\r"):
                    line = line[:-1]
                params = line.split(b" ")
                try:
                    await self._dispatch(params)
                except ClientError as err:
                    self._respond(None, error=err)
                if len(self._pending) > MAX_PENDING:
                    await _settled(self._pending[-1][0])
        except (StreamClosedError, UnsatisfiableReadError):
            pass
        finally:
            self.close()

    async def _read_size(self) -> int | None:
        try:
            raw = await self.stream.read_bytes(4)
        except StreamClosedError:
            return None
        self.last_read = time.monotonic()
        return protocol.INT32.unpack(raw)[0]

    async def _read_body(self, size: int) -> bytes:
        body = await self.stream.read_bytes(size) if size else b""
        self.last_read = time.monotonic()
        return body

    async def _dispatch(self, params: list[bytes]) -> None:
        command = params[0]
        handler = _COMMANDS.get(command)
        if handler is None:
            raise fatal("E_INVALID", f"invalid command {command.decode(errors='replace')}")
        self.counters["commands"] += 1
        await handler(self, params)

    # -- commands -----------------------------------------------------------------------

    async def _identify(self, params: list[bytes]) -> None:
        if self.state != INIT:
            raise fatal("E_INVALID", "cannot IDENTIFY in current state")
        size = await self._read_size()
        if size is None:
            raise fatal("E_BAD_BODY", "IDENTIFY failed to read body size")
        if size <= 0 or size > int(self.settings["broker.max_body_size"]):
            raise fatal("E_BAD_BODY", f"IDENTIFY invalid body size {size}")
        body = await self._read_body(size)
        answer = self.negotiated.apply(body)
        self.msg_timeout_ms = self.negotiated.msg_timeout_ms
        self._respond(answer)

    async def _sub(self, params: list[bytes]) -> None:
        if self.state != INIT:
            raise fatal("E_INVALID", "cannot SUB in current state")
        if self.negotiated.heartbeat_ms <= 0:
            raise fatal("E_INVALID", "cannot SUB with heartbeats disabled")
        if len(params) < 3:
            raise fatal("E_INVALID", "SUB insufficient number of parameters")
        topic_name, channel_name = _text(params[1]), _text(params[2])
        if not protocol.valid_name(topic_name):
            raise fatal("E_BAD_TOPIC", f"SUB topic name {_quote(topic_name)} is not valid")
        if not protocol.valid_name(channel_name):
            raise fatal("E_BAD_CHANNEL", f"SUB channel name {_quote(channel_name)} is not valid")
        channel = self.broker.get_topic(topic_name).get_channel(channel_name)
        self.channel = channel
        self.state = SUBSCRIBED
        channel.add_client(self)
        self._respond(protocol.OK)

    async def _rdy(self, params: list[bytes]) -> None:
        if self.state == CLOSING:
            return  # nsqd ignores RDY after CLS
        if self.state != SUBSCRIBED:
            raise fatal("E_INVALID", "cannot RDY in current state")
        count = 1
        if len(params) > 1:
            parsed = protocol.parse_int(params[1])
            if parsed is None:
                raise fatal("E_INVALID", f"RDY could not parse count {_text(params[1])}")
            count = parsed
        max_rdy = int(self.settings["broker.max_rdy_count"])
        if count < 0 or count > max_rdy:
            raise fatal("E_INVALID", f"RDY count {count} out of range 0-{max_rdy}")
        self.ready_count = count
        if self.channel is not None:
            self.channel.pump()

    def _message_id(self, params: list[bytes], verb: str, needed: int) -> tuple[bytes, int | None]:
        if self.state not in (SUBSCRIBED, CLOSING) or self.channel is None:
            raise fatal("E_INVALID", f"cannot {verb} in current state")
        if len(params) < needed:
            raise fatal("E_INVALID", f"{verb} insufficient number of params")
        raw = params[1]
        if len(raw) != protocol.ID_LENGTH:
            raise fatal("E_INVALID", "invalid message ID")
        return raw, protocol.parse_message_id(raw)

    async def _fin(self, params: list[bytes]) -> None:
        raw, seq = self._message_id(params, "FIN", 2)
        self.channel.finish(self, seq, raw)
        self.counters["finish_count"] += 1

    async def _req(self, params: list[bytes]) -> None:
        raw, seq = self._message_id(params, "REQ", 3)
        delay = protocol.parse_int(params[2])
        if delay is None:
            raise fatal("E_INVALID", f"REQ could not parse timeout {_text(params[2])}")
        # nsqd 1.x clamps an out-of-range REQ delay instead of failing.
        delay = min(max(delay, 0), int(self.settings["broker.max_req_timeout_ms"]))
        self.channel.requeue(self, seq, raw, delay)
        self.counters["requeue_count"] += 1

    async def _touch(self, params: list[bytes]) -> None:
        raw, seq = self._message_id(params, "TOUCH", 2)
        self.channel.touch(self, seq, raw)

    async def _nop(self, params: list[bytes]) -> None:
        return None

    async def _cls(self, params: list[bytes]) -> None:
        if self.state != SUBSCRIBED:
            raise fatal("E_INVALID", "cannot CLS in current state")
        self.state = CLOSING
        self._respond(protocol.CLOSE_WAIT)

    async def _auth(self, params: list[bytes]) -> None:
        raise fatal("E_AUTH_DISABLED", "AUTH disabled")

    def _topic(self, params: list[bytes], verb: str, needed: int) -> str:
        if len(params) < needed:
            raise fatal("E_INVALID", f"{verb} insufficient number of parameters")
        name = _text(params[1])
        if not protocol.valid_name(name):
            raise fatal("E_BAD_TOPIC", f"{verb} topic name {_quote(name)} is not valid")
        return name

    async def _message_body(self, verb: str) -> bytes:
        size = await self._read_size()
        if size is None:
            raise fatal("E_BAD_MESSAGE", f"{verb} failed to read message body size")
        if size <= 0:
            raise fatal("E_BAD_MESSAGE", f"{verb} invalid message body size {size}")
        max_size = int(self.settings["broker.max_msg_size"])
        if size > max_size:
            raise fatal("E_BAD_MESSAGE", f"{verb} message too big {size} > {max_size}")
        return await self._read_body(size)

    def _put(self, topic_name: str, bodies: list[bytes], defer_ms: int, verb: str, code: str) -> None:
        try:
            done = self.broker.get_topic(topic_name).put(bodies, defer_ms)
        except OSError as exc:
            raise fatal(code, f"{verb} failed {exc}") from None
        self.broker.counters["published"] += len(bodies)
        self._respond(protocol.OK, after=done, fail=f"{code} {verb} failed")

    async def _pub(self, params: list[bytes]) -> None:
        name = self._topic(params, "PUB", 2)
        body = await self._message_body("PUB")
        self._put(name, [body], 0, "PUB", "E_PUB_FAILED")

    async def _dpub(self, params: list[bytes]) -> None:
        name = self._topic(params, "DPUB", 3)
        delay = protocol.parse_int(params[2])
        if delay is None:
            raise fatal("E_INVALID", f"DPUB could not parse timeout {_text(params[2])}")
        max_req = int(self.settings["broker.max_req_timeout_ms"])
        if delay < 0 or delay > max_req:
            raise fatal("E_INVALID", f"DPUB timeout {delay} out of range 0-{max_req}")
        body = await self._message_body("DPUB")
        self._put(name, [body], delay, "DPUB", "E_DPUB_FAILED")

    async def _mpub(self, params: list[bytes]) -> None:
        name = self._topic(params, "MPUB", 2)
        size = await self._read_size()
        if size is None:
            raise fatal("E_BAD_BODY", "MPUB failed to read body size")
        if size <= 0:
            raise fatal("E_BAD_BODY", f"MPUB invalid body size {size}")
        max_body = int(self.settings["broker.max_body_size"])
        if size > max_body:
            raise fatal("E_BAD_BODY", f"MPUB body too big {size} > {max_body}")
        body = await self._read_body(size)
        bodies = protocol.parse_mpub(body, int(self.settings["broker.max_msg_size"]))
        self._put(name, bodies, 0, "MPUB", "E_MPUB_FAILED")

    # -- teardown -----------------------------------------------------------------------

    def close(self) -> None:
        if self.closed:
            return
        self._flush()
        self.closed = True
        self.broker.connections.discard(self)
        channel, self.channel = self.channel, None
        if channel is not None:
            channel.remove_client(self)
        if not self.stream.closed():
            self.stream.close()

    def stats(self) -> dict[str, Any]:
        n = self.negotiated
        host, _, port = self.address.rpartition(":")
        return {
            "client_id": n.client_id,
            "hostname": n.hostname,
            "version": "V2",
            "remote_address": self.address,
            "state": {INIT: 1, SUBSCRIBED: 3, CLOSING: 4}[self.state],
            "ready_count": self.ready_count,
            "in_flight_count": len(self.in_flight),
            "message_count": self.counters["message_count"],
            "finish_count": self.counters["finish_count"],
            "requeue_count": self.counters["requeue_count"],
            "connect_ts": self.connect_ts,
            "sample_rate": n.sample_rate,
            "deflate": False,
            "snappy": False,
            "user_agent": n.user_agent,
            "tls": False,
            "output_buffer_size": n.output_buffer_size,
            "output_buffer_timeout": n.output_buffer_timeout,
        }


async def _settled(future: asyncio.Future | None) -> None:
    if future is not None and not future.done():
        await asyncio.wait([future])


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _quote(name: str) -> str:
    # Go's %q, as nsqd formats names in its errors.
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


_COMMANDS = {
    b"IDENTIFY": Connection._identify,
    b"SUB": Connection._sub,
    b"RDY": Connection._rdy,
    b"FIN": Connection._fin,
    b"REQ": Connection._req,
    b"TOUCH": Connection._touch,
    b"NOP": Connection._nop,
    b"CLS": Connection._cls,
    b"AUTH": Connection._auth,
    b"PUB": Connection._pub,
    b"MPUB": Connection._mpub,
    b"DPUB": Connection._dpub,
}
