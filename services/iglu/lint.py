"""Schema lint: igluctl 0.13 / schema-ddl 0.27 rules (reference/iglu.md §6), as a Python API and CLI.

``lint_paths`` reads schema files, checks their paths and version sequences, validates them against
the draft-04 meta-schema and runs the sanity linters (levels ERROR/WARNING/INFO; non-ERROR ones can
be skipped).  The local Iglu Server runs the same checks before publishing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable

from jsonschema import Draft4Validator

from .core import SELF_DESC_URI, ParseError, SchemaKey, SchemaVer, parse_self_describing_schema, schema_body

ERROR, WARNING, INFO = "ERROR", "WARNING", "INFO"
# What Iglu Central's own CI skips (its .github/scripts/lint.bash): strict but practical.  The CI
# pins igluctl 0.10.1, which predates the BigQuery linters, so skipping those too reproduces its verdicts.
IGLU_CENTRAL_CI_SKIP = ("optionalNull", "description", "numericMinMax", "stringLength", "stringMaxLengthRange", "rootObject")
IGLU_CENTRAL_SKIP = IGLU_CENTRAL_CI_SKIP + ("bqDisallowedCharacters", "bqIllegalStart")
KNOWN_FORMATS = {"uri", "ipv4", "email", "date-time", "date", "hostname", "uuid"}  # schema-ddl misspells ipv6
_NUMBER_KEYS = ("minimum", "maximum", "multipleOf")
_STRING_KEYS = ("minLength", "maxLength", "pattern", "format")
_ARRAY_KEYS = ("items", "additionalItems", "minItems", "maxItems")
_OBJECT_KEYS = ("properties", "additionalProperties", "required", "patternProperties")
_BQ_CHARS = re.compile(r"^[A-Za-z0-9_]*$")
_BQ_START = re.compile(r"^[A-Za-z_]")


@dataclasses.dataclass(frozen=True)
class Issue:
    level: str
    linter: str
    pointer: str
    message: str

    def as_json(self) -> dict:
        return {"message": self.message, "level": self.level, "pointer": self.pointer or "/"}

    def __str__(self) -> str:
        return f"{self.level} {self.pointer or '/'}: {self.message} [{self.linter}]"


def _types(node: dict) -> set[str] | None:
    t = node.get("type")
    if t is None:
        return None
    return {t} if isinstance(t, str) else {x for x in t if isinstance(x, str)} if isinstance(t, list) else set()


def _excludes(node: dict, *kinds: str) -> bool:
    types = _types(node)
    return types is not None and not (types & set(kinds))


def _with(node: dict, *kinds: str) -> bool:
    types = _types(node)
    return types is not None and bool(types & set(kinds))


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


Check = Callable[[dict, bool], list[str]]


def _min_max(lo: str, hi: str, what: str) -> Check:
    def check(node: dict, root: bool) -> list[str]:
        a, b = node.get(lo), node.get(hi)
        if _num(a) and _num(b) and a > b:
            return [f"{what} has {lo} property [{a}] greater than {hi} [{b}]"]
        return []
    return check


def _keywords(keys: tuple, kinds: tuple, what: str) -> Check:
    def check(node: dict, root: bool) -> list[str]:
        present = [k for k in keys if k in node]
        if present and _excludes(node, *kinds):
            return [f"{', '.join(present)} {'are' if len(present) > 1 else 'is'} {what} keyword{'s' if len(present) > 1 else ''} "
                    f"but type {json.dumps(node.get('type'))} excludes {' and '.join(kinds)}"]
        return []
    return check


def _root_object(node: dict, root: bool) -> list[str]:
    if root and not (node.get("type") == "object" or _with(node, "object")) or root and "properties" not in node:
        return ["Root of schema should have type object and contain properties"]
    return []


def _max_length_range(node: dict, root: bool) -> list[str]:
    n = node.get("maxLength")
    return [f"maxLength {n} is greater than Redshift VARCHAR(max), 65535"] if _num(n) and n > 65535 else []


def _required_exist(node: dict, root: bool) -> list[str]:
    props, required = node.get("properties"), node.get("required")
    if node.get("additionalProperties") is False and isinstance(props, dict) and isinstance(required, list) \
            and "patternProperties" not in node:
        missing = [r for r in required if r not in props]
        if missing:
            return [f"Properties [{', '.join(map(str, missing))}] required, but not listed in properties"]
    return []


def _unknown_formats(node: dict, root: bool) -> list[str]:
    fmt = node.get("format")
    return [f"Format [{fmt}] is not supported. Available options are: {', '.join(sorted(KNOWN_FORMATS))}"] \
        if isinstance(fmt, str) and fmt not in KNOWN_FORMATS else []


def _numeric_min_max(node: dict, root: bool) -> list[str]:
    if _with(node, "number", "integer") and not ("minimum" in node and "maximum" in node):
        return ["Schema with numeric type doesn't contain minimum and maximum properties"]
    return []


def _string_length(node: dict, root: bool) -> list[str]:
    if _with(node, "string") and "enum" not in node and "maxLength" not in node and node.get("format") not in KNOWN_FORMATS:
        return ["Schema with string type doesn't contain maxLength property or other ways to extract max length"]
    return []


def _optional_null(node: dict, root: bool) -> list[str]:
    props = node.get("properties")
    if not isinstance(props, dict):
        return []
    required = set(node.get("required") or []) if isinstance(node.get("required"), list) else set()
    out = []
    for name, sub in props.items():
        if name not in required and isinstance(sub, dict) and not _with(sub, "null"):
            out.append(f"Optional field [{name}] doesn't allow null type")
    return out


def _description(node: dict, root: bool) -> list[str]:
    return [] if "description" in node else ["Schema doesn't contain description property"]


def _schema_uri(node: dict, root: bool) -> list[str]:
    if root and node.get("$schema") != SELF_DESC_URI:
        return [f"Schema doesn't begin with valid $schema. Expected {SELF_DESC_URI}"]
    return []


def _bq_chars(node: dict, root: bool) -> list[str]:
    props = node.get("properties")
    bad = [k for k in props if not _BQ_CHARS.match(k)] if isinstance(props, dict) else []
    return [f"Property names [{', '.join(bad)}] contain characters BigQuery disallows (only A-Z, a-z, 0-9, _)"] if bad else []


def _bq_start(node: dict, root: bool) -> list[str]:
    props = node.get("properties")
    bad = [k for k in props if not _BQ_START.match(k)] if isinstance(props, dict) else []
    return [f"Property names [{', '.join(bad)}] must start with a letter or an underscore for BigQuery"] if bad else []


LINTERS: dict[str, tuple[str, Check]] = {
    "rootObject": (WARNING, _root_object),
    "numericMinimumMaximum": (ERROR, _min_max("minimum", "maximum", "Schema with numeric type")),
    "stringMinMaxLength": (ERROR, _min_max("minLength", "maxLength", "Schema with string type")),
    "stringMaxLengthRange": (WARNING, _max_length_range),
    "arrayMinMaxItems": (ERROR, _min_max("minItems", "maxItems", "Schema with array type")),
    "numericProperties": (ERROR, _keywords(_NUMBER_KEYS, ("number", "integer"), "numeric")),
    "stringProperties": (ERROR, _keywords(_STRING_KEYS, ("string",), "string")),
    "arrayProperties": (ERROR, _keywords(_ARRAY_KEYS, ("array",), "array")),
    "objectProperties": (ERROR, _keywords(_OBJECT_KEYS, ("object",), "object")),
    "requiredPropertiesExist": (ERROR, _required_exist),
    "unknownFormats": (WARNING, _unknown_formats),
    "numericMinMax": (WARNING, _numeric_min_max),
    "stringLength": (WARNING, _string_length),
    "optionalNull": (INFO, _optional_null),
    "description": (INFO, _description),
    "schemaUri": (ERROR, _schema_uri),
    "bqDisallowedCharacters": (WARNING, _bq_chars),
    "bqIllegalStart": (WARNING, _bq_start),
}
SKIPPABLE = tuple(name for name, (level, _) in LINTERS.items() if level != ERROR)


def check_skips(skip_checks: Iterable[str]) -> tuple[str, ...]:
    skips = tuple(s for s in skip_checks if s)
    for name in skips:
        if name not in LINTERS:
            raise ValueError(f"unknown linter {name!r}; linters: {', '.join(LINTERS)}")
        if LINTERS[name][0] == ERROR:
            raise ValueError(f"linter {name!r} reports errors and cannot be skipped; skippable: {', '.join(SKIPPABLE)}")
    return skips


def _subschemas(node: Any, pointer: str = ""):
    """The subschemas schema-ddl traverses (not anyOf/allOf/not/definitions)."""
    if not isinstance(node, dict):
        return
    yield pointer, node
    items = node.get("items")
    if isinstance(items, list):
        for i, sub in enumerate(items):
            yield from _subschemas(sub, f"{pointer}/items/{i}")
    elif isinstance(items, dict):
        yield from _subschemas(items, f"{pointer}/items")
    for key in ("additionalItems", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _subschemas(node[key], f"{pointer}/{key}")
    for key in ("properties", "patternProperties"):
        if isinstance(node.get(key), dict):
            for name, sub in node[key].items():
                yield from _subschemas(sub, f"{pointer}/{key}/{_escape(name)}")
    if isinstance(node.get("oneOf"), list):
        for i, sub in enumerate(node["oneOf"]):
            yield from _subschemas(sub, f"{pointer}/oneOf/{i}")


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def sanity_issues(schema: dict, skip_checks: Iterable[str] = ()) -> list[Issue]:
    skips = set(skip_checks)
    issues = []
    for pointer, node in _subschemas(schema):
        for name, (level, check) in LINTERS.items():
            if name in skips:
                continue
            for message in check(node, pointer == ""):
                issues.append(Issue(level, name, pointer or "/", message))
    return issues


def syntax_issues(schema: Any) -> list[Issue]:
    """Draft-04 meta-schema violations (ERROR), with the Iglu envelope keys set aside."""
    body = schema_body(schema) if isinstance(schema, dict) else schema
    validator = Draft4Validator(Draft4Validator.META_SCHEMA, format_checker=Draft4Validator.FORMAT_CHECKER)
    return [
        Issue(ERROR, "syntax", "/" + "/".join(_escape(str(p)) for p in e.absolute_path),
              f"Could not validate the schema, path: {'/'.join(map(str, e.absolute_path)) or '/'}, message: {e.message}")
        for e in validator.iter_errors(body)
    ]


_STRICT_META = None


def _strict_meta() -> dict:
    """Draft-04 meta-schema with additionalProperties:false everywhere: catches misspelled keywords."""
    global _STRICT_META
    if _STRICT_META is None:
        meta = json.loads(json.dumps(Draft4Validator.META_SCHEMA))
        meta["additionalProperties"] = False
        meta["properties"]["$schema"] = {"type": "string"}
        meta["properties"]["self"] = {"type": "object"}
        meta["properties"]["$supersededBy"] = {"type": "string"}
        meta["properties"]["$supersedes"] = {"type": "array"}
        _STRICT_META = meta
    return _STRICT_META


_VERSION = re.compile(r"^[1-9][0-9]*(-(0|[1-9][0-9]*)){2}$")


def self_syntax_issues(schema: Any) -> list[Issue]:
    """Iglu Server's SelfSyntaxChecker: Iglu envelope rules (ERROR) and unknown keywords (WARNING)."""
    if not isinstance(schema, dict):
        return [Issue(ERROR, "selfSyntax", "/", "JSON Schema is not self-describing")]
    issues = []
    try:
        parse_self_describing_schema(schema)
    except ParseError as exc:
        issues.append(Issue(ERROR, "selfSyntax", "/", f"JSON Schema is not self-describing ({exc.code})"))
    for key in ("$supersededBy",):
        if key in schema and not (isinstance(schema[key], str) and _VERSION.match(schema[key])):
            issues.append(Issue(ERROR, "selfSyntax", f"/{key}", f"{key} must be a SchemaVer such as 1-0-1"))
    if "$supersedes" in schema:
        value = schema["$supersedes"]
        if not (isinstance(value, list) and all(isinstance(v, str) and _VERSION.match(v) for v in value)):
            issues.append(Issue(ERROR, "selfSyntax", "/$supersedes", "$supersedes must be an array of SchemaVers"))
    strict = Draft4Validator(_strict_meta())
    for e in strict.iter_errors(schema):
        if e.validator == "additionalProperties":
            issues.append(Issue(WARNING, "strictSyntax", "/" + "/".join(_escape(str(p)) for p in e.absolute_path),
                                f"Unknown keyword: {e.message}"))
    return issues


def schema_checks(schema: Any) -> list[Issue]:
    """What the local Iglu Server reports before publishing: syntax, Iglu syntax and every linter."""
    issues = self_syntax_issues(schema) + syntax_issues(schema)
    if isinstance(schema, dict) and not any(i.level == ERROR for i in issues):
        issues += sanity_issues(schema)
    return issues


# ---- files, paths and version sequences (igluctl lint) -------------------------------------
@dataclasses.dataclass
class SchemaResult:
    path: str
    key: SchemaKey | None
    issues: list[Issue]

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def label(self) -> str:
        return self.key.path if self.key else self.path


@dataclasses.dataclass
class LintReport:
    results: list[SchemaResult]
    errors: list[str]  # problems that are not one schema's (gaps, missing 1-0-0, unreadable input)

    @property
    def ok(self) -> bool:
        return not self.errors and all(r.ok for r in self.results)

    def text(self) -> str:
        lines = list(self.errors)
        for r in self.results:
            if r.ok:
                lines.append(f"OK: {r.label}")
            else:
                lines.append(f"FAILURE: Schema [{r.label}] contains {len(r.issues)} following issues:")
                lines.extend(f"{i}. {issue}" for i, issue in enumerate(r.issues, 1))
        lines.append(f"TOTAL: {sum(r.ok for r in self.results)} valid schemas")
        lines.append(f"TOTAL: {sum(not r.ok for r in self.results)} schemas didn't pass validation")
        return "\n".join(lines)

    def as_json(self) -> dict:
        return {"ok": self.ok, "errors": self.errors, "schemas": [
            {"path": r.path, "key": r.key.uri if r.key else None, "ok": r.ok,
             "issues": [dict(i.as_json(), linter=i.linter) for i in r.issues]} for r in self.results]}


def _files(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    files, errors = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            # In a directory only jsonschema files are linted (avro/thrift wrappers are not JSON Schema).
            for f in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                if f.parent.name == "jsonschema":
                    files.append(f)
        else:
            errors.append(f"Path [{path}] does not exist")
    return files, errors


def lint_schema(schema: Any, skip_checks: Iterable[str] = ()) -> list[Issue]:
    """Syntax then sanity issues of one schema JSON (what igluctl reports per schema)."""
    issues = syntax_issues(schema)
    if isinstance(schema, dict) and not issues:
        issues += sanity_issues(schema, check_skips(skip_checks))
    return issues


def lint_paths(
    paths: Iterable[str | os.PathLike], skip_checks: Iterable[str] = (), skip_schemas: Iterable[str] = ()
) -> LintReport:
    """Lint files and directories like ``igluctl lint [--skip-checks] [--skip-schemas]``."""
    skips = check_skips(skip_checks)
    skip_keys = set(skip_schemas)
    files, errors = _files(paths)
    results: list[SchemaResult] = []
    versions: dict[tuple[str, str], list[SchemaVer]] = {}
    for file in files:
        try:
            schema = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            results.append(SchemaResult(str(file), None, [Issue(ERROR, "json", "/", f"File [{file}] is not valid JSON: {exc}")]))
            continue
        try:
            key = parse_self_describing_schema(schema)
        except ParseError as exc:
            results.append(SchemaResult(str(file), None, [Issue(ERROR, "selfDescribing", "/",
                           f"JSON Schema in file [{file}] is not valid, {exc.code}")]))
            continue
        if key.uri in skip_keys:
            continue
        issues = []
        if tuple(file.parts[-4:]) != (key.vendor, key.name, key.format, str(key.version)):
            issues.append(Issue(ERROR, "pathMismatch", "/",
                                f"Path of file [{file}] does not match its self-describing key {key.path}"))
        issues += lint_schema(schema, skips)
        versions.setdefault((key.vendor, key.name), []).append(key.version)
        results.append(SchemaResult(str(file), key, issues))
    for (vendor, name), vers in sorted(versions.items()):
        gap = version_gap(vers)
        if gap:
            errors.append(f"Schemas of [{vendor}/{name}] {gap}")
    return LintReport(results, errors)


def version_gap(versions: list[SchemaVer]) -> str | None:
    """None when versions start at 1-0-0 and each steps by one addition, revision or model."""
    vers = sorted(set(versions))
    if not vers or vers[0] != SchemaVer(1, 0, 0):
        return "do not contain initial 1-0-0 schema"
    for prev, cur in zip(vers, vers[1:]):
        ok = (
            (cur.model, cur.revision, cur.addition) == (prev.model, prev.revision, prev.addition + 1)
            or (cur.model, cur.revision, cur.addition) == (prev.model, prev.revision + 1, 0)
            or (cur.model, cur.revision, cur.addition) == (prev.model + 1, 0, 0)
        )
        if not ok:
            return f"have gaps between schema versions ({prev} then {cur})"
    return None
