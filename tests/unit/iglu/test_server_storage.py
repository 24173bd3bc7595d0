"""Server internals without HTTP: the super key lifecycle, the generation file, publish order rules."""

import uuid

import pytest

from services.iglu.core import SchemaKey, SchemaVer
from services.iglu.server.auth import SUPER, Permission, ensure_super_key, permission_for
from services.iglu.server.publish import cursor_problem
from services.iglu.server.storage import Storage


def test_super_key_generated_stored_and_replaced(tmp_path):
    storage = Storage(tmp_path)
    generated = ensure_super_key(storage, None)
    assert uuid.UUID(generated) and permission_for(storage, generated) == SUPER
    assert ensure_super_key(storage, None) == generated  # kept across restarts
    configured = str(uuid.uuid4())
    assert ensure_super_key(storage, configured) == configured
    assert permission_for(storage, configured).is_super
    assert permission_for(storage, generated).anonymous  # the old key lost its rights
    with pytest.raises(ValueError):
        ensure_super_key(storage, "not-a-uuid")


def test_generation_file_changes_on_every_write(tmp_path):
    storage = Storage(tmp_path)
    key = SchemaKey.parse("iglu:com.acme/e/jsonschema/1-0-0")
    seen = set()
    for _ in range(3):
        storage.put(key, {"type": "object"}, False, [])
        seen.add(storage.generation_file.read_text())
    storage.delete(key)
    seen.add(storage.generation_file.read_text())
    assert len(seen) == 4 and Storage(tmp_path).generation == 4


def test_vendor_parts():
    perm = Permission("com.acme", True, "READ")
    assert perm.covers("com.acme") and perm.covers("com.acme.sub") and not perm.covers("com.acmeinc")
    assert not Permission("com.acme", False, "READ").covers("com.acme.sub")
    assert Permission("", True, "READ").covers("anything")
    assert not Permission("com.acme", True, "READ").can_create_schema("com.acme")


@pytest.mark.parametrize("existing, new, ok", [
    ([], "1-0-0", True), ([], "1-0-1", False), (["1-0-0"], "1-0-1", True), (["1-0-0"], "1-1-0", True),
    (["1-0-0"], "2-0-0", True), (["1-0-0"], "2-1-0", False), (["1-0-0", "1-1-0"], "1-0-1", False),
    (["1-0-0", "1-0-1"], "1-0-1", True),
])
def test_version_cursor(existing, new, ok):
    key = SchemaKey("v", "n", "jsonschema", SchemaVer.parse(new))
    assert (cursor_problem(key, [SchemaVer.parse(v) for v in existing]) is None) is ok
