"""The local Iglu Server against Iglu Server 0.14's API (iglu.md §3.3): every endpoint, permissions,
publish rules, reprs, error bodies and bad input, on a real process over loopback."""

from __future__ import annotations

import json

import pytest

from services.iglu.core import SELF_DESC_URI

from .http import call

SUPER_HEADERS: dict = {}


def sdj(vendor, name, version, body=None, **extra):
    return {"$schema": SELF_DESC_URI, **extra,
            "self": {"vendor": vendor, "name": name, "format": "jsonschema", "version": version},
            "description": "test", "type": "object",
            "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 9, "description": "n"}},
            "required": ["n"], "additionalProperties": False, **(body or {})}


@pytest.fixture(scope="module")
def api(server):
    def _call(method, path, body=None, key="super", **kw):
        headers = kw.pop("headers", {})
        if key == "super":
            headers["apikey"] = server.api_key
        elif key:
            headers["apikey"] = key
        return call(server.url, method, path, body, headers=headers, **kw)
    return _call


def put(api, vendor, name, version, key="super", public=False, **kw):
    return api("PUT", f"/api/schemas/{vendor}/{name}/jsonschema/{version}?isPublic={str(public).lower()}",
               sdj(vendor, name, version, **kw), key=key)


def test_meta_endpoints(api, server):
    status, body, headers = api("GET", "/api/meta/health", key=None)
    assert (status, body) == (200, "OK") and headers["content-type"].startswith("text/plain")
    assert api("GET", "/api/meta/health/db")[:2] == (200, "OK")
    assert api("GET", "/health", key=None)[0] == 200
    status, body, _ = api("GET", "/api/meta/server")
    assert status == 200 and body["authInfo"] == {"vendor": "", "schema": "CREATE_VENDOR", "key": ["CREATE", "DELETE"]}
    assert body["patchesAllowed"] is True and body["version"] == "0.14.0" and isinstance(body["schemaCount"], int)
    assert api("GET", "/api/meta/server", key=None)[1]["authInfo"] == {"vendor": "", "schema": None, "key": []}
    status, body, _ = api("GET", "/status", key=None)
    assert status == 200 and "requests" in body["counters"]


def test_run_file_carries_the_super_key(server):
    info = server.info()
    assert info["api_key"] == server.api_key and info["port"] == server.port


def test_publish_and_read_every_repr(api):
    status, body, _ = put(api, "com.reprs", "e", "1-0-0", public=True)
    assert (status, body) == (201, {"message": "Schema created", "updated": False,
                                    "location": "iglu:com.reprs/e/jsonschema/1-0-0", "status": 201})
    status, body, _ = api("GET", "/api/schemas/com.reprs/e/jsonschema/1-0-0", key=None)
    assert status == 200 and list(body)[:2] == ["$schema", "self"] and body == sdj("com.reprs", "e", "1-0-0")
    status, body, _ = api("GET", "/api/schemas/com.reprs/e/jsonschema/1-0-0?repr=meta", key=None)
    assert body["metadata"]["isPublic"] is True and set(body["metadata"]) == {"createdAt", "updatedAt", "isPublic"}
    assert api("GET", "/api/schemas/com.reprs/e/jsonschema/1-0-0?repr=uri", key=None)[1] == "iglu:com.reprs/e/jsonschema/1-0-0"
    assert api("GET", "/api/schemas/com.reprs/e/jsonschema/1-0-0?repr=xml")[0] == 400
    # A bare body takes its self from the path.
    bare = {"type": "object", "description": "bare", "properties": {}}
    assert api("PUT", "/api/schemas/com.reprs/e/jsonschema/1-0-1?isPublic=true", bare)[0] == 201
    assert api("GET", "/api/schemas/com.reprs/e/jsonschema/1-0-1")[1]["self"]["version"] == "1-0-1"


def test_self_mismatch(api):
    status, body, _ = api("PUT", "/api/schemas/com.mismatch/e/jsonschema/1-0-0", sdj("com.mismatch", "other", "1-0-0"))
    assert status == 400
    assert body["uriSchemaKey"] == "iglu:com.mismatch/e/jsonschema/1-0-0"
    assert body["payloadSchemaKey"] == "iglu:com.mismatch/other/jsonschema/1-0-0" and body["message"].startswith("Mismatch")


def test_patches_overwrite_and_move_to_the_end_of_list_order(api):
    put(api, "com.patch", "e", "1-0-0")
    put(api, "com.patch", "e", "1-0-1")
    status, body, _ = put(api, "com.patch", "e", "1-0-0", body={"description": "patched"})
    assert (status, body["message"], body["updated"], body["status"]) == (200, "Schema updated", True, 200)
    assert api("GET", "/api/schemas/com.patch/e/jsonschema/1-0-0")[1]["description"] == "patched"
    assert api("GET", "/api/schemas/com.patch/e/jsonschema/1")[1] == [
        "iglu:com.patch/e/jsonschema/1-0-1", "iglu:com.patch/e/jsonschema/1-0-0"]


@pytest.mark.parametrize("existing, new, message", [
    ([], "1-0-1", "Preceding SchemaVer in the group is missing, check that schemas published in proper order"),
    ([], "2-0-0", "Preceding SchemaVer in the group is missing, check that schemas published in proper order"),
    (["1-0-0"], "1-2-0", "Preceding SchemaVer in the group is missing, check that schemas published in proper order"),
    (["1-0-0"], "3-0-0", "Preceding SchemaVer in the group is missing, check that schemas published in proper order"),
    (["1-0-0", "1-1-0"], "1-0-1", "The schema version is not sequential"),
    (["1-0-0"], "1-1-0", None),
    (["1-0-0", "1-0-1"], "2-0-0", None),
])
def test_schemaver_order(api, existing, new, message):
    name = "g" + "".join(existing).replace("-", "") + new.replace("-", "")
    for version in existing:
        assert put(api, "com.gaps", name, version)[0] == 201
    status, body, _ = put(api, "com.gaps", name, new)
    if message is None:
        assert status == 201
    else:
        assert (status, body) == (409, {"message": message})
        assert api("GET", f"/api/schemas/com.gaps/{name}/jsonschema/{new}")[0] == 404  # nothing stored


def test_public_and_private_must_not_mix(api):
    put(api, "com.mix", "e", "1-0-0", public=False)
    status, body, _ = put(api, "com.mix", "e", "1-0-1", public=True)
    assert status == 409 and body["message"].startswith("Inconsistent schema availability")


def test_private_schemas_are_404_to_others_and_keys_follow_vendor_parts(api):
    status, keys, _ = api("POST", "/api/auth/keygen", {"vendorPrefix": "com.priv"})
    assert status == 200 and set(keys) == {"read", "write"}
    assert put(api, "com.priv", "e", "1-0-0", key=keys["write"])[0] == 201
    assert put(api, "com.priv.sub", "e", "1-0-0", key=keys["write"])[0] == 201
    assert put(api, "com.privinc", "e", "1-0-0", key=keys["write"]) [:2] == (
        403, {"message": "Authentication error: not authorized"})
    assert put(api, "com.priv", "f", "1-0-0", key=keys["read"])[0] == 403
    assert put(api, "com.priv", "f", "1-0-0", key=None)[0] == 403
    path = "/api/schemas/com.priv/e/jsonschema/1-0-0"
    assert api("GET", path, key=None)[:2] == (404, {"message": "The schema is not found"})
    assert api("GET", path, key="6f1d8a4e-0000-4000-8000-000000000000")[0] == 404  # unknown key = anonymous
    assert api("GET", path, key=keys["read"])[0] == 200
    assert "iglu:com.priv/e/jsonschema/1-0-0" not in api("GET", "/api/schemas", key=None)[1]
    assert "iglu:com.priv/e/jsonschema/1-0-0" in api("GET", "/api/schemas", key=keys["read"])[1]
    assert api("GET", path, key="not-a-uuid")[:2] == (400, {"message": "Invalid UUID for ApiKey"})
    # Key management needs key actions: only the super key has them.
    assert api("POST", "/api/auth/keygen", {"vendorPrefix": "com.priv"}, key=keys["write"])[0] == 403
    assert api("DELETE", f"/api/auth/keygen?key={keys['read']}", key=keys["write"])[0] == 403
    assert api("DELETE", f"/api/auth/keygen?key={keys['read']}")[:2] == (200, {"message": "Keys have been deleted"})
    assert api("DELETE", "/api/auth/keygen", headers={"key": keys["write"]})[0] == 200  # igluctl's header form
    assert put(api, "com.priv", "g", "1-0-0", key=keys["write"])[0] == 403  # deleted keys are anonymous
    assert api("GET", path, key=keys["read"])[0] == 404


def test_delete_needs_super(api):
    status, keys, _ = api("POST", "/api/auth/keygen", {"vendorPrefix": "*"})
    put(api, "com.del", "e", "1-0-0")
    path = "/api/schemas/com.del/e/jsonschema/1-0-0"
    assert api("DELETE", path, key=keys["write"])[:2] == (401, {"message": "Not enough permissions"})
    assert api("DELETE", path)[:2] == (200, {"message": "Schema deleted"})
    assert api("DELETE", path)[0] == 404
    assert api("GET", path)[0] == 404


def test_post_schemas(api):
    status, body, _ = api("POST", "/api/schemas?isPublic=true", sdj("com.post", "e", "1-0-0"))
    assert status == 201 and body["location"] == "iglu:com.post/e/jsonschema/1-0-0"
    assert api("POST", "/api/schemas", {"type": "object"})[:2] == (400, {"message": "Cannot decode JSON schema"})


def test_listing(api):
    for name in ("a", "b"):
        put(api, "com.list", name, "1-0-0", public=True)
    put(api, "com.list", "a", "2-0-0", public=True)
    assert api("GET", "/api/schemas/com.list", key=None)[1] == [
        "iglu:com.list/a/jsonschema/1-0-0", "iglu:com.list/b/jsonschema/1-0-0", "iglu:com.list/a/jsonschema/2-0-0"]
    assert api("GET", "/api/schemas/com.list/a")[1] == ["iglu:com.list/a/jsonschema/1-0-0", "iglu:com.list/a/jsonschema/2-0-0"]
    assert api("GET", "/api/schemas/com.list/a/jsonschema/2")[1] == ["iglu:com.list/a/jsonschema/2-0-0"]
    canonical = api("GET", "/api/schemas/com.list/a?repr=canonical")[1]
    assert [s["self"]["version"] for s in canonical] == ["1-0-0", "2-0-0"]
    assert api("GET", "/api/schemas/com.list/a/jsonschema/3")[:2] == (404, {"message": "No schemas available"})
    assert "iglu:com.list/b/jsonschema/1-0-0" in api("GET", "/api/schemas")[1]


def test_supersedes(api):
    put(api, "com.sup", "e", "1-0-0", public=True)
    status, _, _ = put(api, "com.sup", "e", "1-0-1", public=True, **{"$supersedes": ["1-0-0"]})
    assert status == 201
    old = api("GET", "/api/schemas/com.sup/e/jsonschema/1-0-0")[1]
    assert old["$supersededBy"] == "1-0-1" and list(old)[:3] == ["$schema", "$supersededBy", "self"]
    assert api("GET", "/api/schemas/com.sup/e/jsonschema/1-0-1")[1]["$supersedes"] == ["1-0-0"]
    assert put(api, "com.sup", "e", "1-0-2", public=True, **{"$supersedes": ["1-0-5"]})[0] == 409


def test_validation_endpoints(api):
    good = sdj("com.val", "e", "1-0-0")
    status, body, _ = api("POST", "/api/validation/validate/schema/jsonschema", good)
    assert (status, body) == (200, {"message": "The schema provided is a valid self-describing iglu:com.val/e/jsonschema/1-0-0 schema"})
    bad = sdj("com.val", "e", "1-0-0", body={"properties": {"n": {"type": "integer", "minimum": 5, "maximum": 1}}})
    status, body, _ = api("POST", "/api/validation/validate/schema/jsonschema", bad)
    assert status == 200 and body["message"] == "The schema does not conform to a JSON Schema v4 specification"
    assert {"level": "ERROR", "pointer": "/properties/n"}.items() <= body["report"][0].items()
    assert api("POST", "/api/validation/validate/schema/jsonschema", good, key=None)[0] == 403
    assert api("POST", "/api/schemas/validate/com.val/e/jsonschema/1-0-0", good)[0] == 200  # deprecated alias

    put(api, "com.val", "e", "1-0-0", public=True)
    instance = {"schema": "iglu:com.val/e/jsonschema/1-0-0", "data": {"n": 3}}
    assert api("POST", "/api/validation/validate/instance", instance, key=None)[:2] == (
        200, {"message": "Instance is valid iglu:com.val/e/jsonschema/1-0-0"})
    status, body, _ = api("POST", "/api/validation/validate/instance", {**instance, "data": {"n": "x"}})
    assert body["message"] == "The data for a field instance is invalid against its schema"
    assert body["report"][0]["path"] == "$.n" and body["report"][0]["keyword"] == "type"
    assert api("POST", "/api/validation/validate/instance", {"data": 1})[:2] == (
        400, {"message": "JSON payload is not self-describing, INVALID_DATA_PAYLOAD"})
    assert api("POST", "/api/validation/validate/instance", {"schema": "iglu:com.val/nope/jsonschema/1-0-0", "data": 1})[0] == 404


def test_error_bodies_and_bad_input_store_nothing(api, server):
    before = api("GET", "/api/schemas")[1]
    cases = [
        (api("GET", "/nowhere"), 404, {"message": "The endpoint does not exist"}),
        (api("GET", "/api/schemas/com.bad/e/jsonschema/1-0-x"), 400,
         {"message": "Cannot parse version part '1-0-x' as SchemaVer, INVALID_SCHEMAVER"}),
        (api("PUT", "/api/schemas/com.bad/e/jsonschema/0-0-1", sdj("com.bad", "e", "1-0-0")), 400, None),
        (api("PUT", "/api/schemas/com.bad/e/jsonschema/1-0-0", raw=b"{not json"), 400, None),
        (api("PUT", "/api/schemas/com.bad/e/jsonschema/1-0-0", sdj("com.bad", "e", "1-0-0", body={"type": "objekt"})), 400, None),
        (api("PUT", "/api/schemas/com.bad/e/jsonschema/1-0-0", raw=b"[" * 100 + b"]" * 100), 400, None),
        (api("PUT", "/api/schemas/com.bad/e/jsonschema/1-0-0", raw=b'{"type": "object", "maximum": NaN}'), 400, None),
        (api("PUT", "/api/schemas/com.bad/e/jsonschema/1-0-0", raw=b" " * 100001), 413, {"message": "The payload is too large"}),
        (api("PUT", "/api/schemas/..%2F..%2Fetc/e/jsonschema/1-0-0", sdj("com.bad", "e", "1-0-0")), 400, None),
        (api("PUT", "/api/schemas/../e/jsonschema/1-0-0", sdj("..", "e", "1-0-0")), 400, None),
        (api("GET", "/api/schemas/com.bad/e%2F..%2F..", key=None), 400, None),
        (api("PUT", "/api/drafts/com.bad/e/jsonschema/1", {}), 501, {"message": "TODO"}),
    ]
    for (status, body, headers), want_status, want_body in cases:
        assert status == want_status, body
        assert headers["content-type"].startswith("application/json")
        assert isinstance(body, dict) and isinstance(body.get("message"), str)
        if want_body is not None:
            assert body == want_body
    # A schema with draft-06 keywords is still a valid draft-4 schema, but a non-draft-4 $schema fails.
    other = sdj("com.bad", "e", "1-0-0")
    other["$schema"] = "http://json-schema.org/draft-07/schema#"
    assert api("PUT", "/api/schemas/com.bad/e/jsonschema/1-0-0", other)[0] == 400
    assert api("GET", "/api/schemas")[1] == before
    assert api("GET", "/api/meta/health")[:2] == (200, "OK")


def test_cors(api):
    status, _, headers = api("OPTIONS", "/api/schemas", key=None)
    assert status == 200 and headers["access-control-allow-origin"] == "*"
    assert "apikey" in headers["access-control-allow-headers"]


def test_igluctl_static_push_request_sequence(api, server, tmp_path):
    """igluctl 0.13 `static push`: health, temporary keys, one PUT per schema, then key deletion.

    scalaj-http sends its bodies as application/x-www-form-urlencoded; the server must not care."""
    form = "application/x-www-form-urlencoded"
    master = {"apikey": server.api_key}
    status, body, _ = call(server.url, "GET", "/api/meta/health")
    assert "OK" in body  # igluctl's new-server check
    status, keys, _ = call(server.url, "POST", "/api/auth/keygen", raw=b'{"vendorPrefix":"*"}', headers=master,
                           content_type=form)
    assert status == 200 and set(keys) == {"read", "write"}
    for version in ("1-0-0", "1-0-1", "1-1-0", "2-0-0"):
        schema = json.dumps(sdj("com.igluctl", "e", version)).encode()
        status, body, _ = call(server.url, "PUT", f"/api/schemas/com.igluctl/e/jsonschema/{version}?isPublic=false",
                               raw=schema, headers={"apikey": keys["write"]}, content_type=form)
        assert (status, body["message"], body["location"]) == (201, "Schema created", f"iglu:com.igluctl/e/jsonschema/{version}")
    status, body, _ = call(server.url, "PUT", "/api/schemas/com.igluctl/e/jsonschema/1-0-0?isPublic=false",
                           raw=json.dumps(sdj("com.igluctl", "e", "1-0-0")).encode(), headers={"apikey": keys["write"]},
                           content_type=form)
    assert status == 200 and "updated" in body["message"]  # igluctl counts this as "updated"
    for purpose in ("write", "read"):
        status, _, _ = call(server.url, "DELETE", f"/api/auth/keygen?key={keys[purpose]}", headers=master, content_type=form)
        assert status == 200
