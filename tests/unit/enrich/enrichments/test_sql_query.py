import asyncio
import sqlite3

import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.registry import EnrichContext, EnrichmentFailure
from services.enrich.enrichments.sql_query import SqliteQuery, SqlQuery

from .helpers import SPE, errors_of, parse_errors, raw, run, sdj

SNOWPLOW = f"iglu:{SPE}/sql_query_enrichment_config/jsonschema/1-0-1"
SQLITE = "iglu:io.minilab.enrichments/sqlite_query_enrichment_config/jsonschema/1-0-0"
OUT = "iglu:com.acme/user/jsonschema/1-0-0"


@pytest.fixture
def crm(tmp_path):
    db = sqlite3.connect(tmp_path / "crm.sqlite")
    db.executescript("CREATE TABLE users (id TEXT, plan_name TEXT, seats INTEGER);"
                     "INSERT INTO users VALUES ('alice', 'pro', 5), ('bob', 'free', 1), ('bob', 'team', 3);")
    db.commit()
    db.close()
    return tmp_path


def params(root, **over):
    base = {"inputs": [{"placeholder": 1, "pojo": {"field": "user_id"}}],
            "database": {"sqlite": {"uri": f"file://{root}", "database": "crm.sqlite"}},
            "query": {"sql": "SELECT plan_name, seats FROM users WHERE id = ? ORDER BY seats"},
            "output": {"expectedRows": "AT_LEAST_ZERO",
                       "json": {"schema": OUT, "describes": "EVERY_ROW", "propertyNames": "CAMEL_CASE"}},
            "cache": {"size": 10, "ttl": 60}}
    base.update(over)
    return base


def test_every_row_camel_case(crm):
    out, _, _ = run(SqliteQuery, sdj(SQLITE, params(crm)), EnrichedEvent(user_id="bob"))
    assert out == [{"schema": OUT, "data": {"planName": "free", "seats": 1}},
                   {"schema": OUT, "data": {"planName": "team", "seats": 3}}]


def test_all_rows_in_one_entity(crm):
    p = params(crm, output={"expectedRows": "AT_LEAST_ONE", "json": {"schema": OUT, "describes": "ALL_ROWS",
                                                                      "propertyNames": "UPPER_CASE"}})
    out, _, _ = run(SqliteQuery, sdj(SQLITE, p), EnrichedEvent(user_id="bob"))
    assert out == [{"schema": OUT, "data": [{"PLAN_NAME": "free", "SEATS": 1}, {"PLAN_NAME": "team", "SEATS": 3}]}]


def test_expected_rows_violated_is_a_failure_unless_ignored(crm):
    p = params(crm, output={"expectedRows": "EXACTLY_ONE", "json": {"schema": OUT, "describes": "EVERY_ROW",
                                                                     "propertyNames": "AS_IS"}})
    with pytest.raises(EnrichmentFailure):
        run(SqliteQuery, sdj(SQLITE, p), EnrichedEvent(user_id="bob"))
    assert run(SqliteQuery, sdj(SQLITE, dict(p, ignoreOnError=True)), EnrichedEvent(user_id="bob"))[0] == []


def test_missing_input_skips_the_query(crm):
    assert run(SqliteQuery, sdj(SQLITE, params(crm)), EnrichedEvent())[0] == []


def test_json_input_and_cache(crm):
    p = params(crm, inputs=[{"placeholder": 1, "json": {"field": "contexts", "schemaCriterion": "iglu:com.acme/account/jsonschema/1-*-*",
                                                        "jsonPath": "$.owner"}}])
    c = EnrichContext(raw=raw(), contexts=[{"schema": "iglu:com.acme/account/jsonschema/1-0-0", "data": {"owner": "alice"}}])
    enrichment = SqliteQuery()
    conf = enrichment.parse(sdj(SQLITE, p))
    out = asyncio.run(enrichment.enrich(EnrichedEvent(), c, conf))
    assert out == [{"schema": OUT, "data": {"planName": "pro", "seats": 5}}]
    (crm / "crm.sqlite").unlink()  # a cached answer needs no database
    assert asyncio.run(enrichment.enrich(EnrichedEvent(), c, conf)) == out


def test_project_schema_and_snowplow_schema_configs_valid(crm):
    assert errors_of(sdj(SQLITE, params(crm))) == []
    pg = params(crm, database={"postgresql": {"host": "127.0.0.1", "port": 5432, "sslMode": False, "username": "u",
                                              "password": "", "database": "crm"}})
    assert errors_of(sdj(SNOWPLOW, pg)) == []


def test_server_database_without_driver_names_it(crm):
    pg = params(crm, database={"postgresql": {"host": "127.0.0.1", "port": 5432, "sslMode": False, "username": "u",
                                              "password": "", "database": "crm"}})
    try:
        import psycopg  # noqa: F401
    except ImportError:
        assert any("psycopg" in e for e in parse_errors(SqlQuery, sdj(SNOWPLOW, pg)))


@pytest.mark.parametrize("change", [
    {"query": {}}, {"cache": {"size": -1, "ttl": 1}},
    {"output": {"json": {"schema": OUT, "describes": "SOME_ROWS", "propertyNames": "AS_IS"}}},
    {"inputs": [{"placeholder": 0, "pojo": {"field": "user_id"}}]}])
def test_invalid_configs(crm, change):
    config = sdj(SQLITE, params(crm, **change))
    assert errors_of(config)
    assert parse_errors(SqliteQuery, config)


def test_placeholders_must_match_inputs(crm):
    p = params(crm, query={"sql": "SELECT 1 FROM users WHERE id = ? AND plan_name = ?"})
    assert parse_errors(SqliteQuery, sdj(SQLITE, p))


def test_missing_database_file_named(tmp_path):
    assert any("crm.sqlite" in e for e in parse_errors(SqliteQuery, sdj(SQLITE, params(tmp_path))))
