"""Benchmark the search node beside osmem-server: bulk indexing, term, range+sort, aggregations, memory.

    .venv/bin/python -m bench.search [--smoke] [--docs 100000] [--large 1000000] [--clients 2]

Both servers get the same realistic enriched documents (Mini's ``good`` mapping) in the same run;
``--large`` additionally loads our node alone to that size and repeats the queries (osmem keeps
everything in memory and is not run at that size).  Bulk bodies are built ahead of each timed stretch (the
client's JSON work is not the server's throughput) and sent by ``--clients`` concurrent connections, as a
bulk loader does; docs/s is wall clock, CPU µs/doc is the server process's user+sys over the same
stretches.  Prints figures, ratios and load averages; asserts nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil

from mini_kernel.testing.search import Osmem, SearchNode, enriched_document, mini_good_index

QUERIES = {
    "term (app_id)": {"size": 10, "query": {"term": {"app_id": "blog"}}},
    "term (event_id)": None,  # filled with a real id
    "range + sort (collector_tstamp)": {"size": 20, "sort": [{"collector_tstamp": "desc"}],
                                        "query": {"range": {"collector_tstamp": {"gte": "2024-05-10", "lt": "2024-05-12"}}}},
    "terms agg (app_id)": {"size": 0, "aggs": {"a": {"terms": {"field": "app_id"}}}},
    "terms agg (contexts leaf)": {"size": 0, "aggs": {"a": {"terms": {"field": "contexts_com_acme_user_1.name.keyword"}}}},
    "date_histogram (day)": {"size": 0, "aggs": {"a": {"date_histogram": {"field": "collector_tstamp", "calendar_interval": "day"}}}},
    "filtered terms agg": {"size": 0, "query": {"bool": {"filter": [{"term": {"platform": "web"}}]}},
                           "aggs": {"a": {"terms": {"field": "event"}, "aggs": {"w": {"avg": {"field": "br_viewwidth"}}}}}},
}
CHUNK = 20_000  # documents built ahead of one timed stretch


class PeakRss:
    """Samples a process's RSS in the background; ``peak`` in MiB."""

    def __init__(self, pid: int):
        self.proc = psutil.Process(pid)
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = sum(p.memory_info().rss for p in [self.proc, *self.proc.children(recursive=True)])
            except psutil.Error:
                return
            self.peak = max(self.peak, rss / 2**20)
            self._stop.wait(0.2)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


class Load:
    """The outcome of loading documents: wall seconds sending, server CPU seconds, documents."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.docs = 0

    @property
    def rate(self) -> float:
        return self.docs / self.wall if self.wall else float("nan")

    @property
    def cpu_us(self) -> float:
        return 1e6 * self.cpu / self.docs if self.docs and self.cpu else float("nan")


def bodies(start: int, stop: int, batch: int, index: str = "good") -> list[bytes]:
    out, lines = [], []
    for doc in docs(stop, start=start):
        lines.append(json.dumps({"index": {"_index": index, "_id": doc["event_id"]}}))
        lines.append(json.dumps(doc))
        if len(lines) >= 2 * batch:
            out.append(("\n".join(lines) + "\n").encode())
            lines = []
    if lines:
        out.append(("\n".join(lines) + "\n").encode())
    return out


def load(make_client, index: str, start: int, stop: int, batch: int, clients: int, pid: int | None,
         progress: bool = False, budget: float = 0.0) -> Load:
    """Send documents ``start``..``stop`` in bulks from ``clients`` connections, CHUNK documents at a time
    (stopping after the chunk that exhausts ``budget`` seconds of loading, when given)."""
    result = Load()
    proc = psutil.Process(pid) if pid else None
    conns = [make_client() for _ in range(clients)]
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for chunk in range(start, stop, CHUNK):
            pending = bodies(chunk, min(stop, chunk + CHUNK), batch, index)
            queue = list(reversed(pending))
            lock = threading.Lock()

            def worker(conn) -> None:
                while True:
                    with lock:
                        if not queue:
                            return
                        body = queue.pop()
                    answer = conn.bulk(body=body)
                    if answer["errors"]:
                        first = next(i for i in answer["items"] if "error" in next(iter(i.values())))
                        raise RuntimeError(f"bulk errors: {first}")
            cpu0 = sum(proc.cpu_times()[:2]) if proc else 0.0
            started = time.perf_counter()
            for future in [pool.submit(worker, c) for c in conns]:
                future.result()
            result.wall += time.perf_counter() - started
            if proc:
                result.cpu += sum(proc.cpu_times()[:2]) - cpu0
            result.docs += min(stop, chunk + CHUNK) - chunk
            if progress:
                print(f"  {min(stop, chunk + CHUNK)} documents: {result.rate:.0f} docs/s, "
                      f"{result.cpu_us:.0f} us/doc ({loadavg()})", flush=True)
            if budget and result.wall >= budget:
                break
    return result


def timed(client, index: str, body: dict, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.search(index=index, body=body)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def run_queries(client, index: str, repeat: int) -> dict[str, float]:
    return {name: timed(client, index, body, repeat) for name, body in QUERIES.items()}


def docs(n: int, seed: int = 7, start: int = 0):
    """Documents ``start``..``n`` of the corpus (each from its own seed, so any stretch can be built alone)."""
    for i in range(start, n):
        yield enriched_document(i, random.Random(seed * 1_000_003 + i))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, finishes in seconds")
    parser.add_argument("--docs", type=int, default=100_000, help="documents loaded into both servers")
    parser.add_argument("--large", type=int, default=0, help="also load our node alone to this many documents")
    parser.add_argument("--batch", type=int, default=500, help="documents per _bulk request")
    parser.add_argument("--clients", type=int, default=2, help="concurrent bulk connections")
    parser.add_argument("--no-fsync", action="store_true", help="run the node with durability.fsync=false")
    parser.add_argument("--no-osmem", action="store_true", help="skip osmem-server (our node's figures only)")
    parser.add_argument("--budget", type=float, default=0.0,
                        help="seconds of loading allowed for --large (0: none); the queries then run at the size reached")
    parser.add_argument("--segment-docs", type=int, default=0,
                        help="the node's search.segment_docs (0: its default); a huge value keeps one segment")
    parser.add_argument("--dir", default=None, help="parent of the node's temporary data dir (default: the system's)")
    args = parser.parse_args()
    n = 300 if args.smoke else args.docs
    repeat = 2 if args.smoke else 5
    sample = next(docs(1))
    QUERIES["term (event_id)"] = {"query": {"term": {"event_id": sample["event_id"]}}}

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        env = {"MINI_DURABILITY_FSYNC": "false"} if args.no_fsync else {}
        if args.segment_docs:
            env["MINI_SEARCH_SEGMENT_DOCS"] = str(args.segment_docs)
        node = SearchNode(Path(tmp), env=env).start()
        try:
            compare_and_grow(node, n, args, repeat)
        finally:
            node.stop()


def loadavg() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def disk_mib(node: SearchNode) -> float:
    return sum(p.stat().st_size for p in (node.process.home / "search").glob("*")) / 2**20


def compare_and_grow(node: SearchNode, n: int, args, repeat: int) -> None:
    """The side-by-side run on ``n`` documents, then (``--large``) our node alone at the larger size."""
    ours = node.client(timeout=600)
    ours.indices.create(index="good", body=mini_good_index())
    pid = node.process.proc.pid
    rss = PeakRss(pid)
    try:
        l_ours = load(lambda: node.client(timeout=600), "good", 0, n, args.batch, args.clients, pid)
        ours.indices.refresh(index="good")
        assert ours.count(index="good")["count"] == n
        q_ours = run_queries(ours, "good", repeat)
        load_ours = loadavg()
        peak_n, disk_n = rss.peak, disk_mib(node)
        q_theirs: dict[str, float] = {}
        l_theirs, osmem_rss = Load(), float("nan")
        if not args.no_osmem:
            osmem = Osmem()
            try:
                theirs = osmem.client(timeout=600)
                theirs.indices.create(index="good", body=mini_good_index())
                l_theirs = load(lambda: osmem.client(timeout=600), "good", 0, n, args.batch, args.clients,
                                osmem.proc.pid)
                theirs.indices.refresh(index="good")
                assert theirs.count(index="good")["count"] == n
                q_theirs = run_queries(theirs, "good", repeat)
                osmem_rss = psutil.Process(osmem.proc.pid).memory_info().rss / 2**20
            finally:
                osmem.stop()
        print(f"search node vs osmem-server, {n} enriched documents, bulk batches of {args.batch} from "
              f"{args.clients} connections{' (fsync off)' if args.no_fsync else ' (fsync per commit)'}")
        print(f"ours: {load_ours}; osmem: {loadavg()}")
        print(f"{'measure':38} {'ours':>12} {'osmem':>12} {'ours/osmem':>11}")

        def row(name: str, a: float, b: float, digits: int = 0) -> None:
            ratio = a / b if b and b == b else float("nan")
            print(f"{name:38} {a:12.{digits}f} {b:12.{digits}f} {ratio:11.2f}")
        row("bulk docs/s", l_ours.rate, l_theirs.rate)
        row("bulk server CPU us/doc", l_ours.cpu_us, l_theirs.cpu_us)
        for name in QUERIES:
            row(name + " ms", q_ours[name], q_theirs.get(name, float("nan")), 1)
        row("memory MiB (ours peak, osmem now)", peak_n, osmem_rss)
        print(f"{'disk MiB (ours)':38} {disk_n:12.0f}", flush=True)
        if args.large and args.large > n and not args.smoke:
            print(f"\nloading our node to {args.large} documents", flush=True)
            l_more = load(lambda: node.client(timeout=600), "good", n, args.large, args.batch, args.clients, pid,
                          progress=True, budget=args.budget)
            ours.indices.refresh(index="good")
            reached = ours.count(index="good")["count"]
            assert reached == n + l_more.docs
            q_large = run_queries(ours, "good", repeat)
            print(f"\nsearch node alone at {reached} documents ({loadavg()})")
            print(f"{'bulk docs/s (the extra documents)':38} {l_more.rate:12.0f}")
            print(f"{'bulk server CPU us/doc':38} {l_more.cpu_us:12.0f}")
            for name, value in q_large.items():
                print(f"{name + ' ms':38} {value:12.1f}")
            print(f"{'memory MiB (peak)':38} {rss.peak:12.0f}")
            print(f"{'memory MiB (now)':38} {psutil.Process(pid).memory_info().rss / 2**20:12.0f}")
            print(f"{'disk MiB':38} {disk_mib(node):12.0f}")
    finally:
        rss.stop()


if __name__ == "__main__":
    main()
