"""igluctl lint rules (iglu.md §6): the Iglu Central oracle, and one breaking schema per rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.iglu import cli
from services.iglu.core import SELF_DESC_URI
from services.iglu.lint import (
    ERROR, IGLU_CENTRAL_CI_SKIP, IGLU_CENTRAL_SKIP, INFO, LINTERS, SKIPPABLE, WARNING, lint_paths, lint_schema,
)

SELF = {"vendor": "com.acme", "name": "s", "format": "jsonschema", "version": "1-0-0"}


def schema(**body):
    base = {"$schema": SELF_DESC_URI, "self": SELF, "description": "d", "type": "object",
            "properties": {"p": {"description": "d", "type": ["string", "null"], "maxLength": 5}}}
    base.update(body)
    return base


def prop(**sub):
    return schema(properties={"p": {"description": "d", **sub}}, required=["p"])


BREAKERS = {
    "rootObject": schema(type="array", properties=None) | {"items": {"description": "d", "type": "null"}},
    "numericMinimumMaximum": prop(type="integer", minimum=5, maximum=1),
    "stringMinMaxLength": prop(type="string", minLength=5, maxLength=1),
    "stringMaxLengthRange": prop(type="string", maxLength=70000),
    "arrayMinMaxItems": prop(type="array", minItems=3, maxItems=1, items={"description": "d", "type": "null"}),
    "numericProperties": prop(type="string", maxLength=3, minimum=1),
    "stringProperties": prop(type="integer", minimum=0, maximum=1, maxLength=3),
    "arrayProperties": prop(type="string", maxLength=3, minItems=1),
    "objectProperties": prop(type="string", maxLength=3, required=["x"]),
    "requiredPropertiesExist": schema(additionalProperties=False, required=["p", "ghost"]),
    "unknownFormats": prop(type="string", format="ipv6"),  # schema-ddl's "ivp6" spelling: reported
    "numericMinMax": prop(type="integer", minimum=0),
    "stringLength": prop(type="string"),
    "optionalNull": schema(properties={"p": {"description": "d", "type": "string", "maxLength": 3}}),
    "description": prop(type="string", maxLength=3) | {"description": None},
    "schemaUri": schema() | {"$schema": "http://json-schema.org/draft-04/schema#"},
    "bqDisallowedCharacters": schema(properties={"a-b": {"description": "d", "type": ["string", "null"], "maxLength": 2}}),
    "bqIllegalStart": schema(properties={"1a": {"description": "d", "type": ["string", "null"], "maxLength": 2}}),
}


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    return value


def test_the_clean_base_schema_passes_every_linter():
    assert lint_schema(schema()) == []


@pytest.mark.parametrize("linter", sorted(LINTERS))
def test_each_rule_has_a_breaking_schema(linter):
    issues = lint_schema(_clean(BREAKERS[linter]))
    assert linter in {i.linter for i in issues}, issues
    assert all(i.level == LINTERS[i.linter][0] for i in issues)
    if linter in SKIPPABLE:
        assert linter not in {i.linter for i in lint_schema(_clean(BREAKERS[linter]), [linter])}


def test_levels():
    assert LINTERS["numericMinimumMaximum"][0] == ERROR and LINTERS["rootObject"][0] == WARNING
    assert LINTERS["optionalNull"][0] == INFO and LINTERS["description"][0] == INFO


def test_error_linters_cannot_be_skipped():
    with pytest.raises(ValueError):
        lint_schema(schema(), ["numericMinimumMaximum"])


def test_linters_do_not_descend_into_anyof_or_definitions():
    bad = {"description": "d", "type": "integer", "minimum": 9, "maximum": 1}
    assert lint_schema(schema(definitions={"x": bad}, anyOf=[bad])) == []
    assert "numericMinimumMaximum" in {i.linter for i in lint_schema(schema(oneOf=[bad]))}


def test_syntax_errors_come_from_the_draft4_meta_schema():
    issues = lint_schema(schema(type="objekt"))
    assert [i.level for i in issues] == [ERROR] and "Could not validate the schema" in issues[0].message


def test_iglu_central_lints_clean_with_its_ci_skip_list(iglu_central_dir):
    report = lint_paths([iglu_central_dir / "schemas"], IGLU_CENTRAL_SKIP)
    assert report.errors == []
    assert [r.label for r in report.results if not r.ok] == []
    assert len(report.results) >= 600
    assert set(IGLU_CENTRAL_CI_SKIP) < set(IGLU_CENTRAL_SKIP)


def write(root: Path, version: str, **extra) -> Path:
    path = root / "schemas" / "com.acme" / "s" / "jsonschema" / version
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema(self={**SELF, "version": version}, **extra)))
    return path


def test_files_paths_and_version_sequences(tmp_path):
    write(tmp_path, "1-0-0")
    write(tmp_path, "1-0-2")
    report = lint_paths([tmp_path])
    assert report.errors == ["Schemas of [com.acme/s] have gaps between schema versions (1-0-0 then 1-0-2)"]
    assert not report.ok

    lone = tmp_path / "lone"
    write(lone, "1-1-0")
    assert lint_paths([lone]).errors == ["Schemas of [com.acme/s] do not contain initial 1-0-0 schema"]

    moved = tmp_path / "moved"
    path = write(moved, "1-0-0")
    path.rename(path.with_name("1-0-1"))
    assert "pathMismatch" in {i.linter for r in lint_paths([moved]).results for i in r.issues}

    broken = tmp_path / "broken" / "schemas" / "com.acme" / "b" / "jsonschema" / "1-0-0"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    assert not lint_paths([broken]).ok
    assert lint_paths([tmp_path / "missing"]).errors


def test_cli_exit_codes_and_output(tmp_path, capsys):
    write(tmp_path, "1-0-0")
    assert cli.main(["iglu", "lint", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "OK: com.acme/s/jsonschema/1-0-0" in out and "TOTAL: 1 valid schemas" in out
    write(tmp_path, "1-0-1", properties={"p": {"description": "d", "type": "integer", "minimum": 3, "maximum": 1}})
    assert cli.main(["iglu", "lint", str(tmp_path)]) == 1
    assert "FAILURE: Schema [com.acme/s/jsonschema/1-0-1] contains 1 following issues" in capsys.readouterr().out
    assert cli.main(["iglu", "lint", "--skip-schemas", "iglu:com.acme/s/jsonschema/1-0-1", str(tmp_path)]) == 0
    assert "TOTAL: 1 valid schemas" in capsys.readouterr().out
    assert cli.main(["iglu", "lint", "--skip-checks", "numericMinimumMaximum", str(tmp_path)]) == 2
    assert cli.main(["iglu", "lint", "--json", str(tmp_path)]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False
