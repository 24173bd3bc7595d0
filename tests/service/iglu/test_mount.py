"""Mini's path: the local Iglu Server behind the public origin at /iglu-server, guarded by API keys."""

from services.iglu.push import push

from .http import call
from .test_tools import write_tree


def test_iglu_server_through_the_collector_mount(iglu_server, spawn, tmp_path):
    iglu, key = iglu_server, iglu_server.api_key
    collector = spawn("collector", "services.collector", env={
        "MINI_COLLECTOR_MOUNTS": f"/iglu-server={iglu.url}", "MINI_COLLECTOR_PORT": "0",
        # No broker is needed for the mount; the collector spools tracking payloads meanwhile.
        "MINI_NSQD_TCP_ADDRESS": "127.0.0.1:9", "MINI_NSQD_HTTP_ADDRESS": "127.0.0.1:9"})
    base = f"{collector.url}/iglu-server"
    write_tree(tmp_path, "com.mounted", ["1-0-0", "1-0-1"])
    assert [r.status for r in push(tmp_path, base, key)] == [201, 201]  # igluctl-style push through the mount
    path = "/iglu-server/api/schemas/com.mounted/e/jsonschema/1-0-1"
    assert call(collector.url, "GET", path)[:2] == (404, {"message": "The schema is not found"})  # private, no key
    assert call(collector.url, "GET", path, headers={"apikey": key})[0] == 200
    assert call(collector.url, "GET", "/iglu-server/api/meta/health")[:2] == (200, "OK")
    # mini status reads the super key from /status, which the public mount must never expose.
    assert call(iglu.url, "GET", "/status")[1]["api_key"] == key
    status, body, _ = call(collector.url, "GET", "/iglu-server/status")
    assert status == 404 and key not in str(body)
