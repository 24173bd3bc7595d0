"""Iglu Server 0.14's permission model: API keys with a vendor, read/write/super rights.

A vendor matches by dot-separated parts (``com.acme`` covers ``com.acme.x``, not ``com.acmeinc``);
an empty wildcard vendor covers everything.  Unknown keys are anonymous, so nothing leaks.
"""

from __future__ import annotations

import dataclasses
import uuid

from .storage import PermissionRow, Storage

READ, BUMP, CREATE, CREATE_VENDOR = "READ", "BUMP", "CREATE", "CREATE_VENDOR"
KEY_CREATE, KEY_DELETE = "CREATE", "DELETE"


class InvalidApiKey(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Permission:
    vendor: str = ""
    wildcard: bool = False
    schema_action: str | None = None
    key_actions: frozenset = frozenset()

    def covers(self, vendor: str) -> bool:
        if self.wildcard and self.vendor == "":
            return True
        mine, theirs = self.vendor.split("."), vendor.split(".")
        return mine == theirs or (self.wildcard and theirs[: len(mine)] == mine)

    def can_read(self, vendor: str) -> bool:
        return (self.schema_action is not None or bool(self.key_actions)) and self.covers(vendor)

    def can_create_schema(self, vendor: str) -> bool:
        return ((self.schema_action not in (None, READ)) or bool(self.key_actions)) and self.covers(vendor)

    @property
    def is_super(self) -> bool:
        return self == SUPER

    @property
    def anonymous(self) -> bool:
        return self.schema_action is None and not self.key_actions

    def auth_info(self) -> dict:
        return {"vendor": self.vendor, "schema": self.schema_action, "key": sorted(self.key_actions)}


NOOP = Permission()
SUPER = Permission("", True, CREATE_VENDOR, frozenset({KEY_CREATE, KEY_DELETE}))


def parse_key(raw: str) -> str:
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError:
        raise InvalidApiKey(raw) from None


def permission_for(storage: Storage, raw: str | None) -> Permission:
    """The caller's permission; raises :class:`InvalidApiKey` for a header that is not a UUID."""
    if raw is None or raw == "":
        return NOOP
    row = storage.permission(parse_key(raw))
    if row is None:
        return NOOP
    return Permission(row.vendor, row.wildcard, row.schema_action, frozenset(row.key_actions))


def ensure_super_key(storage: Storage, configured: str | None) -> str:
    """The super key: the configured one, else the stored one, else a new one (stored)."""
    stored = storage.meta_get("super_api_key")
    key = parse_key(configured) if configured else (stored or str(uuid.uuid4()))
    if stored and stored != key:
        storage.delete_permission(stored)
    storage.meta_set("super_api_key", key)
    storage.add_permission(PermissionRow(key, "", True, CREATE_VENDOR, (KEY_CREATE, KEY_DELETE)))
    return key


def generate_keys(storage: Storage, vendor_prefix: str) -> dict:
    vendor = "" if vendor_prefix in ("*", "") else vendor_prefix
    read, write = str(uuid.uuid4()), str(uuid.uuid4())
    storage.add_permission(PermissionRow(read, vendor, True, READ, ()))
    storage.add_permission(PermissionRow(write, vendor, True, CREATE_VENDOR, ()))
    return {"read": read, "write": write}
