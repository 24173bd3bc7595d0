import mmdb_writer
import netaddr
import pytest

from services.common.enriched_event import EnrichedEvent
from services.enrich.enrichments.ip_lookups import IpLookups, java_float

from .helpers import SP, assert_valid, errors_of, parse_errors, run, sdj

SCHEMA = f"iglu:{SP}/ip_lookups/jsonschema/2-0-1"


def write(path, db_type, networks):
    writer = mmdb_writer.MMDBWriter(ip_version=6, database_type=db_type, ipv4_compatible=True)
    for cidr, content in networks.items():
        writer.insert_network(netaddr.IPSet([cidr]), content)
    writer.to_db_file(str(path))


@pytest.fixture(scope="module")
def dbs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mmdb")
    # Values as in MaxMind's own test databases (81.2.69.142 is London there).
    write(root / "GeoLite2-City.mmdb", "GeoLite2-City", {"81.2.69.0/24": {
        "city": {"names": {"en": "London"}}, "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
        "location": {"latitude": 51.5142, "longitude": -0.0931, "time_zone": "Europe/London"},
        "postal": {"code": "EC2V"}, "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}]}})
    write(root / "GeoIP2-ISP.mmdb", "GeoIP2-ISP", {"81.2.69.0/24": {"isp": "Andrews & Arnold Ltd", "organization": "STONEHOUSE office network"}})
    write(root / "GeoIP2-Domain.mmdb", "GeoIP2-Domain", {"81.2.69.0/24": {"domain": "aa.net.uk"}})
    write(root / "GeoIP2-Connection-Type.mmdb", "GeoIP2-Connection-Type", {"81.2.69.0/24": {"connection_type": "Corporate"}})
    write(root / "GeoLite2-ASN.mmdb", "GeoLite2-ASN", {"81.2.69.0/24": {"autonomous_system_number": 20712, "autonomous_system_organization": "Andrews & Arnold Ltd"}})
    return root


def full(root):
    uri = f"file://{root}"
    return {"geo": {"database": "GeoLite2-City.mmdb", "uri": uri}, "isp": {"database": "GeoIP2-ISP.mmdb", "uri": uri},
            "domain": {"database": "GeoIP2-Domain.mmdb", "uri": uri},
            "connectionType": {"database": "GeoIP2-Connection-Type.mmdb", "uri": uri},
            "asn": {"database": "GeoLite2-ASN.mmdb", "uri": uri}}


def test_all_databases(dbs):
    config = sdj(SCHEMA, full(dbs))
    assert errors_of(config) == []
    out, e, _ = run(IpLookups, config, EnrichedEvent(user_ipaddress="81.2.69.142"))
    assert (e.geo_country, e.geo_region, e.geo_city, e.geo_zipcode, e.geo_region_name, e.geo_timezone) == (
        "GB", "ENG", "London", "EC2V", "England", "Europe/London")
    assert (e.geo_latitude, e.geo_longitude) == ("51.5142", "-0.0931")
    assert (e.ip_isp, e.ip_organization, e.ip_domain, e.ip_netspeed) == (
        "Andrews & Arnold Ltd", "STONEHOUSE office network", "aa.net.uk", "Corporate")
    assert out == [{"schema": "iglu:com.snowplowanalytics.snowplow/asn/jsonschema/1-0-0",
                    "data": {"number": 20712, "organization": "Andrews & Arnold Ltd"}}]
    assert_valid(out[0])


@pytest.mark.parametrize("ip", ["10.1.1.1", "not-an-ip", None])
def test_unknown_address_leaves_fields_empty(dbs, ip):
    out, e, _ = run(IpLookups, sdj(SCHEMA, full(dbs)), EnrichedEvent(user_ipaddress=ip))
    assert out == [] and e.geo_country is None and e.ip_isp is None


def test_missing_database_names_the_file(tmp_path):
    errors = parse_errors(IpLookups, sdj(SCHEMA, {"geo": {"database": "GeoLite2-City.mmdb", "uri": f"file://{tmp_path}"}}))
    assert any("GeoLite2-City.mmdb" in e and str(tmp_path) in e for e in errors)


def test_not_a_database(tmp_path):
    (tmp_path / "GeoLite2-City.mmdb").write_text("nope")
    assert parse_errors(IpLookups, sdj(SCHEMA, {"geo": {"database": "GeoLite2-City.mmdb", "uri": f"file://{tmp_path}"}}))


@pytest.mark.parametrize("params", [{"geo": {"database": "City.mmdb", "uri": "file:///x"}},
                                    {"geo": {"database": "GeoLite2-City.mmdb"}}, {"weather": {}}])
def test_invalid_configs(params):
    assert errors_of(sdj(SCHEMA, params))
    assert parse_errors(IpLookups, sdj(SCHEMA, params))


def test_http_asset_downloaded_once_then_offline(dbs, tmp_path):
    import threading
    import http.server, functools
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(dbs))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    config = sdj(SCHEMA, {"geo": {"database": "GeoLite2-City.mmdb", "uri": url}})
    try:
        run(IpLookups, config, EnrichedEvent(user_ipaddress="81.2.69.142"), home=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert (tmp_path / "enrich" / "assets" / "GeoLite2-City.mmdb").is_file()
    _, e, _ = run(IpLookups, config, EnrichedEvent(user_ipaddress="81.2.69.142"), home=tmp_path)  # server gone
    assert e.geo_city == "London"


@pytest.mark.parametrize("value, text", [(51.5142, "51.5142"), (-0.0931, "-0.0931"), (10.0, "10.0"), (37.751, "37.751")])
def test_java_float_text(value, text):
    assert java_float(value) == text
