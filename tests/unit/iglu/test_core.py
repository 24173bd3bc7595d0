"""SchemaKey, SchemaVer, SchemaCriterion and SDJ parsing with Iglu's ParseError codes (iglu.md §1.1–1.3)."""

import pytest

from services.iglu.core import (
    SELF_DESC_URI, ParseError, SchemaCriterion, SchemaKey, SchemaVer, parse_sdj, parse_self_describing_schema,
)


@pytest.mark.parametrize("uri, code", [
    ("iglu:com.acme/event/jsonschema/1-0-0", None),
    ("iglu:com.acme-x_y/ev_1-a/jsonschema/10-20-30", None),
    ("iglu:a/b/c/0-1-0", "INVALID_SCHEMAVER"),      # MODEL must be >= 1
    ("iglu:a/b/c/1-0-01", "INVALID_SCHEMAVER"),     # no leading zeros
    ("iglu:a/b/c/01-0-0", "INVALID_SCHEMAVER"),
    ("iglu:a/b/c/1--0", "INVALID_SCHEMAVER"),
    ("iglu:a/b/c/1.0.0", "INVALID_IGLUURI"),
    ("iglu:a.b/c.d/jsonschema/1-0-0", "INVALID_IGLUURI"),  # dots only in the vendor
    ("iglu:a/b/1-0-0", "INVALID_IGLUURI"),
    ("http://a/b/c/1-0-0", "INVALID_IGLUURI"),
    ("iglu:a/b/c/1-0", "INVALID_IGLUURI"),
    ("", "INVALID_IGLUURI"),
    (42, "INVALID_IGLUURI"),
])
def test_schema_key_parse(uri, code):
    if code is None:
        assert SchemaKey.parse(uri).uri == uri
    else:
        with pytest.raises(ParseError) as info:
            SchemaKey.parse(uri)
        assert info.value.code == code


def test_schemaver_order_is_a_tuple_compare():
    versions = [SchemaVer.parse(v) for v in ("2-0-0", "1-0-10", "1-1-0", "1-0-2")]
    assert [str(v) for v in sorted(versions)] == ["1-0-2", "1-0-10", "1-1-0", "2-0-0"]


def test_path_form():
    key = SchemaKey.parse_path("com.acme/event/jsonschema/1-2-3")
    assert key.uri == "iglu:com.acme/event/jsonschema/1-2-3" and key.path == "com.acme/event/jsonschema/1-2-3"


@pytest.mark.parametrize("criterion, uri, matches", [
    ("iglu:com.acme/e/jsonschema/1-0-*", "iglu:com.acme/e/jsonschema/1-0-7", True),
    ("iglu:com.acme/e/jsonschema/1-0-*", "iglu:com.acme/e/jsonschema/1-1-0", False),  # equality, not "at most"
    ("iglu:com.acme/e/jsonschema/1-*-*", "iglu:com.acme/e/jsonschema/1-3-2", True),
    ("iglu:com.acme/e/jsonschema/*-*-*", "iglu:com.acme/e/jsonschema/9-0-0", True),
    ("iglu:com.acme/e/jsonschema/2-0-*", "iglu:com.acme/e/jsonschema/1-0-0", False),
    ("iglu:com.acme/e/jsonschema/1-0-0", "iglu:com.acme/other/jsonschema/1-0-0", False),
])
def test_criterion(criterion, uri, matches):
    crit = SchemaCriterion.parse(criterion)
    assert str(crit) == criterion
    assert crit.matches(SchemaKey.parse(uri)) is matches


@pytest.mark.parametrize("instance, code", [
    ({"schema": "iglu:a/b/jsonschema/1-0-0", "data": None}, None),  # null data is data
    ({"schema": "iglu:a/b/jsonschema/1-0-0", "data": {}, "extra": 1}, None),  # extra keys ignored
    ({"schema": "iglu:a/b/jsonschema/1-0-0"}, "INVALID_DATA_PAYLOAD"),
    ({"data": {}}, "INVALID_DATA_PAYLOAD"),
    ({"schema": 5, "data": {}}, "INVALID_DATA_PAYLOAD"),
    ([], "INVALID_DATA_PAYLOAD"),
    ("iglu:a/b/jsonschema/1-0-0", "INVALID_DATA_PAYLOAD"),
    ({"schema": "iglu:a/b/jsonschema/0-0-0", "data": {}}, "INVALID_SCHEMAVER"),
    ({"schema": "a/b/jsonschema/1-0-0", "data": {}}, "INVALID_IGLUURI"),
])
def test_parse_sdj(instance, code):
    if code is None:
        key, data = parse_sdj(instance)
        assert key.uri == instance["schema"] and data == instance["data"]
    else:
        with pytest.raises(ParseError) as info:
            parse_sdj(instance)
        assert info.value.code == code


SELF = {"vendor": "com.acme", "name": "e", "format": "jsonschema", "version": "1-0-0"}


@pytest.mark.parametrize("schema, code", [
    ({"$schema": SELF_DESC_URI, "self": SELF}, None),
    ({"$schema": SELF_DESC_URI.replace("http:", "https:"), "self": SELF}, "INVALID_METASCHEMA"),
    ({"$schema": SELF_DESC_URI.rstrip("#"), "self": SELF}, "INVALID_METASCHEMA"),
    ({"self": SELF}, "INVALID_METASCHEMA"),
    ({"$schema": SELF_DESC_URI}, "INVALID_SCHEMA"),
    ({"$schema": SELF_DESC_URI, "self": {**SELF, "version": "1-0"}}, "INVALID_SCHEMAVER"),
    ({"$schema": SELF_DESC_URI, "self": {k: v for k, v in SELF.items() if k != "name"}}, "INVALID_SCHEMA"),
    ([], "INVALID_SCHEMA"),
])
def test_self_describing_schema(schema, code):
    if code is None:
        assert parse_self_describing_schema(schema).uri == "iglu:com.acme/e/jsonschema/1-0-0"
    else:
        with pytest.raises(ParseError) as info:
            parse_self_describing_schema(schema)
        assert info.value.code == code
