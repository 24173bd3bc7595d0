import asyncio
import json

import tornado.httpclient
import tornado.httpserver
import tornado.testing
import tornado.web

from services.enrich.admin import routes
from services.enrich.enrichments.store import EnrichmentStore

from .helpers import SP, sdj

ANON = sdj(f"iglu:{SP}/anon_ip/jsonschema/1-0-1", {"anonOctets": 1})


async def session(tmp_path, calls):
    store = EnrichmentStore(tmp_path / "enrichments", home=tmp_path)
    await store.load()
    sock, port = tornado.testing.bind_unused_port()
    server = tornado.httpserver.HTTPServer(tornado.web.Application(routes(store)))
    server.add_sockets([sock])
    client = tornado.httpclient.AsyncHTTPClient()
    base = f"http://127.0.0.1:{port}"
    out = []
    try:
        for method, path, body, headers in calls:
            r = await client.fetch(base + path, method=method, body=body, headers=headers, raise_error=False,
                                   allow_nonstandard_methods=True)
            out.append((r.code, json.loads(r.body)))
        return out, store
    finally:
        server.stop()


def multipart(config):
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"enrichmentjson\"; filename=\"anon_ip.json\"\r\n"
            f"Content-Type: application/json\r\n\r\n{json.dumps(config)}\r\n--{boundary}--\r\n")
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_list_put_delete_post(tmp_path):
    body, headers = multipart(ANON)
    bad = sdj(f"iglu:{SP}/anon_ip/jsonschema/1-0-1", {"anonOctets": 7, "x": 1})
    (listing, put, get, bad_put, delete, post, missing), store = asyncio.run(session(tmp_path, [
        ("GET", "/enrichments", None, {}),
        ("PUT", "/enrichments/anon_ip", json.dumps(ANON), {"Content-Type": "application/json"}),
        ("GET", "/enrichments/anon_ip", None, {}),
        ("PUT", "/enrichments/anon_ip", json.dumps(bad), {}),
        ("DELETE", "/enrichments/anon_ip", None, {}),
        ("POST", "/enrichments", body, headers),
        ("DELETE", "/enrichments/nothing_here", None, {}),
    ]))
    assert listing[0] == 200
    names = {e["name"]: e for e in listing[1]["enrichments"]}
    assert set(names["ua_parser_config"]) >= {"name", "enabled", "config", "schema", "version", "validated"}
    assert put[0] == 200 and put[1]["enrichment"]["enabled"] is True and put[1]["version"] != listing[1]["version"]
    assert get == (200, put[1]["enrichment"])
    assert bad_put[0] == 400 and bad_put[1]["status"] == 400 and len(bad_put[1]["errors"]) == 2
    assert delete[0] == 200 and delete[1]["enrichment"]["enabled"] is False
    assert post[0] == 200 and post[1]["enrichment"]["enabled"] is True and post[1]["version"] == store.current.version
    assert missing[0] == 404 and missing[1]["status"] == 404
    assert "anon_ip" in {e.name for e in store.current.active}


def test_not_json(tmp_path):
    (resp,), _ = asyncio.run(session(tmp_path, [("PUT", "/enrichments/anon_ip", "{", {})]))
    assert resp[0] == 400 and "JSON" in resp[1]["error"]
