"""Broker throughput and memory: 1 KB messages, pynsq Writer (MPUB batches) → broker → pynsq Reader,
durable mode (fdatasync group commit), beside a raw Tornado TCP echo of the same bytes in this run.

``python -m bench.broker [--smoke] [--messages N] [--no-fsync] [--loop uvloop|asyncio]``.  The writer
is paced so the backlog stays bounded; broker RSS is sampled at 10 % and 100 % of the run; CPU is
user+sys per process (broker, reader, writer).  The broker, Reader and Writer all run on the event
loop the services use (``common.event_loop``).  Prints, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nsq
import psutil
import tornado.httpclient
import tornado.iostream
import tornado.tcpclient
import tornado.tcpserver

from mini_kernel.testing.processes import ServiceProcess
from services.common import service

SIZE = 1024
BATCH = 100
WINDOW = 8  # MPUBs in flight
MAX_BACKLOG = 20_000  # published but not yet received


async def publish(address: str, total: int, backlog, stats_url: str | None = None) -> dict:
    """MPUB ``total`` 1 KB messages in batches, at most WINDOW unanswered, pausing while the backlog
    (``backlog()``, or the channel depth polled from ``stats_url``) is above MAX_BACKLOG."""
    body = b"m" * SIZE
    writer = nsq.Writer([address])
    while not any(c.connected() for c in writer.conns.values()):
        await asyncio.sleep(0.01)
    window = asyncio.Semaphore(WINDOW)
    failures = 0
    depth = 0

    def published(conn, data) -> None:
        nonlocal failures
        if data != b"OK":
            failures += 1
        window.release()

    async def poll() -> None:
        nonlocal depth
        client = tornado.httpclient.AsyncHTTPClient()
        while True:
            response = await client.fetch(stats_url)
            channels = json.loads(response.body)["topics"][0]["channels"]
            depth = channels[0]["depth"] + channels[0]["in_flight_count"] if channels else 0
            await asyncio.sleep(0.02)

    poller = asyncio.ensure_future(poll()) if stats_url else None
    sent = 0
    peak_backlog = 0
    while sent < total:
        await window.acquire()
        while (depth if stats_url else backlog(sent)) > MAX_BACKLOG:
            await asyncio.sleep(0.002)
        n = min(BATCH, total - sent)
        writer.mpub("bench", [body] * n, callback=published)
        sent += n
        peak_backlog = max(peak_backlog, depth if stats_url else backlog(sent))
    for _ in range(WINDOW):
        await window.acquire()
    if poller is not None:
        poller.cancel()
    logging.getLogger("nsq").setLevel(logging.CRITICAL)  # pynsq logs the reads its own close() breaks
    for conn in list(writer.conns.values()):
        conn.close()
    return {"failures": failures, "peak_backlog": peak_backlog}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def through_broker(address: str, http_url: str, total: int, rss, separate_writer: bool, loop: str) -> dict:
    received = 0
    marks: dict = {"loop": type(asyncio.get_running_loop()).__module__.split(".")[0]}
    done = asyncio.get_running_loop().create_future()

    def on_message(message: nsq.Message) -> bool:
        nonlocal received
        received += 1
        if received == 1:
            marks["started"] = time.perf_counter()
        if received == total // 10:
            marks["rss_10"] = rss()
        if received >= total and not done.done():
            done.set_result(time.perf_counter())
        return True

    reader = nsq.Reader(topic="bench", channel="c", nsqd_tcp_addresses=[address], message_handler=on_message,
                        max_in_flight=2000, max_tries=0)
    while not reader.conns:
        await asyncio.sleep(0.01)
    if separate_writer:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.broker", "--writer", address, http_url, str(total),
            "--loop", loop, stdout=asyncio.subprocess.PIPE, cwd=str(Path(__file__).resolve().parents[1]))
        finished = await asyncio.wait_for(done, 3600)
        out, _ = await child.communicate()
        writer = json.loads(out.decode().strip().splitlines()[-1])
    else:
        writer = await publish(address, total, lambda sent: sent - received)
        finished = await asyncio.wait_for(done, 3600)
    marks["rss_100"] = rss()
    await asyncio.sleep(0.1)  # the last FINs reach the broker before the connection closes
    logging.getLogger("nsq").setLevel(logging.CRITICAL)  # pynsq logs the reads its own close() breaks
    reader.close()
    seconds = finished - marks["started"]
    return {"messages": total, "seconds": seconds, "msgs_per_s": total / seconds, **writer, **marks}


class Echo(tornado.tcpserver.TCPServer):
    async def handle_stream(self, stream, address) -> None:
        try:
            while True:
                head = await stream.read_bytes(4)
                (size,) = struct.unpack(">i", head)
                await stream.write(head + await stream.read_bytes(size))
        except tornado.iostream.StreamClosedError:
            pass


def echo_server(loop: str) -> None:
    """Run in a child process, like the broker: print the port, echo frames until killed."""
    async def main():
        server = Echo()
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        print(sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    import tornado.netutil

    service.run(main(), loop)


async def raw_round_trip(port: int, total: int) -> dict:
    """The same bytes both ways (an MPUB-sized frame out, echoed back) with the same pipelining."""
    stream = await tornado.tcpclient.TCPClient().connect("127.0.0.1", port)
    payload = struct.pack(">i", BATCH) + b"".join(struct.pack(">i", SIZE) + b"m" * SIZE for _ in range(BATCH))
    frame = struct.pack(">i", len(payload)) + payload
    batches = total // BATCH
    started = time.perf_counter()

    window = asyncio.Semaphore(WINDOW)

    async def reader():
        for _ in range(batches):
            head = await stream.read_bytes(4)
            await stream.read_bytes(struct.unpack(">i", head)[0])
            window.release()

    task = asyncio.ensure_future(reader())
    for _ in range(batches):
        await window.acquire()
        stream.write(frame)
    await task
    seconds = time.perf_counter() - started
    stream.close()
    return {"messages": batches * BATCH, "seconds": seconds, "msgs_per_s": batches * BATCH / seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.broker", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="about 2,000 messages")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--no-fsync", action="store_true", help="acknowledge on write to the OS")
    parser.add_argument("--one-process", action="store_true",
                        help="run the pynsq Writer in the Reader's process (default: its own process)")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="event loop of the broker, Reader and Writer (common.event_loop; default uvloop)")
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--writer", nargs=3, metavar=("TCP", "HTTP", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo_server:
        echo_server(args.loop)
        return 0
    if args.writer:
        address, http_url, n = args.writer
        cpu_start = cpu_seconds()  # not the interpreter's start-up
        result = service.run(publish(address, int(n), None, f"{http_url}/stats?format=json&topic=bench&channel=c&include_clients=false"),
                             args.loop)
        print(json.dumps({**result, "cpu_seconds": cpu_seconds() - cpu_start}))
        return 0
    total = 2_000 if args.smoke else args.messages
    with tempfile.TemporaryDirectory(prefix="bench-broker-") as tmp:
        env = {"MINI_DURABILITY_FSYNC": "false" if args.no_fsync else "true", "MINI_LOG_LEVEL": "WARNING",
               "MINI_COMMON_EVENT_LOOP": args.loop}
        load_before = os.getloadavg()
        broker = ServiceProcess("broker", "services.broker", Path(tmp), env=env).start()
        echo = subprocess.Popen([sys.executable, "-m", "bench.broker", "--echo-server", "--loop", args.loop], stdout=subprocess.PIPE,
                                text=True, cwd=Path(__file__).resolve().parents[1])
        try:
            process = psutil.Process(broker.proc.pid)
            rss = lambda: process.memory_info().rss / 2**20  # noqa: E731  (MiB)
            rss_start = rss()
            times0 = process.cpu_times()
            cpu0, own0 = sum(times0[:2]), sum(psutil.Process().cpu_times()[:2])
            result = service.run(through_broker(f"127.0.0.1:{broker.port}", broker.url, total, rss,
                                                not args.one_process, args.loop), args.loop)
            load_after = os.getloadavg()
            times1 = process.cpu_times()
            cpu_broker = sum(times1[:2]) - cpu0
            cpu_broker_sys = times1[1] - times0[1]
            cpu_clients = sum(psutil.Process().cpu_times()[:2]) - own0
            status = json.loads(_get(f"{broker.url}/status"))
            port = int(echo.stdout.readline())
            raw = service.run(raw_round_trip(port, total), args.loop)
        finally:
            echo.kill()
            echo.wait()
            broker.stop()
    mode = "os-write" if args.no_fsync else "fdatasync group commit"
    mode += ", writer in the reader's process" if args.one_process else ", writer in its own process"
    mode += f", {result['loop']} event loop"
    print(f"broker ({mode}): {result['messages']:,} x {SIZE} B in {result['seconds']:.1f} s = "
          f"{result['msgs_per_s']:,.0f} msgs/s (failures {result['failures']}, peak backlog {result['peak_backlog']:,})")
    print(f"raw tornado TCP echo of the same bytes: {raw['msgs_per_s']:,.0f} msgs/s "
          f"-> broker/raw ratio {result['msgs_per_s'] / raw['msgs_per_s']:.2f}")
    counters = status["counters"]
    per_pass = counters["published"] / max(counters["fsync_passes"], 1)
    print(f"broker TCP: {counters['tcp_reads']:,} reads, {counters['tcp_writes']:,} message writes "
          f"({total / max(counters['tcp_writes'], 1):.0f} msgs each)")
    print(f"fsync passes {counters['fsync_passes']:,} ({per_pass:.0f} msgs each), {counters['fsync_seconds']:.1f} s syncing")
    print(f"CPU per message (user+sys): broker {1e6 * cpu_broker / total:.1f} us ({cpu_broker:.1f} s, "
          f"{cpu_broker_sys:.1f} s in the kernel), pynsq {'writer+' if args.one_process else ''}Reader "
          f"{1e6 * cpu_clients / total:.1f} us ({cpu_clients:.1f} s)"
          + ("" if args.one_process else
             f", pynsq Writer {1e6 * result['cpu_seconds'] / total:.1f} us ({result['cpu_seconds']:.1f} s)"))
    growth = result["rss_100"] - result.get("rss_10", result["rss_100"])
    print(f"broker RSS: start {rss_start:.1f} MiB, at 10% {result.get('rss_10', float('nan')):.1f} MiB, "
          f"at 100% {result['rss_100']:.1f} MiB (growth 10%->100%: {growth:+.1f} MiB)")
    print("load average (1, 5, 15 min): before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}".format(
        *load_before, *load_after))
    return 0


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


if __name__ == "__main__":
    sys.exit(main())
