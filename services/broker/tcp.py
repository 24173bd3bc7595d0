"""The TCP side: one :class:`Connection` per client speaking NSQ protocol V2 as nsqd 1.3 does.

Input is parsed straight from the socket's data callbacks (a burst of FINs costs one wake-up),
commands run in order, and publish answers wait for the group commit but keep their order (pynsq
matches answers to publishes FIFO), so clients may pipeline.  Message frames are buffered like
nsqd's (``output_buffer_size``/``output_buffer_timeout``); responses are flushed at once.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import time
from typing import TYPE_CHECKING, Any

from . import protocol
from .commands import CLOSING, COMMANDS, INIT, SUBSCRIBED
from .protocol import ClientError, fatal

if TYPE_CHECKING:
    from .broker import Broker
    from .channel import Channel

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024
MAX_PENDING = 512  # unanswered publishes per connection before reading pauses
# Below this RDY a read delay gathers too few FINs to pay for the wait: a RDY-1 consumer (pynsq's
# and gnsq's default) would get one message per delay (~350 msgs/s instead of ~3,500).
MIN_NAP_RDY = 32
LINE, SIZE, BODY, MAGIC = range(4)


async def serve(broker: "Broker", sock: socket.socket) -> asyncio.AbstractServer:
    """Accept NSQ clients on a bound socket (on the running Tornado/asyncio loop)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: Connection(broker), sock=sock)


class Connection(asyncio.Protocol):
    def __init__(self, broker: "Broker"):
        self.broker = broker
        self.settings = broker.settings
        self.transport: asyncio.Transport | None = None
        self.address = "?"
        self.negotiated = protocol.Negotiated(self.settings)
        self.state = INIT
        self.channel: "Channel | None" = None
        self.ready_count = 0
        self.in_flight: set[int] = set()
        self.msg_timeout_ms = self.negotiated.msg_timeout_ms
        self.connect_ts = int(time.time())
        self.last_read = time.monotonic()
        self.last_heartbeat = time.monotonic()
        self.message_count = self.finish_count = self.requeue_count = 0
        self._in = bytearray()
        self._pos = 0
        self._phase = MAGIC
        self._command: tuple | None = None  # (run, params, size check) while a body is awaited
        self._need = 4
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._flush_scheduled = False
        self._flush_timer: asyncio.TimerHandle | None = None
        self._buffer_timeout = self._output_timeout()
        self._pending: collections.deque[list] = collections.deque()
        self._paused = False  # reading paused: too many unanswered publishes
        self._napping = False  # reading paused: a busy consumer's FINs are gathered (broker.consumer_read_delay_ms)
        self._read_delay = int(self.settings["broker.consumer_read_delay_ms"]) / 1000
        self._closing = False
        self.closed = False

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.address = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.broker.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.broker.counters["tcp_reads"] += 1
        self.last_read = time.monotonic()
        self._in += data
        try:
            self._parse()
        except ClientError as err:
            self.respond(None, error=err)
        channel = self.channel
        if channel is not None and channel.pump_wanted:
            channel.pump()  # once for every FIN/REQ/RDY in this chunk, in this same loop turn
        if self._pos and (self._pos >= len(self._in) or self._pos > 1 << 20):
            del self._in[:self._pos]
            self._pos = 0
        if (self._read_delay and channel is not None and not self._napping and not self.closed
                and self.ready_count >= MIN_NAP_RDY and 2 * len(self.in_flight) > self.ready_count):
            # A consumer with more than half its RDY still in flight does not starve if its next
            # FINs wait a moment: read them in one go (one wake-up, one refill) instead of a few
            # at a time.
            self._napping = True
            self.transport.pause_reading()
            asyncio.get_running_loop().call_later(self._read_delay, self._wake)

    def _wake(self) -> None:
        self._napping = False
        if not self._paused and not self.closed:
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    # -- input --------------------------------------------------------------------------

    def _parse(self) -> None:
        buf = self._in
        while not self._closing and not self.closed:
            available = len(buf) - self._pos
            if self._phase == LINE:
                pos = self._pos
                # FIN's fast path (most of what a busy consumer sends): "FIN <16-char id>\n".
                if (available >= 21 and buf[pos + 20] == 10 and buf.startswith(b"FIN ", pos)
                        and self.channel is not None and self.channel.finish_id(self, bytes(buf[pos + 4:pos + 20]))):
                    self._pos = pos + 21
                    self.finish_count += 1
                    continue
                end = buf.find(b"\n", self._pos)
                if end < 0:
                    if available > MAX_LINE:
                        raise fatal("E_INVALID", "command line too long")
                    return
                line = bytes(buf[self._pos:end])
                self._pos = end + 1
                if line.endswith(b"\r"):
                    line = line[:-1]
                params = line.split(b" ")
                entry = COMMANDS.get(params[0])
                if entry is None:
                    raise fatal("E_INVALID", f"invalid command {params[0].decode(errors='replace')}")
                run, body = entry
                if body is None:
                    try:
                        run(self, params)
                    except ClientError as err:
                        self.respond(None, error=err)
                    continue
                check_line, check_size = body
                check_line(self, params)
                self._command = (run, params, check_size)
                self._phase, self._need = SIZE, 4
            elif available < self._need:
                return
            elif self._phase == SIZE:
                (size,) = protocol.INT32.unpack_from(buf, self._pos)
                self._pos += 4
                problem = self._command[2](self, size)
                if problem is not None:
                    raise problem
                self._phase, self._need = BODY, size
            elif self._phase == BODY:
                data = bytes(buf[self._pos:self._pos + self._need])
                self._pos += self._need
                run, params, _ = self._command
                self._command = None
                self._phase, self._need = LINE, 0
                run(self, params, data)
                if len(self._pending) > MAX_PENDING and not self._paused:
                    self._paused = True
                    self.transport.pause_reading()
            else:  # MAGIC
                magic = bytes(buf[self._pos:self._pos + 4])
                self._pos += 4
                if magic != protocol.MAGIC_V2:
                    self._closing = True
                    self._write(protocol.frame(protocol.FRAME_ERROR, b"E_BAD_PROTOCOL"))
                    self._flush()
                    self.close()
                    return
                self._phase, self._need = LINE, 0

    def identified(self) -> None:
        self.msg_timeout_ms = self.negotiated.msg_timeout_ms
        self._buffer_timeout = self._output_timeout()

    def _output_timeout(self) -> float:
        # The client's output_buffer_timeout, capped so a trickle of messages is never held long.
        cap = int(self.settings["broker.max_output_buffer_timeout_ms"])
        return min(self.negotiated.output_buffer_timeout, cap) / 1000

    # -- what a channel calls -----------------------------------------------------------

    def capacity(self) -> int:
        if self.state != SUBSCRIBED or self.closed:
            return 0
        return self.ready_count - len(self.in_flight)

    def send_message(self, data: bytes) -> None:
        """Buffer a message frame as nsqd does: flush when ``output_buffer_size`` bytes wait, when
        the client's RDY is used up, or after ``output_buffer_timeout``."""
        self.message_count += 1
        if self.closed:
            return
        self._out.append(data)
        self._out_bytes += len(data)
        if self._out_bytes >= self.negotiated.output_buffer_size or self.capacity() <= 0:
            self._schedule_flush()
        elif self._flush_timer is None and not self._flush_scheduled:
            self._flush_timer = asyncio.get_running_loop().call_later(self._buffer_timeout, self._flush)

    def send_frames(self, frames: list[bytes], nbytes: int, count: int) -> None:
        """:meth:`send_message` for several messages at once (``nbytes`` in all)."""
        self.message_count += count
        if self.closed:
            return
        self._out += frames
        self._out_bytes += nbytes
        if self._out_bytes >= self.negotiated.output_buffer_size or self.capacity() <= 0:
            self._schedule_flush()
        elif self._flush_timer is None and not self._flush_scheduled:
            self._flush_timer = asyncio.get_running_loop().call_later(self._buffer_timeout, self._flush)

    def kick(self) -> None:
        """Disconnect (the channel or topic was deleted)."""
        self.channel = None
        self.close()

    # -- output -------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self.closed:
            return
        self._out.append(data)
        self._out_bytes += len(data)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._out and not self.closed and self.transport is not None:
            self.broker.counters["tcp_writes"] += 1
            self.transport.write(b"".join(self._out))
        self._out.clear()
        self._out_bytes = 0

    def respond(self, data: bytes | None, after: asyncio.Future | None = None,
                error: ClientError | None = None, fail: tuple[str, str] | None = None) -> None:
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
                break
            pending.popleft()
            if after is not None and not after.cancelled() and after.exception() is not None:
                error = fatal(fail[0], f"{fail[1]} {after.exception()}")
            if error is not None:
                self.broker.counters["client_errors"] += 1
                self._write(error.frame())
                if error.fatal:
                    self._closing = True
                    pending.clear()
                    self._flush()
                    self.close()
                    return
            elif data is not None:
                self._write(protocol.response(data))
        if self._paused and len(pending) <= MAX_PENDING // 2 and not self.closed:
            self._paused = False
            if not self._napping:
                self.transport.resume_reading()

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
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()  # sends what is buffered, then closes

    def stats(self) -> dict[str, Any]:
        n = self.negotiated
        return {
            "client_id": n.client_id,
            "hostname": n.hostname,
            "version": "V2",
            "remote_address": self.address,
            "state": {INIT: 1, SUBSCRIBED: 3, CLOSING: 4}[self.state],
            "ready_count": self.ready_count,
            "in_flight_count": len(self.in_flight),
            "message_count": self.message_count,
            "finish_count": self.finish_count,
            "requeue_count": self.requeue_count,
            "connect_ts": self.connect_ts,
            "sample_rate": n.sample_rate,
            "deflate": False,
            "snappy": False,
            "user_agent": n.user_agent,
            "tls": False,
            "output_buffer_size": n.output_buffer_size,
            "output_buffer_timeout": n.output_buffer_timeout,
        }
