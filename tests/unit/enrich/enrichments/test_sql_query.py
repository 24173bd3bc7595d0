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


@pytest.mark.parametrize("style, name, want", [
    # Snowplow's JsonOutput rules, exactly (they only touch "_x" and capitals/digits).
    ("CAMEL_CASE", "plan_name", "planName"), ("CAMEL_CASE", "PLAN_NAME", "PLAN_NAME"), ("CAMEL_CASE", "a_1", "a1"),
    ("PASCAL_CASE", "plan_name", "PlanName"), ("SNAKE_CASE", "planName", "plan_name"),
    ("SNAKE_CASE", "col1", "col_1"), ("LOWER_CASE", "PlanName", "planname"), ("UPPER_CASE", "plan", "PLAN"),
    ("AS_IS", "Plan_Name", "Plan_Name")])
def test_property_name_styles(style, name, want):
    from services.enrich.enrichments.sql_query import rename
    assert rename(style)(name) == want


def test_column_values_as_json():
    import datetime as dt
    from decimal import Decimal
    from services.enrich.enrichments.sql_connections import json_value
    utc = dt.timezone.utc
    assert json_value(Decimal("12.50")) == 12.5 and json_value(Decimal("7")) == 7
    assert json_value(dt.date(2021, 3, 4)) == "2021-03-04T00:00:00.000Z"
    assert json_value(dt.datetime(2021, 3, 4, 5, 6, 7)) == "2021-03-04 05:06:07.0"
    assert json_value(dt.datetime(2021, 3, 4, 5, 6, 7, 120000, tzinfo=utc)) == "2021-03-04 05:06:07.12"
    assert json_value({"a": [1]}) == {"a": [1]} and json_value(float("nan")) is None
    assert json_value(b"bytes") == "bytes" and json_value(True) is True


@pytest.mark.parametrize("sql, dialect, count, formatted", [
    ("SELECT a FROM t WHERE x = ? AND y = ?", "postgresql", 2, "SELECT a FROM t WHERE x = %s AND y = %s"),
    ("SELECT '?', \"a?\" FROM t WHERE x LIKE 'p%' AND y = ? -- ?\n", "postgresql", 1,
     "SELECT '?', \"a?\" FROM t WHERE x LIKE 'p%%' AND y = %s -- ?\n"),
    ("SELECT $q$ ? $q$ /* ? */ FROM t WHERE x = ?", "postgresql", 1, "SELECT $q$ ? $q$ /* ? */ FROM t WHERE x = %s"),
    ("SELECT `a?`, 'it\\'s ?' FROM t WHERE x = ? # ?", "mysql", 1, "SELECT `a?`, 'it\\'s ?' FROM t WHERE x = %s # ?"),
    ("SELECT 'it''s ?' FROM t", "postgresql", 0, "SELECT 'it''s ?' FROM t"),
])
def test_placeholders_outside_literals_and_comments(sql, dialect, count, formatted):
    from services.enrich.enrichments.sql_connections import placeholders
    assert placeholders(sql, dialect) == (count, formatted)


def test_input_values_bind_with_snowplow_types():
    from services.enrich.enrichments.sql_query import json_input_value, pojo_value
    assert [json_input_value(v) for v in ("42", "4.5", "true", "abc", 3, None, {"a": 1}, [1])] == [
        42, 4.5, True, "abc", 3, None, None, None]
    assert pojo_value("dvce_screenwidth", "1024") == 1024 and pojo_value("tr_total", "9.99") == 9.99
    assert pojo_value("user_id", "42") == "42"


def test_unknown_atomic_field_is_a_config_error(crm):
    p = params(crm, inputs=[{"placeholder": 1, "pojo": {"field": "no_such_field"}}])
    assert any("no_such_field" in e for e in parse_errors(SqliteQuery, sdj(SQLITE, p)))


def test_cached_entities_are_not_shared_with_later_enrichments(crm):
    # PII (a later slot) may hash a field of a derived entity in place: the cache must keep the original.
    enrichment = SqliteQuery()
    conf = enrichment.parse(sdj(SQLITE, params(crm)))
    first = asyncio.run(enrichment.enrich(EnrichedEvent(user_id="alice"), EnrichContext(raw=raw()), conf))
    first[0]["data"]["planName"] = "hashed"
    again = asyncio.run(enrichment.enrich(EnrichedEvent(user_id="alice"), EnrichContext(raw=raw()), conf))
    assert again == [{"schema": OUT, "data": {"planName": "pro", "seats": 5}}]
