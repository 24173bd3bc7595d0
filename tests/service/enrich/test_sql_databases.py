"""The SQL query enrichment against real PostgreSQL and MariaDB servers (``postgres_server`` /
``mysql_server`` fixtures): row counts and entity shapes as Snowplow's ``expectedRows``/``describes``
define them, column types, placeholders from an atomic field, a context and the self-describing
event, the cache, ``ignoreOnError``, an unreachable or silent database, and a database restart."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading

import pytest

from mini_kernel.testing.processes import wait_for
from services.common.enriched_event import EnrichedEvent
from services.enrich import local
from services.enrich.enrichments.registry import EnrichContext, EnrichmentFailure, EnrichmentSet
from services.enrich.enrichments.sql_query import SqlQuery
from tests.unit.enrich import support
from tests.unit.enrich.enrichments.helpers import SPE, assert_valid, raw, sdj

SCHEMA = f"iglu:{SPE}/sql_query_enrichment_config/jsonschema/1-0-1"
OUT = "iglu:com.acme/user/jsonschema/1-0-0"
ROWS = [("alice", "pro", 5, True, "2021-03-04", "12.50"),
        ("bob", "free", 1, False, "2020-01-31", "0.00"),
        ("bob", "team", 3, True, "2022-12-25", "99.99")]
_names = itertools.count()


@pytest.fixture(params=["postgresql", "mysql"])
def db(request):
    return request.getfixturevalue("postgres_server" if request.param == "postgresql" else "mysql_server")


def make_table(db, rows=ROWS) -> str:
    """A fresh ``users``-like table (a new name per test: the servers are shared by the session)."""
    name = f"users_{next(_names)}"
    values = ", ".join(f"('{i}', '{p}', {s}, {'TRUE' if a else 'FALSE'}, '{j}', {b})" for i, p, s, a, j, b in rows)
    db.execute(f"CREATE TABLE {name} (id VARCHAR(20), plan_name VARCHAR(20), seats INTEGER, active BOOLEAN, "
               f"joined DATE, balance DECIMAL(10,2))")
    if rows:
        db.execute(f"INSERT INTO {name} VALUES {values}")
    if db.kind == "postgresql":
        db.execute(f"GRANT SELECT ON {name} TO {db.username}")
    return name


def params(db, sql, *, database=None, **over):
    base = {"inputs": [{"placeholder": 1, "pojo": {"field": "user_id"}}],
            "database": database or db.config(),
            "query": {"sql": sql},
            "output": {"expectedRows": "AT_LEAST_ZERO",
                       "json": {"schema": OUT, "describes": "EVERY_ROW", "propertyNames": "CAMEL_CASE"}},
            "cache": {"size": 10, "ttl": 60}}
    base.update(over)
    return base


class Runner:
    """One parsed config, enriched event after event like enrich does (one instance, one pool)."""

    def __init__(self, p):
        config = sdj(SCHEMA, p)
        assert_valid(config)  # every config here is valid by Snowplow's own schema
        self.enrichment = SqlQuery()
        self.conf = self.enrichment.parse(config)

    def __call__(self, event=None, ctx=None):
        return asyncio.run(self.enrichment.enrich(event or EnrichedEvent(user_id="bob"),
                                                  ctx or EnrichContext(raw=raw()), self.conf))

    def failure(self, event=None, ctx=None) -> str:
        with pytest.raises(EnrichmentFailure) as caught:
            self(event, ctx)
        return caught.value.messages[0]["error"]

    def close(self):
        asyncio.run(self.enrichment.close())


@pytest.fixture
def runners():
    made = []

    def make(p):
        made.append(Runner(p))
        return made[-1]
    yield make
    for r in made:
        r.close()


def test_every_row_with_column_types(db, runners):
    table = make_table(db)
    run = runners(params(db, f"SELECT plan_name, seats, active, joined, balance FROM {table} WHERE id = ? ORDER BY seats"))
    assert run() == [
        {"schema": OUT, "data": {"planName": "free", "seats": 1, "active": False, "joined": "2020-01-31T00:00:00.000Z",
                                 "balance": 0}},
        {"schema": OUT, "data": {"planName": "team", "seats": 3, "active": True, "joined": "2022-12-25T00:00:00.000Z",
                                 "balance": 99.99}}]


# (expectedRows, rows returned) -> ALL_ROWS outcome, per Snowplow's Output.envelope: None = a failure.
ONE = {"planName": "pro"}
CASES = {
    ("EXACTLY_ONE", 0): None, ("EXACTLY_ONE", 1): [ONE], ("EXACTLY_ONE", 2): None,
    ("AT_MOST_ONE", 0): [], ("AT_MOST_ONE", 1): [ONE], ("AT_MOST_ONE", 2): None,
    ("AT_LEAST_ONE", 0): None, ("AT_LEAST_ONE", 1): [[ONE]], ("AT_LEAST_ONE", 2): [[ONE, {"planName": "team"}]],
    ("AT_LEAST_ZERO", 0): [[]], ("AT_LEAST_ZERO", 1): [[ONE]], ("AT_LEAST_ZERO", 2): [[ONE, {"planName": "team"}]],
}


@pytest.mark.parametrize("expected", ["EXACTLY_ONE", "AT_MOST_ONE", "AT_LEAST_ONE", "AT_LEAST_ZERO"])
def test_expected_rows_and_all_rows_shapes(db, runners, expected):
    table = make_table(db, [("a", "pro", 1, True, "2021-01-01", 1), ("b", "pro", 1, True, "2021-01-01", 1),
                            ("b", "team", 2, True, "2021-01-01", 1)])
    output = {"expectedRows": expected, "json": {"schema": OUT, "describes": "ALL_ROWS", "propertyNames": "CAMEL_CASE"}}
    run = runners(params(db, f"SELECT plan_name FROM {table} WHERE id = ? ORDER BY seats", output=output))
    for user, n in (("nobody", 0), ("a", 1), ("b", 2)):
        want = CASES[(expected, n)]
        if want is None:
            assert "expected" in run.failure(EnrichedEvent(user_id=user)), (expected, n)
        else:
            assert run(EnrichedEvent(user_id=user)) == [{"schema": OUT, "data": d} for d in want], (expected, n)


def test_every_row_checks_the_count_too(db, runners):
    table = make_table(db)
    output = {"expectedRows": "AT_MOST_ONE", "json": {"schema": OUT, "describes": "EVERY_ROW", "propertyNames": "AS_IS"}}
    run = runners(params(db, f"SELECT plan_name FROM {table} WHERE id = ?", output=output))
    assert run(EnrichedEvent(user_id="alice")) == [{"schema": OUT, "data": {"plan_name": "pro"}}]
    assert "at most one row" in run.failure(EnrichedEvent(user_id="bob"))
    assert run(EnrichedEvent(user_id="nobody")) == []


def test_placeholders_from_atomic_field_context_and_self_describing_event(db, runners):
    table = make_table(db)
    inputs = [
        {"placeholder": 1, "pojo": {"field": "user_id"}},
        {"placeholder": 2, "json": {"field": "contexts", "schemaCriterion": "iglu:com.acme/account/jsonschema/1-*-*",
                                    "jsonPath": "$.plan"}},
        {"placeholder": 3, "json": {"field": "unstruct_event", "schemaCriterion": "iglu:com.acme/checkout/jsonschema/1-0-*",
                                    "jsonPath": "$.seats"}},
    ]
    run = runners(params(db, f"SELECT id, plan_name FROM {table} WHERE id = ? AND plan_name = ? AND seats = ?",
                         inputs=inputs, output={"expectedRows": "EXACTLY_ONE", "json": {
                             "schema": OUT, "describes": "ALL_ROWS", "propertyNames": "UPPER_CASE"}}))
    ctx = EnrichContext(raw=raw(), contexts=[{"schema": "iglu:com.acme/account/jsonschema/1-0-0", "data": {"plan": "team"}}],
                        unstruct_event={"schema": "iglu:com.acme/checkout/jsonschema/1-0-2", "data": {"seats": 3}})
    assert run(EnrichedEvent(user_id="bob"), ctx) == [{"schema": OUT, "data": {"ID": "bob", "PLAN_NAME": "team"}}]
    # A placeholder without a value skips the query: no entity, no failure (even with EXACTLY_ONE).
    no_context = EnrichContext(raw=raw(), unstruct_event=ctx.unstruct_event)
    assert run(EnrichedEvent(user_id="bob"), no_context) == []


def test_several_inputs_for_one_placeholder_the_last_with_a_value_wins(db, runners):
    table = make_table(db)
    inputs = [{"placeholder": 1, "pojo": {"field": "user_id"}},
              {"placeholder": 1, "json": {"field": "contexts", "schemaCriterion": "iglu:com.acme/account/jsonschema/1-*-*",
                                          "jsonPath": "$.owner"}}]
    output = {"expectedRows": "AT_LEAST_ZERO", "json": {"schema": OUT, "describes": "EVERY_ROW", "propertyNames": "AS_IS"}}
    run = runners(params(db, f"SELECT plan_name FROM {table} WHERE id = ? ORDER BY seats", inputs=inputs, output=output))
    owner = EnrichContext(raw=raw(), contexts=[{"schema": "iglu:com.acme/account/jsonschema/1-0-0", "data": {"owner": "alice"}}])
    assert run(EnrichedEvent(user_id="bob"), owner) == [{"schema": OUT, "data": {"plan_name": "pro"}}]
    assert [c["data"]["plan_name"] for c in run(EnrichedEvent(user_id="bob"))] == ["free", "team"]


def test_literals_and_percent_signs_are_not_placeholders(db, runners):
    table = make_table(db)
    output = {"expectedRows": "EXACTLY_ONE", "json": {"schema": OUT, "describes": "EVERY_ROW", "propertyNames": "AS_IS"}}
    run = runners(params(db, f"SELECT '?' AS q, plan_name FROM {table} WHERE id = ? AND plan_name LIKE 'p%'",
                         output=output))
    assert run(EnrichedEvent(user_id="alice")) == [{"schema": OUT, "data": {"q": "?", "plan_name": "pro"}}]


def test_cache_answers_until_ttl(db, runners):
    table = make_table(db)
    output = {"expectedRows": "EXACTLY_ONE", "json": {"schema": OUT, "describes": "EVERY_ROW", "propertyNames": "AS_IS"}}
    cached = runners(params(db, f"SELECT plan_name FROM {table} WHERE id = ?", output=output, cache={"size": 10, "ttl": 1}))
    uncached = runners(params(db, f"SELECT plan_name FROM {table} WHERE id = ?", output=output, cache={"size": 0, "ttl": 60}))
    alice = EnrichedEvent(user_id="alice")
    assert cached(alice)[0]["data"] == {"plan_name": "pro"}
    db.execute(f"UPDATE {table} SET plan_name = 'gold' WHERE id = 'alice'")
    assert uncached(alice)[0]["data"] == {"plan_name": "gold"}  # the database has the new value...
    assert cached(alice)[0]["data"] == {"plan_name": "pro"}  # ...the cache answers without asking it
    # Once the entry is older than ttl (1 s) the query runs again.
    wait_for(lambda: cached(alice)[0]["data"] == {"plan_name": "gold"}, timeout=60, interval=0.2,
             what="the cached row to expire")


def test_ignore_on_error(db, runners):
    table = make_table(db)
    output = {"expectedRows": "EXACTLY_ONE", "json": {"schema": OUT, "describes": "EVERY_ROW", "propertyNames": "AS_IS"}}
    sql = f"SELECT plan_name FROM {table} WHERE id = ?"
    assert runners(params(db, sql, output=output, ignoreOnError=True))() == []  # bob has two rows
    assert "exactly one row" in runners(params(db, sql, output=output, ignoreOnError=False)).failure()
    gone = db.config(port=closed_port())
    assert runners(params(db, sql, database=gone, output=output, ignoreOnError=True))() == []


def test_a_bad_query_is_a_failure_and_the_next_query_works(db, runners):
    table = make_table(db)
    run = runners(params(db, f"SELECT no_such_column FROM {table} WHERE id = ?"))
    assert f"query failed on {'PostgreSQL' if db.kind == 'postgresql' else 'MySQL'} at 127.0.0.1:{db.port}" in run.failure()
    good = runners(params(db, f"SELECT plan_name FROM {table} WHERE id = ? ORDER BY seats"))
    assert len(good()) == 2


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_database_is_an_enrichment_failures_bad_row(db, iglu_central_dir):
    port = closed_port()
    config = sdj(SCHEMA, params(db, "SELECT plan_name FROM users WHERE id = ?", database=db.config(port=port)))
    enrichments, errors = EnrichmentSet.from_configs([config])
    assert errors == []
    iglu = support.client(iglu_central_dir)
    try:
        outcome = local.run_sync(querystring="e=pv&p=web&tv=js-4.6.8&uid=bob", pipeline=support.pipeline(iglu, enrichments))
    finally:
        asyncio.run(enrichments.entries[0].enrichment.close())
    assert outcome.events == {"enrichment_failures": 1}
    row = json.loads(outcome.bad[0])
    assert row["schema"].startswith("iglu:com.snowplowanalytics.snowplow.badrows/enrichment_failures/jsonschema/")
    support.assert_valid_bad_row(iglu, row)
    [message] = row["data"]["failure"]["messages"]
    assert message["enrichment"] == {"schemaKey": SCHEMA, "identifier": "sql_query_enrichment_config"}
    assert f"cannot connect to {'PostgreSQL' if db.kind == 'postgresql' else 'MySQL'} at 127.0.0.1:{port}/crm" \
        in message["message"]["error"]


def test_a_database_that_never_answers_fails_in_bounded_time_without_blocking_the_loop(db, runners):
    """A listener that accepts and stays silent: the driver's timeouts end the wait (psycopg's connect
    timeout, 5 s; PyMySQL reads the greeting with its read timeout, 10 s), while the event loop keeps
    running other work."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        accepted = []
        stop = threading.Event()

        def accept():
            silent.settimeout(0.2)
            while not stop.is_set():
                try:
                    accepted.append(silent.accept()[0])
                except OSError:
                    continue
        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        run = runners(params(db, "SELECT 1 FROM users WHERE id = ?", database=db.config(port=port)))

        async def both():
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.05)
                    ticks += 1
            task = asyncio.ensure_future(ticker())
            try:
                with pytest.raises(EnrichmentFailure) as caught:
                    await run.enrichment.enrich(EnrichedEvent(user_id="bob"), EnrichContext(raw=raw()), run.conf)
            finally:
                task.cancel()
            return caught.value.messages[0]["error"], ticks
        try:
            error, ticks = asyncio.run(both())
        finally:
            stop.set()
            thread.join(10)
            for conn in accepted:
                conn.close()
    assert f"cannot connect to" in error and f"127.0.0.1:{port}" in error
    assert ticks > 0  # the loop was free while the worker thread waited


def test_reconnects_after_the_database_restarts(db, runners):
    table = make_table(db)
    output = {"expectedRows": "AT_LEAST_ONE", "json": {"schema": OUT, "describes": "EVERY_ROW", "propertyNames": "AS_IS"}}
    sql = f"SELECT plan_name FROM {table} WHERE id = ? ORDER BY seats"
    run = runners(params(db, sql, output=output, cache={"size": 0, "ttl": 0}))
    assert len(run()) == 2
    # Restarted between two events: the pooled connection is dead; the next event still gets its rows.
    db.stop()
    db.start()
    assert len(run()) == 2
    # Down: each event is a failure naming the server; back up: events are enriched again.
    db.stop()
    try:
        assert f"127.0.0.1:{db.port}" in run.failure()
    finally:
        db.start()
    assert len(run()) == 2


def test_missing_server_programs_name_the_debian_package(monkeypatch):
    from mini_kernel.testing import databases
    monkeypatch.setattr(databases.shutil, "which", lambda name: None)
    monkeypatch.setattr(databases.glob, "glob", lambda pattern: [])
    assert "'postgresql'" in databases.missing_reason(databases.PostgresServer)
    assert "'mariadb-server'" in databases.missing_reason(databases.MysqlServer)
