"""The differential corpus: indexes, documents and the queries/aggregations sent to both servers."""

import random

from mini_kernel.testing.search import MINI_SETTINGS, bad_document, enriched_document, mini_good_index

NESTED_INDEX = {"mappings": {"properties": {
    "title": {"type": "text"}, "tag": {"type": "keyword"}, "price": {"type": "double"}, "qty": {"type": "long"},
    "when": {"type": "date"}, "ok": {"type": "boolean"},
    "items": {"type": "nested", "properties": {"sku": {"type": "keyword"}, "n": {"type": "long"},
                                                "color": {"type": "keyword"}}}}}}


def synthetic(i: int, rng: random.Random) -> dict:
    words = ["quick brown fox", "lazy dog", "Hello World", "hello there", "brown bear", "The Quick Fox jumps"]
    doc = {"title": rng.choice(words), "tag": rng.choice(["a", "b", "c", "d"]), "price": round(rng.uniform(0, 100), 2),
           "qty": rng.randrange(0, 50), "when": f"2024-0{1 + i % 6}-{1 + i % 27:02d}T{i % 24:02d}:30:00Z",
           "ok": i % 3 == 0,
           "items": [{"sku": f"s{rng.randrange(10)}", "n": rng.randrange(5), "color": rng.choice(["red", "blue"])}
                     for _ in range(rng.randrange(0, 4))]}
    if i % 7 == 0:
        del doc["price"]
    if i % 11 == 0:
        doc["tag"] = ["a", "z"]
    return doc


def corpus():
    rng = random.Random(20240501)
    good = [enriched_document(i, rng) for i in range(300)]
    bad = [bad_document(i, rng) for i in range(60)]
    shop = [synthetic(i, rng) for i in range(200)]
    return {
        "good": (mini_good_index(), [(d["event_id"], d) for d in good]),
        "bad": ({"settings": MINI_SETTINGS}, [(f"bad-{i}", d) for i, d in enumerate(bad)]),
        "shop": (NESTED_INDEX, [(f"p{i:03d}", d) for i, d in enumerate(shop)]),
    }


# (name, index, body). Hits are compared as id sets, in order when the body sorts by a unique key.
QUERIES = [
    ("match_all", "good", {"query": {"match_all": {}}, "size": 0}),
    ("term keyword", "good", {"query": {"term": {"app_id": "shop"}}, "size": 500}),
    ("term long", "good", {"query": {"term": {"page_urlport": 443}}, "size": 0}),
    ("term boolean", "good", {"query": {"term": {"br_cookies": True}}, "size": 500}),
    ("terms", "good", {"query": {"terms": {"app_id": ["blog", "docs"]}}, "size": 500}),
    ("term on dynamic text with keyword analyzer", "good", {"query": {"term": {"geo_country": "GB"}}, "size": 500}),
    ("term on .keyword", "good", {"query": {"term": {"geo_country.keyword": "DE"}}, "size": 500}),
    ("range long", "good", {"query": {"range": {"br_viewwidth": {"gte": 1000, "lt": 2000}}}, "size": 500}),
    ("range date", "good", {"query": {"range": {"collector_tstamp": {"gte": "2024-05-10", "lte": "2024-05-12"}}}, "size": 500}),
    ("range date math", "good", {"query": {"range": {"collector_tstamp": {"gte": "2024-05-10||/d", "lt": "2024-05-10||+1d/d"}}}, "size": 500}),
    ("range dynamic date", "good", {"query": {"range": {"derived_tstamp": {"gt": "2024-05-20T00:00:00Z"}}}, "size": 500}),
    ("range double", "good", {"query": {"range": {"geo_latitude": {"gt": 52.0}}}, "size": 500}),
    ("exists", "good", {"query": {"exists": {"field": "se_category"}}, "size": 500}),
    ("exists object", "good", {"query": {"exists": {"field": "unstruct_event_com_snowplowanalytics_snowplow_link_click_1"}}, "size": 500}),
    ("prefix", "good", {"query": {"prefix": {"page_url": "https://example.com/p/1"}}, "size": 500}),
    ("wildcard", "good", {"query": {"wildcard": {"page_urlpath": {"value": "/p/?5"}}}, "size": 500}),
    ("ids", "shop", {"query": {"ids": {"values": ["p001", "p002", "nope"]}}}),
    ("contexts leaf term", "good", {"query": {"term": {"contexts_com_acme_user_1.name.keyword": "alice"}}, "size": 500}),
    ("contexts leaf match keyword analyzer", "good", {"query": {"match": {"contexts_com_acme_user_1.tier": "pro"}}, "size": 500}),
    ("bool", "good", {"query": {"bool": {"must": [{"term": {"platform": "web"}}],
                                         "filter": [{"range": {"domain_sessionidx": {"lte": 20}}}],
                                         "must_not": [{"term": {"event": "page_ping"}}]}}, "size": 500}),
    ("bool should msm", "good", {"query": {"bool": {"should": [{"term": {"app_id": "shop"}}, {"term": {"platform": "mob"}},
                                                              {"term": {"event": "struct"}}],
                                                   "minimum_should_match": 2}}, "size": 500}),
    ("bool only must_not", "good", {"query": {"bool": {"must_not": [{"term": {"app_id": "shop"}}]}}, "size": 0}),
    ("match standard", "shop", {"query": {"match": {"title": "quick fox"}}, "size": 500}),
    ("match and", "shop", {"query": {"match": {"title": {"query": "quick fox", "operator": "and"}}}, "size": 500}),
    ("match_phrase", "shop", {"query": {"match_phrase": {"title": "quick brown"}}, "size": 500}),
    ("multi_match", "shop", {"query": {"multi_match": {"query": "hello", "fields": ["title", "tag"]}}, "size": 500}),
    ("query_string", "shop", {"query": {"query_string": {"query": "title:hello AND tag:a"}}, "size": 500}),
    ("query_string range", "shop", {"query": {"query_string": {"query": "qty:[10 TO 20] OR tag:d"}}, "size": 500}),
    ("nested", "shop", {"query": {"nested": {"path": "items", "query": {"bool": {"must": [
        {"term": {"items.sku": "s1"}}, {"term": {"items.color": "red"}}]}}}}, "size": 500}),
    ("nested field without nested query", "shop", {"query": {"term": {"items.sku": "s1"}}, "size": 500}),
    ("sort keyword+id", "shop", {"query": {"match_all": {}}, "sort": [{"tag": "asc"}, {"qty": "desc"}, {"when": "asc"}], "size": 30}),
    ("sort date desc", "good", {"sort": [{"collector_tstamp": {"order": "desc"}}], "size": 25, "query": {"match_all": {}}}),
    ("from size", "good", {"sort": [{"event_id": "asc"}], "from": 10, "size": 15}),
    ("bad rows term", "bad", {"query": {"term": {"data.processor.artifact.keyword": "mini-enrich"}}, "size": 500}),
    ("bad rows range", "bad", {"query": {"range": {"data.failure.timestamp": {"gte": "2024-05-15"}}}, "size": 500}),
    ("bad rows match keyword analyzer", "bad", {"query": {"match": {"data.failure.messages.error.error": "ValidationError"}}, "size": 500}),
    ("bad schema prefix", "bad", {"query": {"prefix": {"schema.keyword": "iglu:com.snowplowanalytics.snowplow.badrows/size"}}, "size": 500}),
]

AGGS = [
    ("terms keyword", "good", {"size": 0, "aggs": {"x": {"terms": {"field": "app_id"}}}}),
    ("terms size order key", "good", {"size": 0, "aggs": {"x": {"terms": {"field": "br_lang", "size": 2, "order": {"_key": "asc"}}}}}),
    ("terms boolean", "good", {"size": 0, "aggs": {"x": {"terms": {"field": "br_cookies"}}}}),
    ("terms long", "shop", {"size": 0, "aggs": {"x": {"terms": {"field": "qty", "size": 5}}}}),
    ("terms contexts leaf", "good", {"size": 0, "aggs": {"x": {"terms": {"field": "contexts_com_acme_user_1.name.keyword"}}}}),
    ("terms with sub metrics", "good", {"size": 0, "aggs": {"x": {"terms": {"field": "event"}, "aggs": {
        "w": {"avg": {"field": "br_viewwidth"}}, "mx": {"max": {"field": "doc_height"}}}}}}),
    ("terms in query", "good", {"size": 0, "query": {"term": {"platform": "web"}}, "aggs": {"x": {"terms": {"field": "app_id"}}}}),
    ("date_histogram day", "good", {"size": 0, "aggs": {"x": {"date_histogram": {"field": "collector_tstamp", "calendar_interval": "day"}}}}),
    ("date_histogram month", "shop", {"size": 0, "aggs": {"x": {"date_histogram": {"field": "when", "calendar_interval": "month"}}}}),
    ("date_histogram fixed 6h", "shop", {"size": 0, "query": {"range": {"when": {"lt": "2024-01-20"}}},
                                         "aggs": {"x": {"date_histogram": {"field": "when", "fixed_interval": "6h"}}}}),
    ("date_histogram week", "shop", {"size": 0, "aggs": {"x": {"date_histogram": {"field": "when", "calendar_interval": "week"}}}}),
    ("histogram", "shop", {"size": 0, "aggs": {"x": {"histogram": {"field": "price", "interval": 10}}}}),
    ("metrics", "shop", {"size": 0, "aggs": {"mn": {"min": {"field": "price"}}, "mx": {"max": {"field": "price"}},
                                             "av": {"avg": {"field": "qty"}}, "sm": {"sum": {"field": "qty"}},
                                             "vc": {"value_count": {"field": "price"}}, "cd": {"cardinality": {"field": "tag"}}}}),
    ("date metrics", "shop", {"size": 0, "aggs": {"mn": {"min": {"field": "when"}}, "mx": {"max": {"field": "when"}}}}),
    ("filter", "good", {"size": 0, "aggs": {"f": {"filter": {"term": {"event": "page_view"}},
                                                  "aggs": {"x": {"terms": {"field": "app_id"}}}}}}),
    ("filters", "good", {"size": 0, "aggs": {"f": {"filters": {"filters": {
        "web": {"term": {"platform": "web"}}, "mob": {"term": {"platform": "mob"}}}}}}}),
    ("nested agg", "shop", {"size": 0, "aggs": {"n": {"nested": {"path": "items"}, "aggs": {
        "sku": {"terms": {"field": "items.sku"}, "aggs": {"back": {"reverse_nested": {}, "aggs": {
            "tags": {"terms": {"field": "tag"}}}}}}}}}}),
    ("bad rows by schema", "bad", {"size": 0, "aggs": {"x": {"terms": {"field": "schema.keyword"}}}}),
    ("bad rows histogram", "bad", {"size": 0, "aggs": {"x": {"date_histogram": {"field": "data.failure.timestamp", "fixed_interval": "1d"}}}}),
]

QUERIES += [
    ("match on keyword-analyzed text", "good", {"query": {"match": {"geo_country": "gb"}}, "size": 500}),
    ("query_string default field", "shop", {"query": {"query_string": {"query": "fox -quick", "default_field": "title"}}, "size": 500}),
    ("query_string phrase", "shop", {"query": {"query_string": {"query": "\"lazy dog\" OR tag:b"}}, "size": 500}),
    ("query_string wildcard", "shop", {"query": {"query_string": {"query": "tag:[a TO b] AND NOT ok:true"}}, "size": 500}),
    ("query_string exists", "shop", {"query": {"query_string": {"query": "_exists_:price AND qty:>40"}}, "size": 500}),
    ("wildcard star", "shop", {"query": {"wildcard": {"tag": "*"}}, "size": 500}),
    ("prefix on analyzed text", "shop", {"query": {"prefix": {"title": "bro"}}, "size": 500}),
    ("range keyword", "shop", {"query": {"range": {"tag": {"gte": "b", "lt": "d"}}}, "size": 500}),
    ("range gt date rounding", "shop", {"query": {"range": {"when": {"gt": "2024-03-05||/d", "lte": "2024-04"}}}, "size": 500}),
    ("range with format", "shop", {"query": {"range": {"when": {"gte": "01/02/2024", "format": "dd/MM/yyyy"}}}, "size": 0}),
    ("constant_score", "shop", {"query": {"constant_score": {"filter": {"term": {"ok": True}}}}, "size": 500}),
    ("nested bool should", "shop", {"query": {"bool": {"should": [
        {"nested": {"path": "items", "query": {"range": {"items.n": {"gte": 4}}}}},
        {"term": {"tag": "d"}}]}}, "size": 500}),
    ("nested must_not inside", "shop", {"query": {"nested": {"path": "items", "query": {"bool": {
        "must_not": [{"term": {"items.color": "red"}}]}}}}, "size": 500}),
    ("exists nested without nested query", "shop", {"query": {"exists": {"field": "items"}}, "size": 500}),
    ("multi-valued term", "shop", {"query": {"term": {"tag": "z"}}, "size": 500}),
    ("sort missing first", "shop", {"sort": [{"price": {"order": "asc", "missing": "_first"}}, {"when": "asc"}], "size": 40}),
    ("sort multi-valued desc", "shop", {"sort": [{"tag": "desc"}, {"when": "desc"}], "size": 40}),
    ("sort boolean", "shop", {"sort": [{"ok": "desc"}, {"when": "asc"}], "size": 20}),
    ("match_none", "shop", {"query": {"match_none": {}}}),
    ("ids with sort", "shop", {"query": {"ids": {"values": ["p010", "p005", "p007"]}}, "sort": [{"qty": "asc"}, {"when": "asc"}]}),
    ("track_total_hits small", "good", {"track_total_hits": 50, "size": 0}),
    ("sort single key walk", "shop", {"sort": [{"when": "desc"}], "size": 150, "from": 20}),
    ("sort single key walk filtered", "shop", {"query": {"term": {"tag": "b"}}, "sort": [{"when": "asc"}], "size": 10}),
]

AGGS += [
    ("terms multi-valued", "shop", {"size": 0, "aggs": {"x": {"terms": {"field": "tag"}}}}),
    ("terms min_doc_count", "shop", {"size": 0, "aggs": {"x": {"terms": {"field": "qty", "min_doc_count": 6, "size": 50}}}}),
    ("terms missing", "shop", {"size": 0, "aggs": {"x": {"terms": {"field": "price", "missing": -1, "size": 3}}}}),
    ("terms order by metric", "shop", {"size": 0, "aggs": {"x": {"terms": {"field": "tag", "order": {"p": "desc"}},
                                                              "aggs": {"p": {"avg": {"field": "price"}}}}}}),
    ("terms order count asc", "shop", {"size": 0, "aggs": {"x": {"terms": {"field": "qty", "order": {"_count": "asc"}, "size": 4}}}}),
    ("terms nested field at root", "shop", {"size": 0, "aggs": {"x": {"terms": {"field": "items.sku"}}}}),
    ("terms double", "shop", {"size": 0, "query": {"range": {"price": {"lt": 10}}}, "aggs": {"x": {"terms": {"field": "price"}}}}),
    ("date_histogram tz and format", "shop", {"size": 0, "aggs": {"x": {"date_histogram": {
        "field": "when", "calendar_interval": "day", "time_zone": "+02:00", "format": "yyyy-MM-dd", "min_doc_count": 1}}}}),
    ("date_histogram extended bounds", "shop", {"size": 0, "query": {"range": {"when": {"lt": "2024-02-01"}}},
                                                "aggs": {"x": {"date_histogram": {"field": "when", "calendar_interval": "week",
                                                                                  "extended_bounds": {"min": "2023-12-01", "max": "2024-02-15"}}}}}),
    ("date_histogram with sub terms", "good", {"size": 0, "aggs": {"x": {"date_histogram": {
        "field": "collector_tstamp", "fixed_interval": "7d"}, "aggs": {"a": {"terms": {"field": "app_id", "size": 2}}}}}}),
    ("date_histogram keyed", "shop", {"size": 0, "aggs": {"x": {"date_histogram": {"field": "when", "calendar_interval": "month", "keyed": True}}}}),
    ("date_histogram year", "good", {"size": 0, "aggs": {"x": {"date_histogram": {"field": "derived_tstamp", "calendar_interval": "year"}}}}),
    ("histogram min_doc_count and offset", "shop", {"size": 0, "aggs": {"x": {"histogram": {"field": "qty", "interval": 7, "offset": 3, "min_doc_count": 1}}}}),
    ("empty metrics", "shop", {"size": 0, "query": {"match_none": {}}, "aggs": {"mn": {"min": {"field": "price"}},
                                                                              "av": {"avg": {"field": "price"}}, "sm": {"sum": {"field": "price"}},
                                                                              "vc": {"value_count": {"field": "price"}}}}),
    ("stats", "shop", {"size": 0, "aggs": {"s": {"stats": {"field": "qty"}}}}),
    ("cardinality numbers", "good", {"size": 0, "aggs": {"c": {"cardinality": {"field": "domain_sessionidx"}}}}),
    ("filters anonymous other", "shop", {"size": 0, "aggs": {"f": {"filters": {"filters": [
        {"term": {"tag": "a"}}, {"range": {"qty": {"gte": 40}}}], "other_bucket": True}}}}),
    ("nested metrics", "shop", {"size": 0, "aggs": {"n": {"nested": {"path": "items"}, "aggs": {
        "total": {"sum": {"field": "items.n"}}, "colors": {"terms": {"field": "items.color"}}}}}}),
    ("nested under terms", "shop", {"size": 0, "aggs": {"t": {"terms": {"field": "tag"}, "aggs": {"n": {"nested": {"path": "items"},
                                                                                                          "aggs": {"c": {"value_count": {"field": "items.sku"}}}}}}}}),
    ("filter inside nested", "shop", {"size": 0, "aggs": {"n": {"nested": {"path": "items"}, "aggs": {
        "red": {"filter": {"term": {"items.color": "red"}}, "aggs": {"skus": {"cardinality": {"field": "items.sku"}}}}}}}}),
    ("global", "shop", {"size": 0, "query": {"term": {"tag": "a"}}, "aggs": {"g": {"global": {}, "aggs": {"t": {"terms": {"field": "tag"}}}}}}),
    ("contexts leaf keyword-analyzed text via keyword", "good", {"size": 0, "aggs": {"t": {"terms": {"field": "contexts_com_acme_user_1.tier.keyword"}}}}),
    ("bad rows failure str", "bad", {"size": 0, "aggs": {"t": {"terms": {"field": "data.processor.artifact.keyword"}, "aggs": {
        "mx": {"max": {"field": "data.failure.actualSizeBytes"}}}}}}),
]
