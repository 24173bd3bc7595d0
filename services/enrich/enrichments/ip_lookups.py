"""IP lookups (``ip_lookups`` 2-0-x): geo, ISP, domain, connection type and ASN from MaxMind-format files.

Each configured database (Snowplow's fixed file names, e.g. ``GeoLite2-City.mmdb``) is an asset;
``geo_*``/``ip_*`` fields are set from ``user_ipaddress``, the ASN database adds an ``asn`` entity.  An
address the database does not hold (or that is not an IP) leaves the fields empty, as Snowplow does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import geoip2.database
import geoip2.errors

from . import assets, parameters
from .registry import ConfigError, Enrichment

ASN_SCHEMA = "iglu:com.snowplowanalytics.snowplow/asn/jsonschema/1-0-0"
DATABASES = {
    "geo": ("GeoLite2-City.mmdb", "GeoIP2-City.mmdb"),
    "isp": ("GeoIP2-ISP.mmdb",),
    "domain": ("GeoIP2-Domain.mmdb",),
    "connectionType": ("GeoIP2-Connection-Type.mmdb",),
    "asn": ("GeoLite2-ASN.mmdb",),
}
PARAMS = parameters.strict({
    key: {"type": "object", "properties": {"database": {"enum": list(names)}, "uri": {"type": "string"}},
          "required": ["database", "uri"]}
    for key, names in DATABASES.items()
})


def java_float(value: float | None) -> str | None:
    """Java ``Float.toString`` for a coordinate: the shortest decimal that round-trips as float32."""
    if value is None:
        return None
    import struct

    single = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):
        text = f"{single:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    if "e" in text or "E" in text:
        text = repr(float(text))
    return text if "." in text else text + ".0"


@dataclasses.dataclass
class IpConf:
    readers: dict[str, Any]


def lookup(conf: IpConf, ip: str) -> tuple[dict[str, str | None], list[dict[str, Any]]]:
    """(fields to set, derived contexts) for one address."""
    fields: dict[str, str | None] = {}
    contexts: list[dict[str, Any]] = []

    def ask(kind: str, method: str):
        reader = conf.readers.get(kind)
        if reader is None:
            return None
        try:
            return getattr(reader, method)(ip)
        except (geoip2.errors.AddressNotFoundError, ValueError):
            return None

    if (city := ask("geo", "city")) is not None:
        sub = city.subdivisions.most_specific
        fields.update(
            geo_country=city.country.iso_code, geo_region=sub.iso_code, geo_city=city.city.name,
            geo_zipcode=city.postal.code, geo_latitude=java_float(city.location.latitude),
            geo_longitude=java_float(city.location.longitude), geo_region_name=sub.name,
            geo_timezone=city.location.time_zone,
        )
    if (isp := ask("isp", "isp")) is not None:
        fields.update(ip_isp=isp.isp, ip_organization=isp.organization)
    if (domain := ask("domain", "domain")) is not None:
        fields.update(ip_domain=domain.domain)
    if (conn := ask("connectionType", "connection_type")) is not None:
        fields.update(ip_netspeed=conn.connection_type)
    if (asn := ask("asn", "asn")) is not None and asn.autonomous_system_number is not None:
        contexts.append({"schema": ASN_SCHEMA, "data": {"number": asn.autonomous_system_number,
                                                         "organization": asn.autonomous_system_organization}})
    return fields, contexts


class IpLookups(Enrichment):
    name = "ip_lookups"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow/ip_lookups/jsonschema/2-0-*"
    slot = 120

    def parse(self, config):
        params = parameters.check(config, PARAMS)
        readers, errors = {}, []
        for kind in DATABASES:
            if kind not in params:
                continue
            spec = params[kind]
            try:
                readers[kind] = geoip2.database.Reader(str(assets.resolve(spec["uri"], spec["database"], self.home)))
            except assets.AssetError as exc:
                errors.append(f"data.parameters.{kind}: {exc}")
            except (OSError, ValueError, RuntimeError) as exc:  # InvalidDatabaseError is a RuntimeError
                errors.append(f"data.parameters.{kind}: {spec['database']} is not a MaxMind database: {exc}")
        if errors:
            for reader in readers.values():
                reader.close()
            raise ConfigError(errors)
        self._readers = list(readers.values())
        return IpConf(readers)

    async def close(self):
        for reader in getattr(self, "_readers", ()):
            reader.close()

    async def enrich(self, event, ctx, conf):
        if not event.user_ipaddress:
            return []
        fields, contexts = lookup(conf, event.user_ipaddress)
        for name, value in fields.items():
            setattr(event, name, None if value is None else str(value))
        return contexts
