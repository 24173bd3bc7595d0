"""A channel: one consumer group's position in a topic's log, its in-flight messages, and
redelivery (REQ, msg_timeout, DPUB/REQ delays).

Only unfinished messages are held in memory (no bodies: those are read back from the log), so a
large backlog stays on disk.  A durable channel checkpoints ``{cursor, unfinished}`` and appends
each FIN to an ack file between checkpoints; after any restart every message not FIN'd is
delivered again.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol as TypingProtocol

from . import checkpoint, protocol
from .deadlines import DEFERRED, IN_FLIGHT, READY, Deadlines, Entry
from .protocol import nonfatal

if TYPE_CHECKING:
    from .topic import Topic

log = logging.getLogger(__name__)

EPHEMERAL_MAX_DEPTH = 10_000  # nsqd's default --mem-queue-size
REFILL_DELAY = 0.002  # seconds a partly free client waits for more FINs before it is topped up


class Client(TypingProtocol):
    """What a channel needs from a subscribed connection (see :mod:`services.broker.tcp`)."""

    in_flight: set[int]
    msg_timeout_ms: int

    def capacity(self) -> int: ...

    def send_message(self, data: bytes) -> None: ...

    def send_frames(self, frames: list[bytes], nbytes: int, count: int) -> None: ...

    def kick(self) -> None: ...


class Channel:
    def __init__(self, topic: "Topic", name: str, state_dir: Path | None, start_seq: int):
        self.topic = topic
        self.name = name
        self.ephemeral = protocol.is_ephemeral(name)
        self.state_dir = state_dir if not self.ephemeral else None
        self.cursor = start_seq
        self.skip: set[int] = set()  # FIN'd before a restart, at or beyond the cursor
        self.unfinished: collections.OrderedDict[int, Entry] = collections.OrderedDict()
        self.ready: collections.deque[int] = collections.deque()
        self.deadlines = Deadlines()
        self.deferred_count = 0
        self.clients: list[Client] = []
        self._rr = 0
        self._pumping = False
        self._pump_soon = False
        self.pump_wanted = False
        self.paused = False
        self._filling: set = set()
        self._forced = False
        self._refill_timer: asyncio.TimerHandle | None = None
        self.message_count = 0
        self.requeue_count = 0
        self.timeout_count = 0
        self.finish_count = 0
        self._acks = bytearray()
        self._dirty = False
        self._last_checkpoint = 0.0
        self.durable_floor = start_seq
        self.closed = False
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            if not self._recover():
                self.checkpoint()

    # -- persistence (see checkpoint.py) -------------------------------------------------

    def _recover(self) -> bool:
        state_path, ack_path = checkpoint.paths(self.state_dir, self.name)
        try:
            loaded = checkpoint.load(state_path, ack_path)
        except checkpoint.Unreadable as exc:
            log.error("%s/%s: unreadable checkpoint (%s); redelivering the whole retained log",
                      self.topic.name, self.name, exc)
            loaded = (self.topic.log.first_seq, {}, checkpoint.read_acks(ack_path))
        if loaded is None:
            return False
        cursor, saved, acked = loaded
        for seq in sorted(saved):
            if seq not in acked:
                self.unfinished[seq] = Entry(saved[seq])
                self.ready.append(seq)
        # FIN'd after the checkpoint, beyond its cursor: skipped when the cursor reaches them.
        self.skip = {seq for seq in acked if seq >= cursor}
        self.cursor = cursor
        self.checkpoint()
        return True

    def floor(self) -> int:
        """Every message below this number is finished on this channel."""
        if self.unfinished:
            return min(next(iter(self.unfinished)), self.cursor)
        return self.cursor

    def checkpoint(self) -> None:
        """Persist the cursor and the unfinished set; reset the ack file they now include."""
        self._last_checkpoint = time.monotonic()
        self._dirty = False
        if self.state_dir is not None:
            state_path, ack_path = checkpoint.paths(self.state_dir, self.name)
            checkpoint.save(state_path, ack_path, self.cursor, list(self.unfinished),
                            [e.attempts for e in self.unfinished.values()], self.skip)
            self._acks.clear()
        self.durable_floor = self.floor()

    def flush_acks(self) -> None:
        if self._acks and self.state_dir is not None:
            checkpoint.append_acks(checkpoint.paths(self.state_dir, self.name)[1], bytes(self._acks))
        self._acks.clear()

    # -- clients ------------------------------------------------------------------------

    def add_client(self, client: Client) -> None:
        self.clients.append(client)

    def remove_client(self, client: Client) -> None:
        if client in self.clients:
            self.clients.remove(client)
        # Its in-flight messages go straight back to the queue (nsqd waits for msg_timeout).
        for seq in sorted(client.in_flight):
            entry = self.unfinished.get(seq)
            if entry is not None and entry.state == IN_FLIGHT and entry.client is client:
                self._make_ready(seq, entry)
        client.in_flight.clear()
        if self.ephemeral and not self.clients and not self.closed:
            self.topic.delete_channel(self.name)
        else:
            self.pump()

    # -- delivery -----------------------------------------------------------------------

    def _pick(self) -> Client | None:
        """The next client (round robin) to send a message to.  A busy client is refilled only once
        a quarter of its RDY is free (or after ``REFILL_DELAY``), so messages go out in bursts
        instead of one wake-up per FIN; a client with nothing in flight is served at once."""
        clients = self.clients
        n = len(clients)
        for i in range(n):
            client = clients[(self._rr + i) % n]
            free = client.capacity()
            if free <= 0:
                continue
            if client not in self._filling:
                if client.in_flight and not self._forced and free < client.ready_count // 4:
                    self._refill_later()
                    continue
                self._filling.add(client)
            self._rr = (self._rr + i + 1) % n
            return client
        return None

    def _refill_later(self) -> None:
        if self._refill_timer is None:
            self._refill_timer = asyncio.get_running_loop().call_later(REFILL_DELAY, self._forced_pump)

    def _forced_pump(self) -> None:
        self._refill_timer = None
        self._forced = True
        try:
            self.pump()
        finally:
            self._forced = False

    def pump_soon(self) -> None:
        """Pump once after the commands already read are handled (FINs arrive in bursts): the
        connection pumps at the end of its input chunk; the scheduled pump is the fallback."""
        self.pump_wanted = True
        if not self._pump_soon:
            self._pump_soon = True
            asyncio.get_running_loop().call_soon(self._scheduled_pump)

    def _scheduled_pump(self) -> None:
        self._pump_soon = False
        if self.pump_wanted:
            self.pump()

    def pump(self) -> None:
        """Deliver as many ready messages as the clients' RDY counts allow."""
        self.pump_wanted = False
        if self._pumping or not self.clients or self.closed or self.paused or self.topic.paused:
            return
        self._pumping = True
        self._filling.clear()
        try:
            now = time.time_ns()
            while True:
                client = self._pick()
                if client is None:
                    return
                if self.ready:
                    seq = self.ready.popleft()
                    entry = self.unfinished.get(seq)
                    if entry is None or entry.state != READY:
                        continue
                    record = self.topic.log.read(seq)
                    if record is None:  # reclaimed or lost: nothing left to deliver
                        del self.unfinished[seq]
                        continue
                    if record.deliver_at_ns > now:
                        self._defer(seq, entry, record.deliver_at_ns)
                        continue
                    self._deliver(client, entry, seq, record.timestamp_ns, record.body, now)
                    continue
                if not self._read_ahead(client, now):
                    return
        finally:
            self._pumping = False
            self._filling.clear()

    def _read_ahead(self, client: Client | None, now: int) -> bool:
        """Deliver new records from the cursor; False when the log has nothing more."""
        end = self.topic.visible_end
        if self.cursor >= end:
            return False
        want = sum(max(c.capacity(), 0) for c in self.clients)
        stop = min(end, self.cursor + max(want, 1))
        got = False
        for batch in self.topic.log.read_batches(self.cursor, stop, 1 << 20):
            got = True
            first, bodies = batch.first, batch.bodies
            self.cursor = first + len(bodies)
            self.message_count += len(bodies)
            self._dirty = True
            if self.skip or batch.deliver_at_ns > now:
                client = self._read_one_by_one(client, batch, now)
                continue
            # The common case: a whole publish (or what the clients have room for) per client.
            done = 0
            while done < len(bodies):
                free = client.capacity() if client is not None else 0
                if free <= 0:
                    client = self._pick()
                    if client is None:
                        for seq in range(first + done, first + len(bodies)):
                            self.unfinished[seq] = Entry()
                            self.ready.append(seq)
                        break
                    free = client.capacity()
                take = min(free, len(bodies) - done)
                self._deliver_new(client, first + done, batch.timestamp_ns,
                                  bodies if take == len(bodies) else bodies[done:done + take], now)
                done += take
                client = None
        if not got:
            # Only gaps (records reclaimed or lost) were left in the range.
            self.cursor = stop
        return True

    def _read_one_by_one(self, client: Client | None, batch: Any, now: int) -> Client | None:
        """New records that may be deferred (DPUB) or FIN'd before a restart (``skip``)."""
        for i, body in enumerate(batch.bodies):
            seq = batch.first + i
            if self.skip and seq in self.skip:
                self.skip.discard(seq)
                continue
            entry = Entry()
            self.unfinished[seq] = entry
            if batch.deliver_at_ns > now:
                self._defer(seq, entry, batch.deliver_at_ns)
                continue
            if client is None or client.capacity() <= 0:
                client = self._pick()
            if client is None:
                self.ready.append(seq)
                continue
            self._deliver(client, entry, seq, batch.timestamp_ns, body, now)
            client = None
        return client

    def _deliver_new(self, client: Client, first: int, timestamp_ns: int, bodies: list[bytes], now: int) -> None:
        """First delivery of consecutive new records to one client: one deadline entry, one write."""
        unfinished = self.unfinished
        add = client.in_flight.add
        head = protocol.MESSAGE_HEAD.pack
        frames: list[bytes] = []
        append = frames.append
        nbytes = 0
        seq = first
        for body in bodies:
            unfinished[seq] = Entry(1, IN_FLIGHT, client, 1)
            add(seq)
            size = len(body)
            append(head(size + 30, protocol.FRAME_MESSAGE, timestamp_ns, 1) + b"%016x" % seq)
            append(body)
            nbytes += size + 34
            seq += 1
        self.deadlines.time_out(now + client.msg_timeout_ms * 1_000_000, first, 1, len(bodies))
        client.send_frames(frames, nbytes, len(bodies))

    def _deliver(self, client: Client, entry: Entry, seq: int, timestamp_ns: int, body: bytes, now: int) -> None:
        entry.attempts = min(entry.attempts + 1, 65535)
        entry.state = IN_FLIGHT
        entry.client = client
        entry.token += 1
        client.in_flight.add(seq)
        self.deadlines.time_out(now + client.msg_timeout_ms * 1_000_000, seq, entry.token)
        client.send_message(protocol.message_frame(timestamp_ns, entry.attempts, protocol.message_id(seq), body))

    def _defer(self, seq: int, entry: Entry, due_ns: int) -> None:
        entry.state = DEFERRED
        entry.client = None
        entry.token += 1
        self.deferred_count += 1
        self.deadlines.defer(due_ns, seq, entry.token)

    def _make_ready(self, seq: int, entry: Entry) -> None:
        if entry.state == DEFERRED:
            self.deferred_count -= 1
        entry.state = READY
        entry.client = None
        entry.token += 1
        self.ready.append(seq)

    # -- client commands ----------------------------------------------------------------

    def _owned(self, client: Client, seq: int | None, raw_id: bytes, verb: str, code: str) -> Entry:
        entry = self.unfinished.get(seq) if seq is not None else None
        if entry is None or entry.state != IN_FLIGHT:
            raise nonfatal(code, f"{verb} {raw_id.decode(errors='replace')} failed ID not in flight")
        if entry.client is not client:
            raise nonfatal(code, f"{verb} {raw_id.decode(errors='replace')} failed client does not own message")
        return entry

    def finish_id(self, client: Client, raw_id: bytes) -> bool:
        """FIN's fast path: finish ``raw_id`` if ``client`` owns it in flight; False for anything
        else (the caller then runs :meth:`finish`, which answers the right error)."""
        seq = protocol.parse_message_id(raw_id)
        entry = self.unfinished.get(seq) if seq is not None else None
        if entry is None or entry.client is not client or entry.state != IN_FLIGHT:
            return False
        self._finished(client, seq)
        return True

    def finish(self, client: Client, seq: int | None, raw_id: bytes) -> None:
        self._owned(client, seq, raw_id, "FIN", "E_FIN_FAILED")
        self._finished(client, seq)

    def _finished(self, client: Client, seq: int) -> None:
        """Retire an in-flight message ``client`` owns: its ack goes to the next checkpoint."""
        del self.unfinished[seq]
        client.in_flight.discard(seq)
        self.finish_count += 1
        self._dirty = True
        if self.state_dir is not None:
            self._acks += checkpoint.ACK.pack(seq)
        self.pump_soon()

    def requeue(self, client: Client, seq: int | None, raw_id: bytes, delay_ms: int) -> None:
        entry = self._owned(client, seq, raw_id, "REQ", "E_REQ_FAILED")
        client.in_flight.discard(seq)
        self.requeue_count += 1
        if delay_ms > 0:
            self._defer(seq, entry, time.time_ns() + delay_ms * 1_000_000)
        else:
            self._make_ready(seq, entry)
        self.pump_soon()

    def touch(self, client: Client, seq: int | None, raw_id: bytes) -> None:
        entry = self._owned(client, seq, raw_id, "TOUCH", "E_TOUCH_FAILED")
        entry.token += 1
        self.deadlines.time_out(time.time_ns() + client.msg_timeout_ms * 1_000_000, seq, entry.token)

    # -- timers -------------------------------------------------------------------------

    def tick(self, now_ns: int, checkpoint_s: float) -> None:
        changed = False
        for seq, entry in self.deadlines.expired(now_ns, self.unfinished):
            if entry.client is not None:
                entry.client.in_flight.discard(seq)
            self.timeout_count += 1
            self._make_ready(seq, entry)
            changed = True
        self.deadlines.trim(self.unfinished)
        for seq, entry in self.deadlines.due(now_ns, self.unfinished):
            self._make_ready(seq, entry)
            changed = True
        if self.ephemeral:
            # nsqd keeps at most --mem-queue-size messages for an ephemeral channel and drops the
            # rest; here the oldest are skipped, so a stalled watcher never pins the log.
            lag = self.topic.visible_end - self.cursor
            if lag > EPHEMERAL_MAX_DEPTH:
                self.cursor = self.topic.visible_end - EPHEMERAL_MAX_DEPTH
                self._dirty = True
                changed = True
        if changed:
            self.pump()
        self.flush_acks()
        if self._dirty and time.monotonic() - self._last_checkpoint >= checkpoint_s:
            self.checkpoint()

    # -- admin --------------------------------------------------------------------------

    def empty(self) -> None:
        """Drop everything queued, deferred and in flight (nsqd's channel empty)."""
        for client in self.clients:
            client.in_flight.clear()
        self.unfinished.clear()
        self.ready.clear()
        self.deadlines.clear()
        self.deferred_count = 0
        self.skip.clear()
        self.cursor = self.topic.visible_end
        self.checkpoint()

    def depth(self) -> int:
        backlog = max(self.topic.visible_end - self.cursor - len(self.skip), 0)
        return backlog + len(self.ready)

    def in_flight_count(self) -> int:
        return sum(len(c.in_flight) for c in self.clients)

    def close(self) -> None:
        """Stop delivering and persist the position (broker shutdown)."""
        if self.closed:
            return
        self.flush_acks()
        self.checkpoint()
        self.closed = True

    def destroy(self) -> None:
        """Delete the channel: disconnect its clients and remove its files."""
        self.closed = True
        if self._refill_timer is not None:
            self._refill_timer.cancel()
        for client in list(self.clients):
            client.kick()
        self.clients.clear()
        if self.state_dir is not None:
            for path in checkpoint.paths(self.state_dir, self.name):
                path.unlink(missing_ok=True)
