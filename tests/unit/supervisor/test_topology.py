"""The topology: the start order of the brief, and run files turned into peers' settings."""

from services.supervisor import topology


def test_start_order_is_the_briefs_layers():
    layer_of = {s.name: s.layer for s in topology.SERVICES}
    assert {n for n, layer in layer_of.items() if layer == 0} == {"broker", "search", "iglu"}
    assert {"enrich", "sink-good", "sink-bad"} <= {n for n, layer in layer_of.items() if layer == 1}
    assert layer_of["collector"] == max(layer_of.values())
    assert [s.name for s in topology.layers()[0]] == ["broker", "search", "iglu"]


def test_names_are_unique_and_sinks_run_twice():
    names = [s.name for s in topology.SERVICES]
    assert len(names) == len(set(names))
    sinks = {s.name: s for s in topology.SERVICES if s.module == "services.sink"}
    assert sinks["sink-good"].args == ("--sink-kind", "good")
    assert sinks["sink-bad"].args == ("--sink-kind", "bad")


def test_broker_run_file_becomes_nsqd_addresses():
    broker = topology.by_name("broker")
    assert broker.exports({"pid": 1, "port": 4150, "http_port": 4151}) == {
        "MINI_NSQD_TCP_ADDRESS": "127.0.0.1:4150",
        "MINI_NSQD_HTTP_ADDRESS": "127.0.0.1:4151",
    }
    assert broker.skip_when == ("nsqd.tcp_address",)


def test_iglu_run_file_gives_url_and_api_key():
    iglu = topology.by_name("iglu")
    assert iglu.exports({"port": 4001, "api_key": "k-1"}) == {
        "MINI_IGLU_SERVER_URL": "http://127.0.0.1:4001",
        "MINI_IGLU_SERVER_API_KEY": "k-1",
    }


def test_search_and_enrich_exports():
    assert topology.by_name("search").exports({"port": 9200}) == {"MINI_OPENSEARCH_URL": "http://127.0.0.1:9200"}
    assert topology.by_name("search").skip_when == ("opensearch.url",)
    assert topology.by_name("enrich").exports({"port": 1, "http_port": 2}) == {"MINI_ENRICH_ADMIN_URL": "http://127.0.0.1:2"}


def test_restarts_reuse_ports_through_the_services_own_settings():
    broker = topology.by_name("broker")
    assert broker.port_env({"port": 4150, "http_port": 4151}) == {
        "MINI_BROKER_TCP_PORT": "4150", "MINI_BROKER_HTTP_PORT": "4151"}
    assert topology.by_name("collector").port_env({"port": 9090}) == {"MINI_COLLECTOR_PORT": "9090"}


def test_mounts_value_is_prefix_equals_url_pairs():
    value = topology.mounts_value({"/iglu-server": "http://127.0.0.1:4001", "/elasticsearch": "http://127.0.0.1:4002"})
    assert value == "/elasticsearch=http://127.0.0.1:4002,/iglu-server=http://127.0.0.1:4001"


def test_a_module_without_main_is_not_available():
    missing = topology.Service("ghost", "services.no_such_service", 0, "nothing")
    assert not missing.available()
    assert topology.Service("sup", "services.supervisor", 0, "has a __main__").available()
