"""Running payloads locally: ``mini enrich`` and ``POST /enrich`` (nothing is published)."""

import argparse
import asyncio
import base64
import json

import tornado.httpclient
import tornado.httpserver
import tornado.netutil

from services.enrich import cli, local
from services.enrich.app import make_app
from services.enrich.state import State
from tests.unit.enrich import support


def mini_enrich(capsys, *argv, stdin=None, monkeypatch=None):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli.register(sub)
    args = parser.parse_args(["enrich", *argv])
    if stdin is not None:
        import io

        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = args.func(args)
    return code, capsys.readouterr().out.splitlines()


def test_detect():
    assert cli.detect("e=pv&p=web") == "querystring"
    assert cli.detect('{"schema": "x"}') == "body"
    assert cli.detect(base64.b64encode(support.payload(querystring="e=pv")).decode()) == "thrift"


def test_cli_querystring_body_and_thrift(capsys, monkeypatch, tmp_path, iglu_central_dir):
    monkeypatch.setenv("MINI_HOME", str(tmp_path))
    monkeypatch.setenv("MINI_IGLU_MIRROR_DIRS", str(iglu_central_dir))  # offline: Iglu Central from the copy
    code, lines = mini_enrich(capsys, "e=pv&p=web&tv=js-4&url=https%3A%2F%2Fa.example%2Fx")
    assert code == 0 and len(lines) == 1
    fields = lines[0].split("\t")
    assert len(fields) == 131 and fields[5] == "page_view" and fields[33] == "a.example"
    body = support.post_body(dict(e="pv", p="web", tv="js", aid="one"), dict(e="pp", p="web", tv="js"))
    code, lines = mini_enrich(capsys, "--json", stdin=body, monkeypatch=monkeypatch)
    assert code == 0 and [json.loads(line)["event"] for line in lines] == ["page_view", "page_ping"]
    thrift = base64.b64encode(support.payload(querystring="e=pv&p=desktop&tv=js")).decode()
    code, lines = mini_enrich(capsys, "--thrift", thrift)
    assert code == 1 and json.loads(lines[0])["schema"].endswith("/schema_violations/jsonschema/2-0-1")


def test_local_run_api(iglu):
    outcome = local.run_sync(querystring="e=pv&p=web&tv=js", pipeline=support.pipeline(iglu))
    assert outcome.events == {"good": 1}
    report = local.outcome_json(outcome)
    assert report["good_events"][0]["event"] == "page_view" and report["bad"] == []


def test_post_enrich_and_status_over_http(iglu):
    from services.enrich.service import load_settings

    async def go():
        state = State(load_settings({"MINI_HOME": "/nonexistent-mini-home"}), iglu)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server = tornado.httpserver.HTTPServer(make_app(state.settings, state))
        server.add_sockets(sockets)
        base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        http = tornado.httpclient.AsyncHTTPClient()
        try:
            response = await http.fetch(base + "/enrich", method="POST",
                                        body=json.dumps({"querystring": "e=pv&p=web&tv=js"}))
            report = json.loads(response.body)
            assert report["events"] == {"good": 1} and len(report["good"][0].split("\t")) == 131
            response = await http.fetch(base + "/enrich", method="POST", body=json.dumps(
                {"body": {"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
                          "data": [{"e": "pv", "p": "web", "tv": "js"}]}}))
            assert json.loads(response.body)["outcome"] == "with_events"
            response = await http.fetch(base + "/enrich", method="POST", body="[]", raise_error=False)
            assert response.code == 400 and json.loads(response.body)["status"] == 400
            status = json.loads((await http.fetch(base + "/status")).body)
            assert status["counters"]["payloads"] == 0  # dry runs are not in the ledger
            assert (await http.fetch(base + "/health")).body == b"ok"
        finally:
            server.stop()

    asyncio.run(go())
