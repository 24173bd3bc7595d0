"""Schema tools and live behaviour: push, mirror, changes seen at once in another resolver process,
the super key setting."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid

from mini_kernel.testing.processes import ServiceProcess, child_env
from services.iglu import cli
from services.iglu.core import SELF_DESC_URI
from services.iglu.mirror import mirror

from .http import call


def write_tree(root, vendor, versions, name="e"):
    for version in versions:
        path = root / "schemas" / vendor / name / "jsonschema" / version
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "$schema": SELF_DESC_URI, "self": {"vendor": vendor, "name": name, "format": "jsonschema", "version": version},
            "description": "d", "type": "object", "properties": {}, "additionalProperties": False}))


def test_push_publishes_in_schemaver_order(server, tmp_path, capsys):
    # Versions whose file-name order differs from SchemaVer order (1-0-10 sorts before 1-0-2 as text).
    versions = ["1-0-0"] + [f"1-0-{i}" for i in range(1, 11)] + ["2-0-0"]
    write_tree(tmp_path, "com.push", versions)
    argv = ["iglu", "push", str(tmp_path), "--server", server.url, "--api-key", server.api_key, "--public"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("SUCCESS: Schema created") == 12 and "TOTAL: 12 Schemas successfully uploaded (12 created; 0 updated)" in out
    assert call(server.url, "GET", "/api/schemas/com.push/e/jsonschema/2-0-0")[0] == 200  # public: no key needed
    # Again, finding the server through MINI_HOME's run file: everything is a patch now.
    assert cli.main(["iglu", "push", str(tmp_path), "--data-dir", str(server.home)]) == 1  # private vs public: 409s
    assert "Inconsistent schema availability" in capsys.readouterr().out
    assert cli.main(["iglu", "push", str(tmp_path), "--data-dir", str(server.home), "--public"]) == 0
    assert "(0 created; 12 updated)" in capsys.readouterr().out


def test_mirror_copies_the_whole_stand_in(iglu_central, iglu_central_dir, tmp_path):
    copied = mirror(iglu_central.url, tmp_path / "mirror")
    source = sorted(str(p.relative_to(iglu_central_dir / "schemas")) for p in (iglu_central_dir / "schemas").rglob("*") if p.is_file())
    target = sorted(str(p.relative_to(tmp_path / "mirror" / "schemas")) for p in (tmp_path / "mirror" / "schemas").rglob("*") if p.is_file())
    assert len(source) >= 600 and target == source and sorted(copied) == source
    for rel in source[::50]:
        assert (tmp_path / "mirror" / "schemas" / rel).read_bytes() == (iglu_central_dir / "schemas" / rel).read_bytes()


def test_mirror_cli_from_an_iglu_server(server, tmp_path, capsys):
    write_tree(tmp_path / "src", "com.mirrored", ["1-0-0", "1-0-1"])
    assert cli.main(["iglu", "push", str(tmp_path / "src"), "--server", server.url, "--api-key", server.api_key, "--public"]) == 0
    assert cli.main(["iglu", "mirror", "--from", server.url, "--to", str(tmp_path / "out")]) == 0
    assert "MINI_IGLU_MIRROR_DIRS" in capsys.readouterr().out
    assert (tmp_path / "out" / "schemas" / "com.mirrored" / "e" / "jsonschema" / "1-0-1").is_file()
    assert cli.main(["iglu", "mirror", "--from", "http://127.0.0.1:9/", "--to", str(tmp_path / "none")]) == 1


RESOLVER = textwrap.dedent("""
    import asyncio, json, sys
    from services.common.settings import load
    from services.iglu.client import IgluClient
    from services.iglu.settings import SETTINGS
    client = IgluClient.from_settings(load(SETTINGS))
    loop = asyncio.new_event_loop()
    for line in sys.stdin:
        result = loop.run_until_complete(client.check(json.loads(line)))
        print(json.dumps({"ok": result.ok, "error": result.error}), flush=True)
""")


def test_a_publish_is_seen_by_the_next_lookup_in_another_process(server):
    proc = subprocess.Popen([sys.executable, "-c", RESOLVER], env=child_env(server.home), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def check(data):
        proc.stdin.write(json.dumps({"schema": "iglu:com.hot/e/jsonschema/1-0-0", "data": data}) + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    headers = {"apikey": server.api_key}
    schema = {"$schema": SELF_DESC_URI, "self": {"vendor": "com.hot", "name": "e", "format": "jsonschema", "version": "1-0-0"},
              "description": "d", "type": "object", "properties": {"n": {"type": "integer"}}}
    try:
        missing = check({"n": 1})
        assert missing["error"]["error"] == "ResolutionError"  # and cached: the TTL is 600 s
        assert check({"n": 1})["error"]["error"] == "ResolutionError"
        assert call(server.url, "PUT", "/api/schemas/com.hot/e/jsonschema/1-0-0", schema, headers=headers)[0] == 201
        assert check({"n": 1}) == {"ok": True, "error": None}
        schema["properties"]["n"]["type"] = "string"  # a patch
        assert call(server.url, "PUT", "/api/schemas/com.hot/e/jsonschema/1-0-0", schema, headers=headers)[0] == 200
        assert check({"n": 1})["error"]["dataReports"][0]["keyword"] == "type"
        assert call(server.url, "DELETE", "/api/schemas/com.hot/e/jsonschema/1-0-0", headers=headers)[0] == 200
        assert check({"n": 1})["error"]["error"] == "ResolutionError"
    finally:
        proc.stdin.close()
        proc.wait(30)
        proc.stdout.close()


def test_super_key_setting_and_restart_keeps_key_and_port(tmp_path):
    key = str(uuid.uuid4())
    proc = ServiceProcess("iglu", "services.iglu", tmp_path, env={"MINI_IGLU_SUPER_API_KEY": key})
    proc.start(timeout=90)
    try:
        assert proc.info()["api_key"] == key
        auth = call(proc.url, "GET", "/api/meta/server", headers={"apikey": key})[1]["authInfo"]
        assert auth == {"vendor": "", "schema": "CREATE_VENDOR", "key": ["CREATE", "DELETE"]}
        port = proc.port
    finally:
        proc.stop()
    # Restarted without the setting: the stored key stays, and so does the port resolvers know.
    proc = ServiceProcess("iglu", "services.iglu", tmp_path)
    proc.start(timeout=90)
    try:
        assert proc.info()["api_key"] == key and proc.port == port
    finally:
        proc.stop()
