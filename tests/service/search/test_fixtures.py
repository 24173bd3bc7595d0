"""The pytest fixtures other pieces use: ``search_node`` (our node as a process) and ``osmem``."""


def test_search_node_fixture(search_node, mini_home):
    client = search_node.client()
    assert client.info()["version"]["distribution"] == "opensearch"
    assert (mini_home / "run" / "search.json").exists()
    client.index(index="fx", id="1", body={"a": 1}, refresh=True)
    assert (mini_home / "search" / "fx.sqlite").exists()


def test_osmem_fixture(osmem):
    assert osmem.client().info()["version"]["number"]
