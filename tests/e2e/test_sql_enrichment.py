"""End to end with a real PostgreSQL: enable ``sql_query_enrichment_config`` through enrich's admin API,
send an event with the Python tracker, find the entity the query derived in the enriched event.

broker + iglu + enrich + collector run under the supervisor; the derived entity's schema (com.acme/user)
comes from a mirror directory beside the Iglu Central copy, so the pipeline validates it for real.
"""

from __future__ import annotations

import json
import uuid

import pytest

from mini_kernel.testing.iglu import iglu_central_path
from tests.service.enrich.test_switching import Tail, http
from tests.unit.enrich import support

pytestmark = pytest.mark.slow
SPE = "com.snowplowanalytics.snowplow.enrichments"
USER = "iglu:com.acme/crm_user/jsonschema/1-0-0"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from mini_kernel.testing.stack import MiniStack

    mirror = tmp_path_factory.mktemp("acme-mirror")
    support.write_schema(mirror, "com.acme", "crm_user", "1-0-0", {
        "type": "object", "properties": {"planName": {"type": "string"}, "seats": {"type": "integer"}},
        "required": ["planName", "seats"], "additionalProperties": False})
    env = {"MINI_IGLU_MIRROR_DIRS": f"{iglu_central_path()},{mirror}"}
    mini = MiniStack(tmp_path_factory.mktemp("sql-e2e"), env=env, services=("broker", "iglu", "enrich", "collector")).up()
    try:
        mini.wait_healthy()
        yield mini
    finally:
        mini.down()


def config(postgres_server, table: str) -> dict:
    return {"schema": f"iglu:{SPE}/sql_query_enrichment_config/jsonschema/1-0-1",
            "data": {"vendor": SPE, "name": "sql_query_enrichment_config", "enabled": True, "parameters": {
                "inputs": [{"placeholder": 1, "pojo": {"field": "user_id"}}],
                "database": postgres_server.config(),
                "query": {"sql": f"SELECT plan_name, seats FROM {table} WHERE id = ?"},
                "output": {"expectedRows": "AT_MOST_ONE",
                           "json": {"schema": USER, "describes": "EVERY_ROW", "propertyNames": "CAMEL_CASE"}},
                "cache": {"size": 100, "ttl": 60}, "ignoreOnError": False}}}


def send(stack, url: str, user_id: str) -> None:
    from snowplow_tracker import Emitter, PageView, Subject, Tracker

    tracker = Tracker(namespace="sql", emitters=Emitter(stack.collector_url.removeprefix("http://"), protocol="http",
                                                        method="post", batch_size=1),
                      subject=Subject().set_user_id(user_id), app_id="sql-e2e")
    tracker.track(PageView(page_url=url))
    tracker.flush()


def test_sql_enrichment_enabled_at_runtime_adds_the_row_as_an_entity(stack, postgres_server):
    table = f"e2e_users_{uuid.uuid4().hex[:8]}"
    postgres_server.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, plan_name TEXT, seats INTEGER);"
                            f"INSERT INTO {table} VALUES ('alice', 'pro', 5);"
                            f"GRANT SELECT ON {table} TO {postgres_server.username}")
    admin = stack.url("enrich")
    tail = Tail(stack.env["MINI_NSQD_TCP_ADDRESS"], "EnrichedEvents")
    try:
        code, answer = http("PUT", f"{admin}/enrichments/sql_query_enrichment_config", config(postgres_server, table))
        assert code == 200 and answer["enrichment"]["enabled"] is True, answer
        url = f"https://shop.example.com/sql-{uuid.uuid4().hex}"
        send(stack, url, "alice")
        body = tail.wait(lambda b: url.encode() in b, f"the enriched event of {url}")
        fields = body.decode().split("\t")
        assert len(fields) == 131 and fields[12] == "alice"
        derived = json.loads(fields[122])["data"]
        assert {"schema": USER, "data": {"planName": "pro", "seats": 5}} in derived
    finally:
        tail.close()
        http("DELETE", f"{admin}/enrichments/sql_query_enrichment_config")
