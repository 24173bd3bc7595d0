"""Index mappings: field types, validation, dynamic mapping and turning a document into indexed values.

A :class:`Mapping` keeps the mapping JSON exactly as OpenSearch shows it (``GET _mapping``) and a flat
view ``fields`` (dotted path → :class:`Field`).  :meth:`Mapping.parse` walks a document, adds dynamic
fields as OpenSearch would (strings → text + ``.keyword``, dates by date detection, integers → long,
floats → float), enforces ``index.mapping.total_fields.limit`` and returns the values to index, grouped
in units: the root document and one unit per ``nested`` object.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any, Callable, Iterable, Iterator

from . import dates
from .analysis import Analysis
from .errors import SearchError, bad_request, mapper_parsing
from .index_settings import analysis_of, expand_settings, flatten_settings  # noqa: F401  (re-exported)
from .values import INTEGRAL, _as_text, _boolean, _geo, _integral, _number, float32  # noqa: F401

NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
LEAF_TYPES = NUMERIC | {"keyword", "text", "boolean", "date", "geo_point", "match_only_text"}
COMMON_PARAMS = {"type", "index", "store", "doc_values", "boost", "meta", "similarity"}
PARAMS: dict[str, set[str]] = {
    "keyword": COMMON_PARAMS | {"ignore_above", "null_value", "fields", "eager_global_ordinals", "norms",
                                "index_options", "split_queries_on_whitespace", "normalizer"},
    "text": COMMON_PARAMS | {"analyzer", "search_analyzer", "search_quote_analyzer", "fields", "fielddata", "norms",
                             "index_options", "position_increment_gap", "term_vector", "eager_global_ordinals",
                             "fielddata_frequency_filter", "index_prefixes", "index_phrases"},
    "match_only_text": COMMON_PARAMS | {"analyzer", "search_analyzer", "fields"},
    "boolean": COMMON_PARAMS | {"null_value", "fields"},
    "date": COMMON_PARAMS | {"format", "locale", "ignore_malformed", "null_value", "fields", "print_format"},
    "geo_point": COMMON_PARAMS | {"ignore_malformed", "ignore_z_value", "null_value"},
}
for _t in NUMERIC:
    PARAMS[_t] = COMMON_PARAMS | {"coerce", "ignore_malformed", "null_value", "fields", "scaling_factor"}
OBJECT_PARAMS = {"type", "properties", "dynamic", "enabled", "include_in_parent", "include_in_root"}
ROOT_PARAMS = {"properties", "dynamic", "date_detection", "numeric_detection", "dynamic_date_formats", "_source",
               "_meta", "_routing", "dynamic_templates", "enabled"}
DEFAULT_PARAMS = {"index": (True, "true"), "doc_values": (True, "true"), "store": (False, "false"),
                  "coerce": (True, "true"), "ignore_malformed": (False, "false"),
                  "eager_global_ordinals": (False, "false"), "boost": (1, 1.0)}
DEFAULT_DATE_FORMATS = ["strict_date_optional_time", "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z"]
_SLASH_DATE = re.compile(r"^\d{4}/\d{2}/\d{2}( \d{2}:\d{2}:\d{2})?$")


@dataclasses.dataclass
class Field:
    """One indexed path (a leaf field or a multi-field such as ``page_title.keyword``)."""

    path: str
    type: str
    spec: dict[str, Any]
    nested: str | None  # nearest nested ancestor, None at the root
    parent: str | None = None  # the field owning this multi-field
    format: dates.DateFormat | None = None
    # A text field whose analyzer keeps the whole value (Mini's keyword default analyzer) shares the terms of
    # its keyword multi-field: values up to ``shared_limit`` chars are stored once, under ``shared``.
    shared: str | None = None
    shared_limit: int = 0

    @property
    def indexed(self) -> bool:
        return self.spec.get("index", True) not in (False, "false")

    @property
    def aggregatable(self) -> bool:
        return self.type not in ("text", "match_only_text") or bool(self.spec.get("fielddata"))


@dataclasses.dataclass
class Unit:
    """Values of the root document (``path`` None) or of one nested object, by field key (see
    ``Mapping.field_key``): each field's stored values in document order."""

    path: str | None
    parent: int  # index of the parent unit, -1 for the root
    values: dict[Any, list[Any]] = dataclasses.field(default_factory=dict)

    def add(self, key: Any, stored: Iterable[Any]) -> None:
        add_values(self.values, key, list(stored))


def add_values(values: dict[Any, list[Any]], key: Any, stored: list[Any]) -> None:
    """File ``stored`` (a list of the caller's, taken over) under ``key`` in a unit's values."""
    have = values.get(key)
    if have is None:
        values[key] = stored
    else:
        have.extend(stored)


class Mapping:
    def __init__(self, mapping: dict[str, Any] | None, settings: dict[str, Any], analysis: Analysis):
        mapping = copy.deepcopy(mapping or {})
        if "_doc" in mapping and isinstance(mapping["_doc"], dict) and "properties" in mapping["_doc"]:
            raise mapper_parsing("Root mapping definition has unsupported parameters:  [_doc : ...]")
        unknown = set(mapping) - ROOT_PARAMS
        if unknown:
            detail = " ".join(f"[{k} : {mapping[k]}]" for k in sorted(unknown))
            raise mapper_parsing(f"Root mapping definition has unsupported parameters:  {detail}")
        if mapping.get("dynamic_templates"):
            raise bad_request("dynamic_templates are not supported by the Mini search node")
        self.doc = mapping
        self.doc.setdefault("properties", {})
        self.settings = settings
        self.analysis = analysis
        self.limit = int(settings.get("index.mapping.total_fields.limit", 1000))
        # what ``parse`` files each field's values under: the path, or the index's field id (set by the Index)
        self.field_key: Callable[[str], Any] = str
        self.fields: dict[str, Field] = {}
        self.objects: dict[str, str] = {}  # path -> "object" | "nested"
        self._rebuild()

    # ---- the flat view ----
    def _rebuild(self) -> None:
        # Readers on other threads use ``fields``/``objects`` while the prepare thread grows the mapping:
        # build the new views aside and swap them in whole.
        # per object path: (leaf name → plan, names with a null_value, the properties they were read from)
        self._levels: dict[str, tuple[dict[str, Any], set[str], dict[str, Any]]] = {}
        self._bf, self._bo = {}, {}
        try:
            self._walk(self.doc["properties"], "", None)
            self.fields, self.objects = self._bf, self._bo
        finally:
            self._bf, self._bo = self.fields, self.objects  # later additions go to the live views

    def _walk(self, props: dict[str, Any], prefix: str, nested: str | None) -> None:
        if not isinstance(props, dict):
            raise mapper_parsing(f"Expected map for property [properties] on field [{prefix.rstrip('.') or '_doc'}]")
        for name, spec in props.items():
            path = prefix + name
            if not isinstance(spec, dict):
                raise mapper_parsing(f"Expected map for property [fields] on field [{path}] but got a class java.lang.String")
            kind = spec.get("type", "object" if "properties" in spec or "type" not in spec else None)
            if kind in ("object", "nested"):
                unknown = set(spec) - OBJECT_PARAMS
                if unknown:
                    raise mapper_parsing(f"unknown parameter [{sorted(unknown)[0]}] on mapper [{path}] of type [{kind}]")
                if spec.get("enabled") in (False, "false"):
                    raise bad_request(f"[enabled: false] on [{path}] is not supported by the Mini search node")
                self._bo[path] = kind
                self._walk(spec.get("properties", {}), path + ".", path if kind == "nested" else nested)
                continue
            if kind not in LEAF_TYPES:
                if kind in ("ip", "date_nanos", "flat_object", "wildcard", "constant_keyword", "unsigned_long",
                            "geo_shape", "alias", "join", "integer_range", "long_range", "date_range", "binary",
                            "knn_vector", "token_count", "search_as_you_type", "completion", "percolator"):
                    raise bad_request(f"field type [{kind}] (on [{path}]) is not supported by the Mini search node")
                raise mapper_parsing(f"No handler for type [{kind}] declared on field [{name}]")
            self._leaf(path, kind, spec, nested, None)

    def _leaf(self, path: str, kind: str, spec: dict[str, Any], nested: str | None, parent: str | None) -> None:
        unknown = set(spec) - PARAMS[kind]
        if unknown:
            raise mapper_parsing(f"unknown parameter [{sorted(unknown)[0]}] on mapper [{path}] of type [{kind}]")
        if spec.get("normalizer"):
            raise bad_request(f"normalizer on [{path}] is not supported by the Mini search node")
        if spec.get("copy_to"):
            raise bad_request(f"copy_to on [{path}] is not supported by the Mini search node")
        field = Field(path, kind, spec, nested, parent)
        if kind == "date":
            fmt = spec.get("format")
            try:
                if fmt:
                    dates.check_format(fmt)
            except SearchError as exc:
                raise mapper_parsing(f"Error parsing [format] on field [{path.rsplit('.', 1)[-1]}]: {exc.reason}") from None
            field.format = dates.DateFormat(fmt)
        if kind in ("text", "match_only_text"):
            for key in ("analyzer", "search_analyzer"):
                if spec.get(key):
                    self.analysis.get(spec[key])
        self._bf[path] = field
        subs = spec.get("fields") or {}
        if not isinstance(subs, dict):
            raise mapper_parsing(f"Expected map for property [fields] on field [{path}]")
        for name, sub in subs.items():
            sub_kind = sub.get("type") if isinstance(sub, dict) else None
            if sub_kind not in LEAF_TYPES:
                raise mapper_parsing(f"No handler for type [{sub_kind}] declared on field [{name}]")
            self._leaf(f"{path}.{name}", sub_kind, sub, nested, path)
        if kind == "text" and field.shared is None and not spec.get("fielddata") and spec.get("index", True) not in (False, "false"):
            keep = self.analysis.identity_max(spec.get("analyzer"))
            for name, sub in subs.items():
                if keep and sub.get("type") == "keyword" and sub.get("index", True) not in (False, "false"):
                    limit = sub.get("ignore_above")
                    field.shared = f"{path}.{name}"
                    field.shared_limit = min(keep, int(limit) if limit is not None else 2**31 - 1)
                    break

    def total_fields(self) -> int:
        return len(self.fields) + len(self.objects)

    def check_limit(self) -> None:
        if self.total_fields() > self.limit:
            raise bad_request(f"Limit of total fields [{self.limit}] has been exceeded")

    def as_json(self) -> dict[str, Any]:
        """The mapping as GET _mapping shows it (properties sorted by name, as OpenSearch does)."""
        def sort(node: Any) -> Any:
            if not isinstance(node, dict):
                return node
            out = {}
            for key, value in node.items():
                if key in DEFAULT_PARAMS and value in DEFAULT_PARAMS[key] and "type" in node:
                    continue  # OpenSearch shows only parameters that differ from their defaults
                if key in ("properties", "fields") and isinstance(value, dict):
                    out[key] = {k: sort(value[k]) for k in sorted(value)}
                else:
                    out[key] = sort(value) if isinstance(value, dict) else copy.deepcopy(value)
            return out
        return sort(self.doc)

    # ---- PUT _mapping ----
    def merged(self, update: dict[str, Any]) -> "Mapping":
        """A new Mapping with ``update`` merged in; changing a field's type is refused as OpenSearch does."""
        from .mapping_merge import merge_properties
        doc = copy.deepcopy(self.doc)
        for key, value in update.items():
            if key != "properties":
                doc[key] = value
        merge_properties(doc["properties"], update.get("properties", {}) or {}, "")
        result = Mapping(doc, self.settings, self.analysis)
        result.check_limit()
        return result

    # ---- documents ----
    def parse(self, source: dict[str, Any], doc_id: str) -> tuple[list[Unit], bool]:
        """Indexed values of ``source``; the bool says the mapping grew (dynamic fields were added)."""
        if not isinstance(source, dict):
            raise mapper_parsing("failed to parse", caused_by=SearchError(
                400, "not_x_content_exception", "Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes"))
        self._grew = False
        self._added: list[tuple[dict, str]] = []
        self._doc_id = doc_id
        units = [Unit(None, -1)]
        try:
            self._object(source, self.doc["properties"], "", None, units, 0, self.doc.get("dynamic", True))
            if self._grew:
                self._rebuild()
                self.check_limit()
        except SearchError:
            if self._added:  # a rejected document leaves the mapping as it was
                for props, name in reversed(self._added):
                    props.pop(name, None)
                self._rebuild()
            raise
        return units, self._grew

    def _object(self, obj: dict[str, Any], props: dict[str, Any], prefix: str, nested: str | None,
                units: list[Unit], unit: int, dynamic: Any) -> None:
        # Fast path for the common case (a mapped scalar leaf, or null); everything else takes _value.
        out = units[unit].values
        level = self._levels.get(prefix)
        if level is None or level[2] is not props:
            level = self._levels[prefix] = ({}, {n for n, spec in props.items() if isinstance(spec, dict)
                                                 and spec.get("null_value") is not None}, props)
        plans, nulls = level[0], level[1]
        for raw_name, value in obj.items():
            if value is None:
                if raw_name not in nulls:
                    continue
            else:
                kind = type(value)
                if kind is not dict and kind is not list:
                    plan = plans.get(raw_name)  # never a dotted name: those take the slow path
                    if plan is None and "." not in raw_name and props.get(raw_name) is not None:
                        plan = self._plan(prefix + raw_name, props[raw_name])
                        if plan is not None:
                            plans[raw_name] = plan
                    if plan is not None:
                        try:
                            plan(value, out)
                            continue
                        except (ValueError, TypeError, OverflowError, AttributeError):
                            pass  # the slow path raises the proper mapper error
            if raw_name == "":
                raise mapper_parsing("field name cannot be an empty string")
            if "." in raw_name:
                head, rest = raw_name.split(".", 1)
                if not head or not rest:
                    raise mapper_parsing(f"field name cannot contain only whitespace or dots: ['{raw_name}']")
                value, raw_name = {rest: value}, head
            self._value(raw_name, value, props, prefix, nested, units, unit, dynamic)

    def _value(self, name: str, value: Any, props: dict[str, Any], prefix: str, nested: str | None,
               units: list[Unit], unit: int, dynamic: Any) -> None:
        path = prefix + name
        if isinstance(value, list):
            for item in value:
                if isinstance(item, list):
                    for inner in item:
                        self._value(name, inner, props, prefix, nested, units, unit, dynamic)
                else:
                    self._value(name, item, props, prefix, nested, units, unit, dynamic)
            return
        if value is None:
            spec = props.get(name)
            if spec is not None and spec.get("null_value") is not None:
                self._leaf_value(path, spec, spec["null_value"], units[unit])
            return
        spec = props.get(name)
        if spec is None:
            if dynamic in (False, "false", "runtime"):
                return
            if dynamic == "strict":
                raise SearchError(400, "strict_dynamic_mapping_exception",
                                  f"mapping set to strict, dynamic introduction of [{name}] within "
                                  f"[{prefix.rstrip('.') or '_doc'}] is not allowed")
            spec = self._dynamic(value)
            if spec is None:
                return
            props[name] = spec
            self._added.append((props, name))
            self._grew = True
        kind = spec.get("type", "object")
        if kind in ("object", "nested"):
            if not isinstance(value, dict):
                raise mapper_parsing(
                    f"object mapping for [{path}] tried to parse field [{name}] as object, but found a concrete value")
            child_dynamic = spec.get("dynamic", dynamic)
            child_props = spec.setdefault("properties", {}) if dynamic not in (False, "false") or "properties" in spec else {}
            if kind == "nested":
                units.append(Unit(path, unit))
                self._object(value, child_props, path + ".", path, units, len(units) - 1, child_dynamic)
            else:
                self._object(value, child_props, path + ".", nested, units, unit, child_dynamic)
            return
        if isinstance(value, dict) and kind != "geo_point":
            preview = "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
            raise mapper_parsing(
                f"failed to parse field [{path}] of type [{kind}] in document with id '{self._doc_id}'. "
                f"Preview of field's value: '{preview}'",
                caused_by=SearchError(400, "illegal_state_exception",
                                      f"Can't get text on a START_OBJECT at 1:{len(path) + 2}"))
        self._leaf_value(path, spec, value, units[unit])

    def _plan(self, path: str, spec: dict[str, Any]):
        """A specialised appender for a mapped scalar leaf (and its multi-fields), or None (see plans.py)."""
        from .plans import make_plan
        return make_plan(self, path, spec)

    def _dynamic(self, value: Any) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return {"properties": {}}
        if isinstance(value, bool):
            return {"type": "boolean"}
        if isinstance(value, int):
            return {"type": "long"}
        if isinstance(value, float):
            return {"type": "float"}
        if isinstance(value, str):
            if self.doc.get("numeric_detection") in (True, "true"):
                if re.fullmatch(r"-?\d+", value):
                    return {"type": "long"}
                try:
                    float(value)
                    return {"type": "float"}
                except ValueError:
                    pass
            if self.doc.get("date_detection", True) not in (False, "false") and not value.isdigit():
                formats = self.doc.get("dynamic_date_formats", DEFAULT_DATE_FORMATS)
                for fmt in formats:
                    if fmt == DEFAULT_DATE_FORMATS[1]:
                        if _SLASH_DATE.match(value):
                            return {"type": "date", "format": "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis"}
                        continue
                    try:
                        dates.DateFormat(fmt).parse(value)
                    except (ValueError, SearchError):
                        continue
                    return {"type": "date"} if fmt == "strict_date_optional_time" else {"type": "date", "format": fmt}
            return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
        return None

    def _leaf_value(self, path: str, spec: dict[str, Any], value: Any, unit: Unit) -> None:
        field = self.fields.get(path)
        if field is None:  # added dynamically in this document: build its view now
            nested = unit.path
            self._leaf(path, spec["type"], spec, nested, None)
            field = self.fields[path]
        staged = [(path, list(self.convert(field, value)))]
        for sub in (spec.get("fields") or {}):
            sub_field = self.fields.get(f"{path}.{sub}")
            if sub_field is None:
                self._leaf(f"{path}.{sub}", spec["fields"][sub]["type"], spec["fields"][sub], unit.path, path)
                sub_field = self.fields[f"{path}.{sub}"]
            staged.append((sub_field.path, list(self.convert(sub_field, value))))
        for key_path, stored in staged:  # all converted first: a value that fails adds nothing
            if stored:
                unit.add(self.field_key(key_path), stored)

    def convert(self, field: Field, value: Any) -> Iterator[Any]:
        """The stored form(s) of one JSON value for ``field``; mapper_parsing_exception if it does not fit."""
        kind = field.type
        try:
            if kind == "keyword":
                text = _as_text(value)
                limit = field.spec.get("ignore_above")
                if limit is None or len(text) <= int(limit):
                    yield text
            elif kind in ("text", "match_only_text"):
                analyzer = self.analysis.get(field.spec.get("analyzer"))
                text = _as_text(value)
                if not field.shared or len(text) > field.shared_limit:
                    yield from analyzer(text)
            elif kind in INTEGRAL:
                yield _integral(value, kind, field.spec.get("coerce", True))
            elif kind in NUMERIC:
                number = _number(value, field.spec.get("coerce", True))
                if kind == "float":
                    number = float32(number)
                elif kind == "half_float":
                    number = float32(number)
                elif kind == "scaled_float":
                    factor = float(field.spec.get("scaling_factor", 1))
                    number = round(number * factor) / factor
                yield number
            elif kind == "boolean":
                yield _boolean(value)
            elif kind == "date":
                assert field.format is not None
                yield field.format.parse(value)
            elif kind == "geo_point":
                lat, lon = _geo(value)
                yield f"{lat},{lon}"
        except (ValueError, TypeError, OverflowError) as exc:
            if field.spec.get("ignore_malformed") in (True, "true"):
                return
            preview = value if not isinstance(value, bool) else str(value).lower()
            raise mapper_parsing(
                f"failed to parse field [{field.path}] of type [{kind}] in document with id '{self._doc_id_safe()}'. "
                f"Preview of field's value: '{preview}'",
                caused_by=SearchError(400, "illegal_argument_exception", str(exc))) from None

    def _doc_id_safe(self) -> str:
        return getattr(self, "_doc_id", "")

    # ---- lookups for queries ----
    def field(self, path: str) -> Field | None:
        return self.fields.get(path)

    def nested_of(self, path: str) -> str | None:
        """The nested scope a path lives in (None for the root)."""
        best = None
        for obj, kind in list(self.objects.items()):
            if kind == "nested" and (path == obj or path.startswith(obj + ".")):
                if best is None or len(obj) > len(best):
                    best = obj
        return best
