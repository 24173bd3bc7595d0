"""The collector's request headers (``"Name: value"`` strings in the CollectorPayload) as pairs."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie


def pairs(headers: list[str]) -> list[tuple[str, str]]:
    out = []
    for header in headers or ():
        name, sep, value = header.partition(":")
        if sep:
            out.append((name.strip(), value.strip()))
    return out


def cookies(headers: list[str]) -> list[tuple[str, str]]:
    """Every cookie of every ``Cookie`` header, in order."""
    out = []
    for name, value in pairs(headers):
        if name.lower() != "cookie":
            continue
        for part in value.split(";"):
            key, sep, val = part.strip().partition("=")
            if sep and key:
                out.append((key.strip(), _unquote(val.strip())))
    return out


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            jar = SimpleCookie(f"x={value}")
            return jar["x"].value
        except CookieError:
            return value[1:-1]
    return value
