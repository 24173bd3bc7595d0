"""FIN and its neighbours on the wire: the fast path with commands split at every byte, CLS between
FINs, and FINs the broker must refuse (another client's, finished, other spellings of an id)."""

from __future__ import annotations

import asyncio
import struct

from services.broker.tcp import Connection

from .conftest import clients, consumer, publish, run_broker, until


class FakeTransport:
    """Collects what a Connection writes, so input can be fed in chunks split exactly where a test says."""

    def __init__(self):
        self.data = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    def get_extra_info(self, name: str, default=None):
        return ("127.0.0.1", 1) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def frames(self) -> list[tuple[int, bytes]]:
        out, pos = [], 0
        while pos + 8 <= len(self.data):
            size, kind = struct.unpack_from(">ii", self.data, pos)
            if pos + 4 + size > len(self.data):
                break
            out.append((kind, bytes(self.data[pos + 8:pos + 4 + size])))
            pos += 4 + size
        return out


async def subscribed(b, topic: str, rdy: int, published: int):
    """A fake-transport consumer of ``topic``/c holding ``rdy`` of ``published`` messages: (conn,
    transport with its output cleared, the held messages' ids)."""
    transport = FakeTransport()
    conn = Connection(b.broker)
    conn.connection_made(transport)
    conn.data_received(b"  V2SUB " + topic.encode() + b" c\nRDY %d\n" % rdy)
    await publish(b, topic, [b"%d" % i for i in range(published)])
    await until(lambda: sum(k == 2 for k, _ in transport.frames()) == rdy, f"{rdy} messages")
    ids = [d[10:26] for kind, d in transport.frames() if kind == 2]
    transport.data.clear()
    return conn, transport, ids


def test_fin_fast_path_with_commands_split_at_every_byte(home):
    """FIN/RDY/REQ/TOUCH/NOP and bad FINs mixed, fed in two chunks split at every position."""

    async def one_split(b, k: int):
        topic = f"split{k}"
        conn, transport, ids = await subscribed(b, topic, rdy=6, published=6)
        stream = (b"FIN " + ids[0] + b"\nNOP\nTOUCH " + ids[1] + b"\nREQ " + ids[2] + b" 0\n"
                  + b"FIN " + ids[0] + b"\n"  # already finished
                  + b"FIN 00000000000000ff\n"  # never delivered
                  + b"FIN " + ids[3] + b"\r\nRDY 4\nFIN " + ids[4] + b"\nFIN " + ids[5] + b"\n")
        conn.data_received(stream[:k])
        conn.data_received(stream[k:])
        await until(lambda: any(kind == 2 for kind, _ in transport.frames()), "the REQ'd message again")
        frames = transport.frames()
        in_flight = sorted(conn.in_flight)
        conn.close()
        return stream, ids, frames, in_flight

    async def scenario(b):
        results = []
        probe = await one_split(b, 0)
        for k in range(1, len(probe[0])):
            results.append((k, await one_split(b, k)))
        return results

    for k, (stream, ids, frames, in_flight) in run_broker(home, scenario, durability__fsync=False):
        errors = [d for kind, d in frames if kind == 1]
        messages = [d for kind, d in frames if kind == 2]
        assert errors == [b"E_FIN_FAILED FIN " + ids[0] + b" failed ID not in flight",
                          b"E_FIN_FAILED FIN 00000000000000ff failed ID not in flight"], k
        assert len(messages) == 1 and messages[0][10:26] == ids[2], k
        assert struct.unpack(">H", messages[0][8:10])[0] == 2, k  # its second attempt
        assert in_flight == sorted(int(i, 16) for i in (ids[1], ids[2])), k


def test_fin_of_another_clients_or_finished_message_is_not_fatal(home):
    async def scenario(b):
        a = await consumer(b, "t", rdy=5)
        other = await consumer(b, "t", rdy=0)
        await publish(b, "t", [b"%d" % i for i in range(5)])
        ids = [(await a.message())[2] for _ in range(5)]
        other.send(b"FIN " + ids[0])
        stolen = await other.frame()
        a.send(b"FIN " + ids[0] + b"\nFIN " + ids[0] + b"\nFIN " + ids[1])
        again = await a.frame()
        a.send(b"RDY 1")  # still connected and served: ids[2..4] in flight, so nothing comes
        a.send(b"NOP")
        await until(lambda: any(c.ready_count == 1 for c in clients(b, "t")), "RDY 1 read")
        conn = next(c for c in clients(b, "t") if c.ready_count == 1)
        await until(lambda: len(conn.in_flight) == 3, "two FINs applied")
        return ids, stolen, again, conn.finish_count

    ids, stolen, again, finished = run_broker(home, scenario)
    assert stolen == (1, b"E_FIN_FAILED FIN " + ids[0] + b" failed client does not own message")
    assert again == (1, b"E_FIN_FAILED FIN " + ids[0] + b" failed ID not in flight")
    assert finished == 2


def test_fin_of_a_non_canonical_spelling_of_an_id_is_not_in_flight(home):
    """nsqd compares ids byte for byte: another spelling of a delivered id (upper case, 0x, sign,
    underscore) is not that message; a leading space makes the id field empty (fatal)."""

    async def scenario(b):
        a = await consumer(b, "t", rdy=16)
        await publish(b, "t", [b"%d" % i for i in range(16)])
        ids = [(await a.message())[2] for _ in range(16)]
        assert ids[10:14] == [b"000000000000000a", b"000000000000000b", b"000000000000000c", b"000000000000000d"]
        (conn,) = clients(b, "t")
        answers = []
        for spelling in (b"000000000000000A", b"0x0000000000000b", b"+00000000000000c", b"0000000_0000000d"):
            a.send(b"FIN " + spelling)
            answers.append(await a.frame())
        still = len(conn.in_flight)
        a.send(b"FIN  00000000000000e")  # "FIN", "", "0..0e": nsqd reads an empty id
        fatal = await a.frame()
        return answers, still, fatal, await a.is_closed()

    answers, still, fatal, closed = run_broker(home, scenario)
    assert [kind for kind, _ in answers] == [1] * 4, answers
    assert all(data.startswith(b"E_FIN_FAILED") and data.endswith(b"failed ID not in flight")
               for _, data in answers), answers
    assert still == 16
    assert fatal == (1, b"E_INVALID invalid message ID") and closed


def test_cls_between_fast_path_fins_split_at_every_byte(home):
    """FINs keep working after CLS (nsqd lets a closing client finish what it holds); nothing new
    is sent to it whatever RDY says."""

    async def one_split(b, k: int):
        topic = f"cls{k}"
        conn, transport, ids = await subscribed(b, topic, rdy=3, published=6)
        stream = b"FIN " + ids[0] + b"\nCLS\nFIN " + ids[1] + b"\nRDY 5\nFIN " + ids[2] + b"\nNOP\n"
        conn.data_received(stream[:k])
        conn.data_received(stream[k:])
        channel = b.broker.get_topic(topic).channels["c"]
        await until(lambda: channel.finish_count == 3 and transport.frames(), "3 FINs and CLOSE_WAIT")
        await asyncio.sleep(0.05)  # not needed to pass: gives a wrong extra frame time to show up
        frames, state = transport.frames(), (conn.state, len(conn.in_flight), len(channel.unfinished))
        conn.close()
        return len(stream), frames, state

    async def scenario(b):
        first = await one_split(b, 0)
        return [first] + [await one_split(b, k) for k in range(1, first[0])]

    for k, (_, frames, state) in enumerate(run_broker(home, scenario, durability__fsync=False)):
        # A first chunk ending between "FIN id0" and a complete "CLS" refills the freed slot first.
        refilled = 21 <= k < 25
        assert [f for f in frames if f[0] != 2] == [(0, b"CLOSE_WAIT")], k
        assert sum(f[0] == 2 for f in frames) == refilled, k
        assert state == ("closing", refilled, refilled), k  # the rest were never read ahead
