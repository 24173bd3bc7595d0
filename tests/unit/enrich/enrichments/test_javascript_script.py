import base64
import time

import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.javascript_script import JavascriptScript

from .helpers import SP, errors_of, failure, parse, parse_errors, run, sdj

SCHEMA = f"iglu:{SP}/javascript_script_config/jsonschema/1-0-1"


def config(source, params=None):
    body = {"script": base64.b64encode(source.encode()).decode()}
    if params is not None:
        body["config"] = params
    return sdj(SCHEMA, body)


SHORT_LIMITS = {"enrich.js_time_limit_s": 0.3, "enrich.js_memory_mb": 32}  # the enrich settings


def test_getters_setters_params_and_returned_entities():
    src = """
    function process(event, params) {
      event.setApp_id(event.getApp_id().toUpperCase());
      return [{schema: "iglu:com.acme/derived/jsonschema/1-0-0",
               data: {ua: event.getUseragent(), tag: params.tag, width: event.getBr_viewwidth()}}];
    }"""
    out, e, _ = run(JavascriptScript, config(src, {"tag": "t1"}),
                    EnrichedEvent(app_id="shop", useragent="UA", br_viewwidth="1024"))
    assert e.app_id == "SHOP"
    assert out == [{"schema": "iglu:com.acme/derived/jsonschema/1-0-0",
                    "data": {"ua": "UA", "tag": "t1", "width": 1024}}]


def test_null_result_and_null_fields():
    out, e, _ = run(JavascriptScript, config("function process(e){ e.setUser_id(null); return null; }"),
                    EnrichedEvent(user_id="u"))
    assert out == [] and e.user_id is None


@pytest.mark.parametrize("src", [
    "function process(e){ throw new Error('Boom'); }",
    "function process(e){ return {schema: 'x'}; }",
    "function process(e){ return [1]; }",
])
def test_throw_or_bad_result_is_a_failure(src):
    messages = failure(JavascriptScript, config(src), EnrichedEvent())
    assert "error" in messages[0]


def test_infinite_loop_stopped_then_next_event_fine():
    src = "function process(e){ if (e.getApp_id() === 'loop') { while (true) {} } return null; }"
    cfg = config(src)
    conf = parse(JavascriptScript, cfg, settings=SHORT_LIMITS)
    started = time.monotonic()
    messages = failure(JavascriptScript, cfg, EnrichedEvent(app_id="loop"), conf=conf)
    assert "time limit" in messages[0]["error"]
    assert time.monotonic() - started < 30
    assert run(JavascriptScript, cfg, EnrichedEvent(app_id="ok"), conf=conf)[0] == []


def test_unbounded_allocation_stopped_then_next_event_fine():
    src = ("var keep = []; function process(e){ if (e.getApp_id() === 'hog') "
           "{ while (true) { keep.push(new Array(100000).fill(7)); } } return null; }")
    cfg = config(src)
    conf = parse(JavascriptScript, cfg, settings=SHORT_LIMITS)
    messages = failure(JavascriptScript, cfg, EnrichedEvent(app_id="hog"), conf=conf)
    assert "memory" in messages[0]["error"]
    assert run(JavascriptScript, cfg, EnrichedEvent(app_id="ok"), conf=conf)[0] == []


@pytest.mark.parametrize("probe", [
    "typeof std", "typeof os", "typeof require", "typeof fetch", "typeof XMLHttpRequest", "typeof process.binding"])
def test_no_host_access(probe):
    src = f"function process(e){{ return [{{schema: 'iglu:com.acme/x/jsonschema/1-0-0', data: {{t: {probe}}}}}]; }}"
    out, _, _ = run(JavascriptScript, config(src), EnrichedEvent())
    assert out[0]["data"]["t"] == "undefined"


def test_module_import_of_files_fails():
    src = "function process(e){ return import('std').then(function(m){ m.open('/etc/passwd','r'); }); }"
    messages = failure(JavascriptScript, config(src), EnrichedEvent())
    assert messages


@pytest.mark.parametrize("body, needle", [
    ({"script": "%%%"}, "base64"),
    ({"script": base64.b64encode(b"function process(e) {").decode()}, "does not load"),
    ({"script": base64.b64encode(b"var x = 1;").decode()}, "process"),
])
def test_invalid_scripts(body, needle):
    errors = parse_errors(JavascriptScript, sdj(SCHEMA, body))
    assert any(needle in e for e in errors), errors


@pytest.mark.parametrize("params", [{}, {"script": 1}, {"script": "eA==", "other": 1}])
def test_invalid_configs(params):
    assert errors_of(sdj(SCHEMA, params))
    assert parse_errors(JavascriptScript, sdj(SCHEMA, params))
