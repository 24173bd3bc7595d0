"""kill -9 durability: every document acknowledged by _bulk is there after a restart (DESIGN §6)."""

import random
import threading

import pytest
from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConnectionError as OSConnectionError, ConnectionTimeout

from mini_kernel.testing.search import SearchNode, enriched_document, mini_good_index


@pytest.mark.parametrize("fsync", ["true", "false"])
def test_acknowledged_documents_survive_kill9(mini_home, fsync):
    node = SearchNode(mini_home, env={"MINI_DURABILITY_FSYNC": fsync}).start()
    try:
        client = node.client()
        client.indices.create(index="good", body=mini_good_index())
        rng = random.Random(3)
        docs = [enriched_document(i, rng) for i in range(600)]
        helpers.bulk(client, ({"_index": "good", "_id": d["event_id"], "_source": d} for d in docs[:200]), refresh=True)
        acknowledged = {d["event_id"] for d in docs[:200]}
        assert client.count(index="good")["count"] == 200  # visible when _bulk returned

        # keep writing from another client while the process is killed
        stop = threading.Event()

        def writer():
            c = OpenSearch(hosts=[{"host": "127.0.0.1", "port": node.port}], timeout=10, max_retries=0)
            for start in range(200, 600, 50):
                if stop.is_set():
                    return
                batch = docs[start:start + 50]
                try:
                    result = c.bulk(body=[x for d in batch for x in ({"index": {"_index": "good", "_id": d["event_id"]}}, d)])
                except (OSConnectionError, ConnectionTimeout):
                    return
                assert not result["errors"]
                acknowledged.update(d["event_id"] for d in batch)
        thread = threading.Thread(target=writer)
        thread.start()
        while len(acknowledged) < 300 and thread.is_alive():
            thread.join(0.01)
        node.kill9()
        stop.set()
        thread.join(30)

        node.start()
        client = node.client()
        found = {h["_id"] for h in helpers.scan(client, index="good", query={"query": {"match_all": {}}}, _source=False)}
        assert acknowledged <= found
        mapping = client.indices.get_mapping(index="good")["good"]["mappings"]["properties"]
        assert mapping["collector_tstamp"] == {"type": "date", "format": "date_optional_time"}
        assert "contexts_com_acme_user_1" in mapping  # dynamic fields persisted with the documents
        one = next(iter(acknowledged))
        assert client.search(index="good", body={"query": {"term": {"event_id": one}}})["hits"]["total"]["value"] == 1
    finally:
        node.stop()
