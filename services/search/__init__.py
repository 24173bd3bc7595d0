"""The embedded OpenSearch-REST-compatible search node: durable SQLite index, query DSL, aggregations.

Speaks the REST surface opensearch-py and a Mini user need (OpenSearch 2.x behaviour and error bodies);
every acknowledged write is committed to ``$MINI_HOME/search/`` before the response.
"""
