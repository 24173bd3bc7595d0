"""Mapping: validation, dynamic mapping and indexed values (OpenSearch's mapping documentation)."""

import pytest

from services.search.analysis import Analysis
from services.search.errors import SearchError
from services.search.mapping import Mapping, analysis_of, flatten_settings

MINI = {"analysis": {"analyzer": {"default": {"tokenizer": "keyword", "filter": ["oversized-fields"]}},
                     "filter": {"oversized-fields": {"type": "length", "max": 8191}}}}


def mapping(props=None, settings=None, **root):
    flat = flatten_settings(settings or {})
    return Mapping({"properties": props or {}, **root}, flat, Analysis(analysis_of(flat)))


def values(m, doc):
    units, _ = m.parse(doc, "1")
    return units


def pairs(unit):
    """A unit's (path, stored value) pairs, in document order."""
    return [(path, v) for path, stored in unit.values.items() for v in stored]


def test_settings_accept_nested_and_dotted_forms():
    assert flatten_settings({"index": {"number_of_shards": 2}}) == {"index.number_of_shards": "2"}
    assert flatten_settings({"number_of_shards": 2}) == {"index.number_of_shards": "2"}
    assert flatten_settings({"index.mapping.total_fields.limit": 5}) == {"index.mapping.total_fields.limit": "5"}


def test_dynamic_string_is_text_plus_keyword():
    m = mapping()
    m.parse({"s": "Hello World"}, "1")
    assert m.as_json()["properties"]["s"] == {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


def test_date_detection_and_its_switch():
    m = mapping()
    m.parse({"d": "2024-05-01T10:00:00Z", "y": "2024"}, "1")
    props = m.as_json()["properties"]
    assert props["d"] == {"type": "date"}
    assert props["y"]["type"] == "text"
    off = mapping(date_detection=False)
    off.parse({"d": "2024-05-01T10:00:00Z"}, "1")
    assert off.as_json()["properties"]["d"]["type"] == "text"


def test_standard_analyzer_terms_and_keyword_ignore_above():
    m = mapping()
    units = values(m, {"s": "Quick Brown-Fox", "long": "x" * 300})
    stored = set(pairs(units[0]))
    assert ("s", "quick") in stored and ("s", "brown") in stored and ("s", "fox") in stored
    assert ("s.keyword", "Quick Brown-Fox") in stored
    assert not any(p == "long.keyword" for p, _ in stored)


def test_keyword_default_analyzer_stores_the_value_once():
    m = mapping(settings=MINI)
    units = values(m, {"s": "Quick Brown"})
    assert pairs(units[0]) == [("s.keyword", "Quick Brown")]  # the text field shares its keyword's term
    assert m.field("s").shared == "s.keyword"
    long = "y" * 300
    assert ("s", long) in pairs(values(m, {"s": long})[0])  # beyond ignore_above only the text term exists


def test_coercion_and_errors():
    m = mapping({"n": {"type": "long"}, "b": {"type": "boolean"}, "f": {"type": "float"}})
    stored = dict(pairs(values(m, {"n": "12", "b": "true", "f": 0.1})[0]))
    assert stored["n"] == 12 and stored["b"] == 1 and stored["f"] == pytest.approx(0.1, rel=1e-6)
    with pytest.raises(SearchError) as exc:
        m.parse({"n": "abc"}, "7")
    assert exc.value.type == "mapper_parsing_exception"
    assert exc.value.reason.startswith("failed to parse field [n] of type [long] in document with id '7'")
    with pytest.raises(SearchError):
        m.parse({"b": "yes"}, "8")


def test_object_and_nested_units():
    m = mapping({"items": {"type": "nested", "properties": {"sku": {"type": "keyword"}}}})
    units = values(m, {"items": [{"sku": "a"}, {"sku": "b"}], "o": {"x": 1}})
    assert [u.path for u in units] == [None, "items", "items"]
    assert pairs(units[1]) == [("items.sku", "a")]
    assert ("o.x", 1) in pairs(units[0])


def test_total_fields_limit_counts_objects_and_multi_fields():
    m = mapping(settings={"index.mapping.total_fields.limit": 2})
    m.parse({"o": {"x": 1}}, "1")  # the object o and its field o.x
    with pytest.raises(SearchError) as exc:
        m.parse({"o": {"y": 1}}, "2")
    assert exc.value.reason == "Limit of total fields [2] has been exceeded"
    assert set(m.fields) == {"o.x"}  # the rejected document added nothing
    with pytest.raises(SearchError):
        mapping(settings={"index.mapping.total_fields.limit": 2}).parse({"s": "text", "t": 1}, "3")  # s, s.keyword, t


def test_strict_and_false_dynamic():
    strict = mapping(dynamic="strict")
    with pytest.raises(SearchError) as exc:
        strict.parse({"x": 1}, "1")
    assert exc.value.type == "strict_dynamic_mapping_exception"
    loose = mapping(dynamic=False)
    units, grew = loose.parse({"x": 1}, "1")
    assert not grew and pairs(units[0]) == []


def test_validation_errors():
    with pytest.raises(SearchError) as exc:
        mapping({"a": {"type": "nope"}})
    assert exc.value.reason == "No handler for type [nope] declared on field [a]"
    with pytest.raises(SearchError) as exc:
        mapping({"a": {"type": "keyword", "analyzer": "standard"}})
    assert "unknown parameter [analyzer]" in exc.value.reason


def test_type_change_refused():
    m = mapping({"a": {"type": "long"}})
    with pytest.raises(SearchError) as exc:
        m.merged({"properties": {"a": {"type": "keyword"}}})
    assert exc.value.reason == "mapper [a] cannot be changed from type [long] to [keyword]"


def test_null_value_and_dotted_names_take_the_general_path():
    m = mapping({"status": {"type": "keyword", "null_value": "NONE"}, "n": {"type": "long"},
                 "geo": {"properties": {"city": {"type": "keyword"}}}})
    assert pairs(values(m, {"status": None, "n": None, "geo.city": "Paris"})[0]) == [("status", "NONE"), ("geo.city", "Paris")]
    assert pairs(values(m, {"status": "ok", "n": 3, "geo": {"city": "Oslo"}})[0]) == [("status", "ok"), ("n", 3), ("geo.city", "Oslo")]
    # a field added by a mapping update, with a null_value, is honoured by the next document
    m2 = m.merged({"properties": {"m": {"type": "long", "null_value": -1}}})
    assert pairs(values(m2, {"m": None, "status": None})[0]) == [("m", -1), ("status", "NONE")]
