"""End-to-end latency and throughput: tracker request → collector → enrich → sink → searchable in ``good``.

1. Paced latency: one event per tp2 POST at 100 ev/s for 60 s; each event's id is polled for in ``good``
   (an ``ids`` query every 20 ms for all pending ids); p50/p99 of send → first seen.  Baseline, same
   run: one document ``_bulk``-indexed straight into the same search node → first seen.
2. Throughput: the highest rate (tp2 POSTs of 10 events) the stack holds for 2 minutes with zero loss
   (the rate achieved, every event searchable within 5 s (or 5 % of the run) of the last send, so the
   lag did not build up; sink ledgers balanced, nothing rejected).
``--smoke``: a few seconds of each.  Prints figures; never asserts times.
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from opensearchpy import OpenSearch

from mini_kernel.testing.iglu import iglu_central_path
from mini_kernel.testing.stack import MiniStack

TP2 = "/com.snowplowanalytics.snowplow/tp2"
PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
POLL_S = 0.02
SENDERS = 32  # concurrent keep-alive connections, like many browsers


def event(eid: str, app_id: str, now_ms: int) -> dict[str, str]:
    return {"e": "pv", "eid": eid, "aid": app_id, "p": "web", "tv": "bench-0", "tna": "bench",
            "url": "https://www.example.com/bench?x=1", "page": "Bench", "dtm": str(now_ms), "stm": str(now_ms)}


class Sender:
    """Keep-alive HTTP connection to the collector, POSTing tp2 bodies."""

    def __init__(self, host: str, port: int):
        self.conn = http.client.HTTPConnection(host, port, timeout=30)

    def send(self, events: list[dict[str, str]]) -> int:
        body = json.dumps({"schema": PAYLOAD_DATA, "data": events}).encode()
        self.conn.request("POST", TP2, body=body, headers={"Content-Type": "application/json; charset=UTF-8"})
        response = self.conn.getresponse()
        response.read()
        return response.status


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def paced(stack: MiniStack, es: OpenSearch, rate: float, seconds: float) -> dict[str, float]:
    """Send ``rate`` ev/s for ``seconds``; poll ``good`` for each id; latency figures in ms."""
    host, port = "127.0.0.1", int(stack.service("collector")["port"])
    app_id = f"paced-{uuid.uuid4().hex[:8]}"
    sent: dict[str, float] = {}
    wall: dict[str, float] = {}
    seen: dict[str, float] = {}
    lock = threading.Lock()
    done = threading.Event()

    def poll() -> None:
        while True:
            with lock:
                pending = [i for i in sent if i not in seen]
            if not pending:
                if done.is_set():
                    return
                time.sleep(0.002)
                continue
            result = es.search(index="good", body={"query": {"ids": {"values": pending}}, "_source": False,
                                                   "size": len(pending)})
            now = time.monotonic()
            with lock:
                for hit in result["hits"]["hits"]:
                    seen.setdefault(hit["_id"], now)
            if done.is_set() and time.monotonic() > done_at[0] + 30:
                return
            # Every poll is a search on the node under test: polling harder would steal the CPU the
            # pipeline needs (2 cores).  Resolution: latencies are upper bounds, ≤ POLL_S + one query late.
            time.sleep(POLL_S)

    done_at = [0.0]
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    # A pool of keep-alive connections, so one slow response never delays the next event's send time.
    jobs: queue.Queue = queue.Queue()

    def send_loop() -> None:
        sender = Sender(host, port)
        while (job := jobs.get()) is not None:
            eid, due = job
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with lock:
                sent[eid] = time.monotonic()
                wall[eid] = time.time()
            sender.send([event(eid, app_id, int(time.time() * 1000))])

    workers = [threading.Thread(target=send_loop, daemon=True) for _ in range(SENDERS)]
    for w in workers:
        w.start()
    total = int(rate * seconds)
    start = time.monotonic()
    for n in range(total):
        due = start + n / rate
        # Hand each event to a worker a little before it is due; the worker sends it on time.
        delay = due - 0.005 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        jobs.put((str(uuid.uuid4()), due))
    for _ in workers:
        jobs.put(None)
    for w in workers:
        w.join()
    done_at[0] = time.monotonic()
    done.set()
    poller.join(60)
    latencies = [(seen[i] - sent[i]) * 1000 for i in sent if i in seen]
    sample = list(seen)[:: max(1, len(seen) // 300)]  # spread over the whole run
    stages = breakdown(es, {i: (wall[i], wall[i] + seen[i] - sent[i]) for i in sample})
    return {**stages, "sent": len(sent), "found": len(latencies), "achieved_rate": len(sent) / (done_at[0] - start),
            "p50_ms": percentile(latencies, 0.5) if latencies else float("nan"),
            "p99_ms": percentile(latencies, 0.99) if latencies else float("nan"),
            "max_ms": max(latencies) if latencies else float("nan"),
            "mean_ms": statistics.fmean(latencies) if latencies else float("nan")}


def breakdown(es: OpenSearch, times: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Median time per stage, from the documents' own collector_tstamp and etl_tstamp (wall clock, ms)."""
    if not times:
        return {}
    docs = es.search(index="good", body={"query": {"ids": {"values": list(times)}}, "size": len(times),
                                         "_source": ["collector_tstamp", "etl_tstamp"]})["hits"]["hits"]
    parts: dict[str, list[float]] = {"to_collector_ms": [], "collector_to_enrich_ms": [], "enrich_to_seen_ms": []}
    for hit in docs:
        sent_at, seen_at = times[hit["_id"]]
        collector = _epoch(hit["_source"]["collector_tstamp"])
        etl = _epoch(hit["_source"]["etl_tstamp"])
        parts["to_collector_ms"].append((collector - sent_at) * 1000)
        parts["collector_to_enrich_ms"].append((etl - collector) * 1000)
        parts["enrich_to_seen_ms"].append((seen_at - etl) * 1000)
    return {k: statistics.median(v) for k, v in parts.items() if v}


def _epoch(instant: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp()


def baseline(es: OpenSearch, n: int) -> dict[str, float]:
    """A document bulk-indexed straight into the search node → seen by an ids query (ms)."""
    latencies = []
    for _ in range(n):
        doc_id = str(uuid.uuid4())
        start = time.monotonic()
        es.bulk(body=json.dumps({"index": {"_index": "bench-baseline", "_id": doc_id}}) + "\n{\"x\":1}\n",
                refresh="wait_for")
        while not es.search(index="bench-baseline", body={"query": {"ids": {"values": [doc_id]}}})["hits"]["hits"]:
            time.sleep(0.002)
        latencies.append((time.monotonic() - start) * 1000)
    es.indices.delete(index="bench-baseline")
    return {"p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99)}


def count_app(es: OpenSearch, app_id: str) -> int:
    es.indices.refresh(index="good")
    return es.count(index="good", body={"query": {"term": {"app_id": app_id}}})["count"]


def sustained(stack: MiniStack, es: OpenSearch, rate: float, seconds: float, batch: int = 10,
              drain_s: float = 20.0) -> dict[str, float]:
    """Send ``rate`` ev/s in tp2 batches for ``seconds``; did every event arrive within ``drain_s``?"""
    port = int(stack.service("collector")["port"])
    app_id = f"rate-{int(rate)}-{uuid.uuid4().hex[:8]}"
    senders = 4
    per_sender = rate / senders
    errors: list[int] = []
    sent = [0] * senders
    start = time.monotonic()

    def run(k: int) -> None:
        sender = Sender("127.0.0.1", port)
        requests = int(per_sender * seconds / batch)
        for n in range(requests):
            due = start + n * batch / per_sender
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now_ms = int(time.time() * 1000)
            status = sender.send([event(str(uuid.uuid4()), app_id, now_ms) for _ in range(batch)])
            if status != 200:
                errors.append(status)
            sent[k] += batch

    threads = [threading.Thread(target=run, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    send_time = time.monotonic() - start
    total = sum(sent)
    at_end = count_app(es, app_id)
    deadline = time.monotonic() + drain_s
    found = at_end
    while found < total and time.monotonic() < deadline:
        time.sleep(0.25)
        found = count_app(es, app_id)
    drained_in = time.monotonic() - start - send_time
    return {"rate": rate, "sent": total, "found": found, "backlog_at_end": total - at_end,
            "achieved_rate": total / send_time, "drain_s": drained_in, "http_errors": len(errors),
            "held": (found == total and not errors and total / send_time >= 0.95 * rate
                     and drained_in <= max(5.0, 0.05 * seconds))}


def ledgers(stack: MiniStack) -> dict[str, dict]:
    services = stack.status()["services"]
    return {name: services[name]["counters"] for name in ("sink-good", "sink-bad")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds of each phase")
    parser.add_argument("--rate", type=float, default=100.0, help="paced rate in events/s (default 100)")
    parser.add_argument("--seconds", type=float, default=60.0, help="paced duration (default 60)")
    parser.add_argument("--env", action="append", default=[], metavar="MINI_KEY=VALUE",
                        help="a setting for the stack under test (repeatable), e.g. MINI_SINK_CONCURRENCY=4")
    parser.add_argument("--latency-only", action="store_true", help="skip the throughput phase")
    parser.add_argument("--hold-seconds", type=float, default=120.0, help="throughput trial length (default 120)")
    args = parser.parse_args(argv)
    paced_rate, paced_s = (20.0, 3.0) if args.smoke else (args.rate, args.seconds)
    hold_s = 3.0 if args.smoke else args.hold_seconds

    env = dict(item.split("=", 1) for item in args.env)
    central = iglu_central_path()
    if central.exists():  # payload_data and the standard schemas, offline (tests and benches only)
        env["MINI_IGLU_MIRROR_DIRS"] = str(central)
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        stack = MiniStack(Path(tmp) / "home", env=env).up()
        try:
            search = stack.service("search")
            es = OpenSearch(hosts=[f"http://127.0.0.1:{search['port']}"], timeout=60)
            base = baseline(es, 5 if args.smoke else 50)
            print(f"baseline: _bulk one document → searchable: p50 {base['p50_ms']:.1f} ms, p99 {base['p99_ms']:.1f} ms")
            lat = paced(stack, es, paced_rate, paced_s)
            print(f"paced {paced_rate:g} ev/s for {paced_s:g} s: sent {lat['sent']}, found {lat['found']} "
                  f"(achieved {lat['achieved_rate']:.1f} ev/s)")
            print(f"  send → searchable in good: p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, "
                  f"max {lat['max_ms']:.1f} ms, mean {lat['mean_ms']:.1f} ms (targets p50 ≤ 100, p99 ≤ 500)")
            if "enrich_to_seen_ms" in lat:
                print(f"  median per stage: tracker → collector {lat['to_collector_ms']:.1f} ms, collector → enrich "
                      f"start {lat['collector_to_enrich_ms']:.1f} ms, enrich start → seen in good "
                      f"{lat['enrich_to_seen_ms']:.1f} ms (enrich, EnrichedEvents, sink, _bulk, poll)")
            batch = stack.status()["services"]["sink-good"].get("details", {}).get("last_batch") or {}
            if batch:
                print(f"  sink-good batches (moving average): wait {batch['avg_batch_wait_ms']:.1f} ms, _bulk "
                      f"{batch['avg_bulk_ms']:.1f} ms, {batch['avg_batch_docs']:.1f} documents")
            print(f"  ratio to baseline: p50 ×{lat['p50_ms'] / base['p50_ms']:.1f}, "
                  f"p99 ×{lat['p99_ms'] / base['p99_ms']:.1f}")

            if args.latency_only:
                return 0
            # Throughput: probe upwards with short trials (downwards if the first fails), then confirm the
            # best rate for the full hold time, stepping down until one holds.
            probe_s = 3.0 if args.smoke else 20.0
            rate, best, step_up = (200.0 if args.smoke else 100.0), 0.0, True
            for _ in range(1 if args.smoke else 8):
                trial = sustained(stack, es, rate, probe_s, drain_s=10.0)
                ok = trial["held"] and trial["drain_s"] <= 5.0  # kept up: the lag did not build
                print(f"probe {rate:g} ev/s × {probe_s:g} s: achieved {trial['achieved_rate']:.0f} ev/s, "
                      f"backlog at end {trial['backlog_at_end']}, drained in {trial['drain_s']:.1f} s, "
                      f"{'held' if ok else 'NOT held'}")
                if ok:
                    best = rate
                    if not step_up:
                        break
                    rate = rate * 1.5
                else:
                    if best:
                        break
                    step_up = False
                    rate = round(rate * 0.6)
            held = None
            candidate = best
            while candidate >= 5 and held is None:
                trial = sustained(stack, es, candidate, hold_s, drain_s=30.0)
                print(f"hold {candidate:g} ev/s × {hold_s:g} s: sent {trial['sent']}, found {trial['found']}, "
                      f"backlog at end {trial['backlog_at_end']}, drained in {trial['drain_s']:.1f} s, "
                      f"achieved {trial['achieved_rate']:.0f} ev/s, {'held' if trial['held'] else 'NOT held'}")
                if trial["held"]:
                    held = candidate
                else:
                    candidate = round(candidate * 0.8)
            counters = ledgers(stack)
            balanced = all(c["received"] == c["indexed"] + c["rejected"] for c in counters.values())
            rejected = sum(c["rejected"] for c in counters.values())
            print(f"highest rate held for {hold_s:g} s with zero loss: {held or 0:g} ev/s "
                  f"(×{(held or 0) / paced_rate:.1f} the paced rate); sink ledgers balanced: {balanced}, "
                  f"rejected: {rejected}")
        finally:
            stack.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
