"""Our node on each documented osmem deviation: the behaviour OpenSearch's documentation describes."""

import pytest

from mini_kernel.testing.search import mini_good_index

from .osmem_deviations import DEVIATIONS


@pytest.fixture(scope="module")
def mini(client):
    client.indices.create(index="dev-good", body=mini_good_index())
    client.index(index="dev-good", id="1", body={"geo_country": "GB", "page_title": "Hello World"}, refresh=True)
    return client


def test_every_deviation_cites_documentation():
    for name, entry in DEVIATIONS.items():
        assert entry["why"] and "https://opensearch.org/docs/" in entry["docs"], name


def test_keyword_default_analyzer_keeps_the_whole_value(mini):
    # the term is the exact stored value (no lowercasing, no splitting)
    assert mini.count(index="dev-good", body={"query": {"term": {"geo_country": "GB"}}})["count"] == 1
    assert mini.count(index="dev-good", body={"query": {"match": {"geo_country": "gb"}}})["count"] == 0
    assert mini.count(index="dev-good", body={"query": {"match": {"page_title": "hello"}}})["count"] == 0
    assert mini.count(index="dev-good", body={"query": {"match": {"page_title": "Hello World"}}})["count"] == 1


def test_mini_mapping_spelling_dateoptionaltime_is_accepted(client):
    # Snowplow Mini writes the legacy camelCase name; OpenSearch 2.x still accepts it
    body = mini_good_index(date_format="dateOptionalTime")
    client.indices.create(index="dev-legacy", body=body)
    client.index(index="dev-legacy", id="1", body={"collector_tstamp": "2024-05-01T10:00:00.123Z"}, refresh=True)
    hits = client.search(index="dev-legacy", body={"query": {"range": {"collector_tstamp": {"gte": "2024-05-01"}}}})
    assert hits["hits"]["total"]["value"] == 1
