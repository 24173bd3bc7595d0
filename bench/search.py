"""Benchmark the search node beside osmem-server: bulk indexing, term, range+sort, aggregations, memory.

    .venv/bin/python -m bench.search [--smoke] [--docs 100000] [--large 1000000]

Both servers get the same realistic enriched documents (Mini's ``good`` mapping) in the same run;
``--large`` additionally loads our node alone to that size and repeats the queries (osmem keeps
everything in memory and is not run at that size).  Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
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


def load(client, index: str, docs_iter, total: int, batch: int) -> float:
    started = time.perf_counter()
    sent = 0
    lines: list[str] = []
    for doc in docs_iter:
        lines.append(json.dumps({"index": {"_index": index, "_id": doc["event_id"]}}))
        lines.append(json.dumps(doc))
        sent += 1
        if len(lines) >= 2 * batch or sent == total:
            result = client.bulk(body="\n".join(lines) + "\n")
            if result["errors"]:
                first = next(i for i in result["items"] if "error" in next(iter(i.values())))
                raise RuntimeError(f"bulk errors: {first}")
            lines = []
    return time.perf_counter() - started


def timed(client, index: str, body: dict, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.search(index=index, body=body)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def run_queries(client, index: str, repeat: int) -> dict[str, float]:
    return {name: timed(client, index, body, repeat) for name, body in QUERIES.items()}


def docs(n: int, seed: int = 7):
    rng = random.Random(seed)
    for i in range(n):
        yield enriched_document(i, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, finishes in seconds")
    parser.add_argument("--docs", type=int, default=100_000, help="documents loaded into both servers")
    parser.add_argument("--large", type=int, default=0, help="also load our node alone to this many documents")
    parser.add_argument("--batch", type=int, default=500, help="documents per _bulk request")
    parser.add_argument("--no-fsync", action="store_true", help="run the node with durability.fsync=false")
    args = parser.parse_args()
    n = 300 if args.smoke else args.docs
    repeat = 2 if args.smoke else 5
    sample = next(docs(1))
    QUERIES["term (event_id)"] = {"query": {"term": {"event_id": sample["event_id"]}}}

    with tempfile.TemporaryDirectory() as tmp:
        env = {"MINI_DURABILITY_FSYNC": "false"} if args.no_fsync else {}
        node = SearchNode(Path(tmp), env=env).start()
        try:
            compare_and_grow(node, n, args, repeat)
        finally:
            node.stop()


def compare_and_grow(node: SearchNode, n: int, args, repeat: int) -> None:
    """The side-by-side run on ``n`` documents, then (``--large``) our node alone at the larger size."""
    ours = node.client(timeout=600)
    ours.indices.create(index="good", body=mini_good_index())
    rss = PeakRss(node.process.proc.pid)
    try:
        osmem = Osmem()
        try:
            theirs = osmem.client(timeout=600)
            theirs.indices.create(index="good", body=mini_good_index())
            t_ours = load(ours, "good", docs(n), n, args.batch)
            t_theirs = load(theirs, "good", docs(n), n, args.batch)
            ours.indices.refresh(index="good")
            theirs.indices.refresh(index="good")
            assert ours.count(index="good")["count"] == n == theirs.count(index="good")["count"]
            q_ours = run_queries(ours, "good", repeat)
            q_theirs = run_queries(theirs, "good", repeat)
            osmem_rss = psutil.Process(osmem.proc.pid).memory_info().rss / 2**20
        finally:
            osmem.stop()
        print(f"search node vs osmem-server, {n} enriched documents, bulk batches of {args.batch}"
              f"{' (fsync off)' if args.no_fsync else ' (fsync per bulk)'}")
        print(f"{'measure':38} {'ours':>12} {'osmem':>12} {'ours/osmem':>11}")
        print(f"{'bulk docs/s':38} {n / t_ours:12.0f} {n / t_theirs:12.0f} {(n / t_ours) / (n / t_theirs):11.2f}")
        for name in QUERIES:
            a, b = q_ours[name], q_theirs[name]
            print(f"{name + ' ms':38} {a:12.1f} {b:12.1f} {a / b if b else float('nan'):11.2f}")
        print(f"{'memory MiB (ours peak, osmem now)':38} {rss.peak:12.0f} {osmem_rss:12.0f} {rss.peak / osmem_rss:11.2f}")
        if args.large and args.large > n and not args.smoke:
            t_more = load(ours, "good", (d for i, d in enumerate(docs(args.large)) if i >= n), args.large - n, args.batch)
            q_large = run_queries(ours, "good", repeat)
            print(f"\nsearch node alone at {args.large} documents")
            print(f"{'bulk docs/s (the extra documents)':38} {(args.large - n) / t_more:12.0f}")
            for name, value in q_large.items():
                print(f"{name + ' ms':38} {value:12.1f}")
            print(f"{'memory MiB (peak)':38} {rss.peak:12.0f}")
            disk = sum(p.stat().st_size for p in (node.process.home / "search").glob("*"))
            print(f"{'disk MiB':38} {disk / 2**20:12.0f}")
    finally:
        rss.stop()


if __name__ == "__main__":
    main()
