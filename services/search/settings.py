"""Settings of the search node (section ``search``)."""

from __future__ import annotations

from services.common.settings import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("search.address", "127.0.0.1", "Address the search node's HTTP API binds."),
    Setting("search.port", 0, "HTTP port of the search node (0: any free port, written to run/search.json)."),
    Setting("search.cluster_name", "mini", "Cluster name reported by GET / and _cluster/health."),
    Setting("search.cache_mb", 64, "SQLite page cache per index connection, in MiB (bounds memory)."),
    Setting("search.write_cache_mb", 256,
            "SQLite page cache of each index's writer connection, in MiB: inserts into a large index miss less."),
    Setting("search.wal_cap_mb", 256,
            "WAL size, in MiB, past which the writer restarts an index's WAL itself (a checkpoint thread copies it meanwhile)."),
    Setting("search.segment_docs", 20000,
            "Documents per index segment: new documents' values go to the newest segment's table, so writes stay fast as an index grows."),
    Setting("search.max_result_window", 10000, "Default index.max_result_window: the largest from+size a search may ask."),
    Setting("search.scroll_max_contexts", 500, "Open scroll contexts kept at most (oldest dropped first)."),
)
