"""Settings of the embedded NSQ-compatible broker (section ``broker``).

Limits and defaults follow nsqd 1.3's flags (``--max-msg-size``, ``--max-body-size``, ...); storage
keys size the segmented topic logs under ``$MINI_HOME/broker/``.
"""

from __future__ import annotations

from services.common.settings import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting("broker.address", "127.0.0.1", "Address the broker's TCP and HTTP listeners bind."),
    Setting("broker.tcp_port", 0, "TCP port of the NSQ protocol V2 listener (0: any free port; nsqd uses 4150)."),
    Setting("broker.http_port", 0, "HTTP port of the nsqd/nsqlookupd API (0: any free port; nsqd uses 4151)."),
    Setting("broker.max_msg_size", 1_048_576, "Largest message body in bytes (nsqd --max-msg-size)."),
    Setting("broker.max_body_size", 5_242_880, "Largest MPUB body in bytes (nsqd --max-body-size)."),
    Setting("broker.max_rdy_count", 2500, "Largest RDY a client may send (nsqd --max-rdy-count)."),
    Setting("broker.msg_timeout_ms", 60_000, "Default time a delivered message may stay un-FIN'd before it is re-queued."),
    Setting("broker.max_msg_timeout_ms", 900_000, "Largest msg_timeout a client may ask for in IDENTIFY."),
    Setting("broker.max_req_timeout_ms", 3_600_000, "Largest REQ/DPUB delay in milliseconds (nsqd --max-req-timeout)."),
    Setting("broker.max_heartbeat_interval_ms", 60_000, "Largest heartbeat_interval a client may ask for in IDENTIFY."),
    Setting("broker.max_output_buffer_timeout_ms", 25,
            "Cap on a client's output_buffer_timeout: message frames wait at most this long to be batched."),
    Setting("broker.consumer_read_delay_ms", 2,
            "A consumer with RDY >= 32 and more than half of it in flight has its next commands (FINs) read after this "
            "pause, so a burst costs one wake-up; 0: read at once."),
    Setting("broker.segment_bytes", 64 * 1024 * 1024, "Size at which a topic's log segment is closed; finished segments are deleted."),
    Setting("broker.cache_bytes", 4 * 1024 * 1024, "Recently published bytes kept in memory per topic so consumers rarely read disk."),
    Setting("broker.tick_ms", 50, "Timer resolution for msg_timeout, REQ/DPUB delays and channel checkpoints."),
    Setting("broker.checkpoint_ms", 1000, "How often channel cursors and unfinished sets are checkpointed to disk (FINs in between go to an ack file)."),
    Setting("broker.version", "1.3.0", "nsqd version the broker reports in IDENTIFY, /info and /lookup."),
)
