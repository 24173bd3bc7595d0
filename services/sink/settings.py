"""Settings of the sinks (one program run twice: ``--sink-kind good`` and ``--sink-kind bad``).

Where the index lives (the embedded search node, or a real OpenSearch through ``MINI_OPENSEARCH_URL``),
how documents are batched, and how long the good and bad indexes and the archive keep data.
"""

from __future__ import annotations

from services.common.settings import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("sink.kind", "good", "Which loader this process is: good (EnrichedEvents → good index) or bad "
            "(BadEvents → bad index).", choices=("good", "bad")),
    Setting("sink.port", 0, "Admin HTTP port (/health, /status, POST /reset, POST /retention); 0 picks a free port."),
    Setting("sink.host", "127.0.0.1", "Address the admin HTTP port binds."),
    Setting("opensearch.url", "", "OpenSearch URL (empty: the embedded search node, found by the supervisor). "
            "Set it to use a real cluster, e.g. https://search.example.com:9200."),
    Setting("opensearch.username", "", "Basic-auth user for a real OpenSearch (empty: no auth)."),
    Setting("opensearch.password", "", "Basic-auth password for a real OpenSearch."),
    Setting("opensearch.verify_certs", True, "Verify the TLS certificate of an https OpenSearch URL."),
    Setting("opensearch.ca_certs", "", "CA bundle file for verifying an https OpenSearch (empty: system CAs)."),
    Setting("opensearch.timeout_s", 30.0, "Per-request timeout talking to OpenSearch, in seconds."),
    Setting("sink.index_good", "good", "Name of the index holding enriched events."),
    Setting("sink.index_bad", "bad", "Name of the index holding bad rows."),
    Setting("sink.flush_interval_ms", 2, "Longest a document waits before its batch is sent to _bulk "
            "(short: send → searchable latency matters more than batch size)."),
    Setting("sink.batch_bytes", 5_000_000, "A batch is sent as soon as its documents reach this many bytes."),
    Setting("sink.batch_docs", 500, "A batch is sent as soon as it holds this many documents."),
    Setting("sink.concurrency", 2, "_bulk requests in flight at once (the next batch fills meanwhile)."),
    Setting("sink.output_buffer_timeout_ms", 1, "output_buffer_timeout the sink asks the broker for: how long "
            "message frames may wait to be batched on their way to the sink (nsqd's default is 250 ms)."),
    Setting("sink.max_in_flight", 1000, "Messages the sink holds unacknowledged from the broker at once."),
    Setting("sink.retries", 5, "Attempts of a failing _bulk request (or a retryable item) before the message is "
            "handed back to the broker for redelivery."),
    Setting("sink.retry_backoff_ms", 200, "First retry delay; doubles on every attempt (capped at 5 s)."),
    Setting("sink.refresh", "wait_for", "refresh parameter of _bulk: wait_for (acknowledged documents are "
            "searchable; the embedded node makes them so at once), true, or false (faster on a busy real cluster).",
            choices=("wait_for", "true", "false")),
    Setting("sink.total_fields_limit", 10_000, "index.mapping.total_fields.limit of both indexes (OpenSearch's "
            "default is 1000, which Mini's users hit with many contexts)."),
    Setting("sink.shards", 1, "index.number_of_shards when the sink creates an index (Mini used 2)."),
    Setting("sink.retention_days", 7.0, "Events (collector_tstamp) and bad rows (data.failure.timestamp) older "
            "than this many days are deleted; 0 keeps everything."),
    Setting("sink.retention_interval_s", 3600.0, "How often the retention sweep runs, in seconds."),
    Setting("sink.archive", True, "Run the archive consumer (BadElasticsearchEvents and PiiEvents → "
            "$MINI_HOME/archive/) inside the bad sink."),
    Setting("sink.archive_retention_days", 7.0, "Archive files older than this many days are deleted; 0 keeps all."),
    Setting("sink.archive_max_bytes", 100_000_000, "Archive files roll over at this size."),
)
