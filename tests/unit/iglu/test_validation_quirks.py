"""One table row per Snowplow validation quirk (iglu.md §1.4), checked on both validator paths."""

import pytest

from services.iglu.core import SELF_DESC_URI
from services.iglu.validation import CompiledSchema, json_depth

SELF = {"vendor": "com.acme", "name": "q", "format": "jsonschema", "version": "1-0-0"}


def compiled(body, **kw):
    return CompiledSchema({"$schema": SELF_DESC_URI, "self": SELF, **body}, fast_after=0, **kw)


QUIRKS = [
    # (quirk, schema body, instance, valid)
    ("draft-06 const is ignored", {"const": 5}, 6, True),
    ("draft-06 propertyNames is ignored", {"propertyNames": {"maxLength": 1}}, {"long": 1}, True),
    ("draft-06 contains is ignored", {"contains": {"type": "string"}}, [1, 2], True),
    ("draft-4 boolean exclusiveMinimum", {"minimum": 0, "exclusiveMinimum": True}, 0, False),
    ("remote $ref is the empty schema", {"properties": {"a": {"$ref": "http://example.com/s.json"}}}, {"a": [1]}, True),
    ("remote https $ref too", {"$ref": "https://example.com/x#/definitions/y"}, "anything", True),
    ("local $ref resolves", {"definitions": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/definitions/s"}}}, {"a": 1}, False),
    ("1.0 is not an integer", {"type": "integer"}, 1.0, False),
    ("1e2 is not an integer", {"type": "integer"}, 1e2, False),
    ("big ints are integers", {"type": "integer"}, 2 ** 70, True),
    ("integer is a number", {"type": "number"}, 3, True),
    ("a boolean is not a number", {"type": "number"}, True, False),
    ("a boolean is not an integer", {"type": "integer"}, False, False),
    ("no coercion of strings", {"type": "integer"}, "5", False),
    ("null needs null in type", {"type": "string"}, None, False),
    ("OpenAPI nullable lets null pass type", {"type": "string", "nullable": True}, None, True),
    ("nullable keeps the type otherwise", {"type": "string", "nullable": True}, 5, False),
    ("alpha format", {"format": "alpha"}, "ab1", False),
    ("alphanumeric format", {"format": "alphanumeric"}, "ab1", True),
    ("maxLength counts code points", {"maxLength": 3}, "é漢😀", True),
    ("maxLength counts code points (over)", {"maxLength": 2}, "é漢😀", False),
    ("maxLength ignores non-strings", {"maxLength": 3}, 123456, True),
    ("pattern is unanchored", {"pattern": "b"}, "abc", True),
    ("pattern anchors when asked", {"pattern": "^b"}, "abc", False),
    ("\\d is ASCII only", {"pattern": "^\\d+$"}, "١٢٣", False),
    ("\\w is ASCII only", {"pattern": "^\\w+$"}, "é", False),
    ("\\d in a class is ASCII only", {"pattern": "^[\\d-]+$"}, "1-٢", False),
    ("patternProperties use ASCII classes", {"patternProperties": {"^\\d+$": {"type": "string"}}, "additionalProperties": False}, {"١": "x"}, False),
    ("additionalProperties allowed by default", {"properties": {"a": {}}}, {"b": 1}, True),
    ("multipleOf is exact for decimals", {"multipleOf": 0.01}, 19.99, True),
    ("multipleOf is exact (fails)", {"multipleOf": 0.01}, 19.999, False),
    ("multipleOf with integers", {"multipleOf": 3}, 9, True),
    ("unknown formats pass", {"format": "strict-uri"}, "%%% not a uri", True),
    ("formats only check strings", {"format": "date-time"}, 5, True),
    ("date-time needs an offset", {"format": "date-time"}, "2024-01-02T03:04:05", False),
    ("date-time with Z", {"format": "date-time"}, "2024-01-02T03:04:05.123Z", True),
    ("date-time with offset", {"format": "date-time"}, "2024-01-02T03:04:05+05:30", True),
    ("date-time needs T", {"format": "date-time"}, "2024-01-02 03:04:05Z", False),
    ("date-time leap second", {"format": "date-time"}, "2016-12-31T23:59:60Z", True),
    ("date-time strict calendar", {"format": "date-time"}, "2023-02-29T00:00:00Z", False),
    ("date strict calendar", {"format": "date"}, "2024-02-29", True),
    ("date strict calendar (bad)", {"format": "date"}, "2023-02-29", False),
    ("time", {"format": "time"}, "12:34:56.789", True),
    ("uuid any version, any case", {"format": "uuid"}, "C8BC8A5C-2A4D-1C0B-9C4D-5E3E2A1B0F9D", True),
    ("uuid needs hyphens", {"format": "uuid"}, "c8bc8a5c2a4d4c0b9c4d5e3e2a1b0f9d", False),
    ("email with known TLD", {"format": "email"}, "someone@example.com", True),
    ("email with unknown TLD", {"format": "email"}, "someone@example.zzzz", False),
    ("email without dot domain", {"format": "email"}, "someone@localhost", False),
    ("email ip literal", {"format": "email"}, "someone@[192.168.0.1]", True),
    ("email local part <= 64", {"format": "email"}, "a" * 65 + "@example.com", False),
    ("ipv4 no leading zeros", {"format": "ipv4"}, "01.2.3.4", False),
    ("ipv4", {"format": "ipv4"}, "255.255.255.255", True),
    ("ipv6", {"format": "ipv6"}, "2001:db8::1", True),
    ("ipv6 zone rejected", {"format": "ipv6"}, "fe80::1%eth0", False),
    ("ipv6 spaces rejected", {"format": "ipv6"}, " ::1", False),
    ("hostname", {"format": "hostname"}, "a-b.example.com", True),
    ("hostname no leading hyphen", {"format": "hostname"}, "-a.com", False),
    ("uri needs a scheme", {"format": "uri"}, "example.com/path", False),
    ("uri rejects spaces", {"format": "uri"}, "http://a b.com", False),
    ("uri rejects non-ASCII", {"format": "uri"}, "http://é.com", False),
    ("uri", {"format": "uri"}, "https://example.com/a?b=c#d", True),
]


@pytest.mark.parametrize("quirk, body, instance, valid", QUIRKS, ids=[q[0] for q in QUIRKS])
@pytest.mark.parametrize("fast", [True, False], ids=["compiled", "jsonschema"])
def test_quirk(quirk, body, instance, valid, fast):
    c = compiled(body, compiled=fast)
    assert c.has_fast_path is fast
    assert c.is_valid(instance) is valid
    assert (c.errors(instance) == []) is valid


def test_depth_limit():
    deep = {}
    node = deep
    for _ in range(60):
        node["a"] = {}
        node = node["a"]
    assert json_depth(deep) == 61
    c = compiled({}, max_depth=50)
    assert c.errors(deep) == [{"message": "Maximum allowed JSON depth exceeded", "path": "/", "keyword": None, "targets": []}]


def test_the_compiled_path_is_built_after_a_few_uses():
    c = CompiledSchema({"$schema": SELF_DESC_URI, "self": SELF, "type": "integer"}, fast_after=3)
    verdicts = []
    for _ in range(4):
        verdicts.append(c.has_fast_path)
        assert c.errors(1) == [] and c.errors("x") != []
    assert verdicts == [False, False, True, True]


def test_invalid_schema_gives_schema_issues():
    c = compiled({"type": "strin"})
    assert c.issues and c.issues[0]["path"] == "$.type"
    assert not c.is_valid("x")


REPORTS = [
    ({"properties": {"country": {"type": "string"}}}, {"country": 5},
     {"message": "$.country: integer found, string expected", "path": "$.country", "keyword": "type", "targets": ["integer", "string"]}),
    ({"required": ["a"]}, {},
     {"message": "$.a: is missing but it is required", "path": "$", "keyword": "required", "targets": ["a"]}),
    ({"properties": {}, "additionalProperties": False}, {"x": 1},
     {"message": "$.x: is not defined in the schema and the schema does not allow additional properties",
      "path": "$", "keyword": "additionalProperties", "targets": ["x"]}),
    ({"properties": {"s": {"maxLength": 2}}}, {"s": "abc"},
     {"message": "$.s: may only be 2 characters long", "path": "$.s", "keyword": "maxLength", "targets": ["2"]}),
    ({"items": {"enum": ["a", "b"]}}, ["a", "c"],
     {"message": "$[1]: does not have a value in the enumeration [\"a\", \"b\"]", "path": "$[1]", "keyword": "enum",
      "targets": ["[\"a\", \"b\"]"]}),
    ({"pattern": "^\\d+$"}, "x",
     {"message": "$: does not match the regex pattern ^\\d+$", "path": "$", "keyword": "pattern", "targets": ["^\\d+$"]}),
]


@pytest.mark.parametrize("body, instance, report", REPORTS)
def test_report_shape(body, instance, report):
    assert compiled(body).errors(instance) == [report]
