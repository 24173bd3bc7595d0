"""String formats as Snowplow's validator (networknt 1.0.76, draft 4) checks them.

One function per format; both validators (the compiled fast path and the jsonschema report path)
use these same functions, so their verdicts on formats cannot drift.  Unknown formats pass.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from typing import Callable

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$", re.ASCII
)
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}(?:\.\d+)?$", re.ASCII)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_IPV4 = re.compile(r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$")
_LABEL = r"([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])"
_HOSTNAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
# RFC 3986 URI, ASCII only: scheme ":" then unreserved / reserved / percent-escapes.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")
_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_EMAIL_USER = re.compile(
    r"^(([^\s\x00-\x1f\x7f()<>@,;:\\\".\[\]]+(\.[^\s\x00-\x1f\x7f()<>@,;:\\\".\[\]]+)*)|(\"[^\"]*\"))$"
)
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?$")

# Known TLDs (commons-validator's allowLocal=false): the ISO-3166 country codes plus the generic
# and sponsored TLDs in common use.  An approximation of IANA's list, documented in the README.
_CC = (
    "ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt bw by bz "
    "ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et eu fi fj fk fm "
    "fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is "
    "it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mg mh mk ml mm "
    "mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr "
    "ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sk sl sm sn so sr ss st su sv sx sy sz tc td tf tg th "
    "tj tk tl tm tn to tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw"
)
_GENERIC = (
    "com net org info biz edu gov mil int arpa aero asia cat coop jobs mobi museum name post pro tel travel xxx "
    "app dev io ai cloud online site store tech shop blog xyz top club page web wiki email mail news media "
    "agency digital solutions services systems software network link live life world today company group global "
    "london berlin paris nyc tokyo amsterdam academy design studio art photo music video games bank finance "
    "money health care law legal school university education science space events social team work zone"
)
KNOWN_TLDS = frozenset((_CC + " " + _GENERIC).split())


_ALPHA = re.compile(r"^[a-zA-Z]+$")
_ALNUM = re.compile(r"^[a-zA-Z0-9]+$")


def is_date(value: str) -> bool:
    match = _DATE.match(value)
    if not match:
        return False
    try:
        datetime.date(*(int(g) for g in match.groups()))
    except ValueError:
        return False
    return True


def is_date_time(value: str) -> bool:
    match = _DATE_TIME.match(value)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    if hour > 23 or minute > 59 or second > 60:  # leap second tolerated
        return False
    if match.group(9) is not None and (int(match.group(9)) > 23 or int(match.group(10)) > 59):
        return False
    return True


def is_time(value: str) -> bool:
    return bool(_TIME.match(value))


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


def is_ipv4(value: str) -> bool:
    return bool(_IPV4.match(value))


def is_ipv6(value: str) -> bool:
    if value != value.strip() or "%" in value or ":" not in value:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def is_hostname(value: str) -> bool:
    return bool(_HOSTNAME.match(value))


def is_uri(value: str) -> bool:
    return bool(_URI.match(value)) and not _PCT.search(value)


def _is_domain(domain: str) -> bool:
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253:
        return False
    if not all(_DOMAIN_LABEL.match(label) for label in labels):
        return False
    return labels[-1].lower() in KNOWN_TLDS


def is_email(value: str) -> bool:
    if value.endswith(".") or "@" not in value:
        return False
    user, _, domain = value.rpartition("@")
    if not user or len(user) > 64 or not _EMAIL_USER.match(user):
        return False
    if domain.startswith("[") and domain.endswith("]"):
        inner = domain[1:-1]
        return is_ipv4(inner) or is_ipv6(inner)
    return _is_domain(domain)


# The formats networknt checks in V4 mode that Iglu Central uses, plus a few cheap ones.
FORMATS: dict[str, Callable[[str], bool]] = {
    "date": is_date,
    "date-time": is_date_time,
    "time": is_time,
    "uuid": is_uuid,
    "email": is_email,
    "ipv4": is_ipv4,
    "ip-address": is_ipv4,
    "ipv6": is_ipv6,
    "hostname": is_hostname,
    "uri": is_uri,
    "alpha": lambda v: bool(_ALPHA.match(v)),
    "alphanumeric": lambda v: bool(_ALNUM.match(v)),
}
