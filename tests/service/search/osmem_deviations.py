"""Where osmem-server disagrees with OpenSearch's documented behaviour: OpenSearch wins.

Each entry names a differential case, says what osmem does, what OpenSearch does, and cites the
documentation that decides it; tests/service/search/test_deviations.py checks our node against the
documented behaviour for each.
"""

ANALYZER_DOCS = ("https://opensearch.org/docs/2.19/analyzers/index/#specifying-an-index-analyzer-for-a-field "
                 "(an index's `analysis.analyzer.default` is used for every text field without its own analyzer, "
                 "at index and at search time)")

DEVIATIONS: dict[str, dict[str, str]] = {
    "term on dynamic text with keyword analyzer": {
        "why": "osmem ignores the index's custom default analyzer (keyword tokenizer) and lowercases text terms, "
               "so term GB finds nothing; OpenSearch stores 'GB' as the only term and finds it",
        "docs": ANALYZER_DOCS,
    },
}
DEVIATIONS["match on keyword-analyzed text"] = {
    "why": "osmem analyzes `match` text with the standard analyzer despite the keyword default analyzer, so "
           "'gb' hits 'GB'; OpenSearch analyzes the query with the field's (default) analyzer: the term 'gb' "
           "does not equal the stored term 'GB', no hit",
    "docs": ANALYZER_DOCS + "; https://opensearch.org/docs/2.19/query-dsl/full-text/match/ (the query text is "
                            "analyzed with the field's search analyzer)",
}
DEVIATIONS["Mini mapping with dateOptionalTime"] = {
    "why": "osmem refuses Snowplow Mini's good mapping, whose dates use the camelCase format name "
           "`dateOptionalTime`; OpenSearch 2.x (Mini itself runs 2.19.1 with that mapping) accepts the camelCase "
           "aliases of the built-in formats, so the differential corpus spells it date_optional_time and "
           "test_deviations checks that our node takes the original",
    "docs": "https://opensearch.org/docs/2.19/field-types/supported-field-types/date/#formats (built-in formats, "
            "incl. date_optional_time; the camelCase names are the legacy aliases OpenSearch 2.x still parses)",
}
