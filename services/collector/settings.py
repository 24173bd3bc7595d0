"""Settings of the collector (section ``collector``): the public origin, cookies, limits, spool, mounts.

Defaults are Snowplow stream-collector 3.x's (``reference.conf``), except the port (9090, like Micro).
"""

from __future__ import annotations

from services.common.settings import Setting

RESERVED_PREFIXES = ("/micro", "/iglu-server", "/control-plane", "/elasticsearch", "/dashboard", "/home", "/kibana")
# Behind basic auth, as in Snowplow Mini (the tracker routes, /micro and /iglu-server never are).
GUARDED_PREFIXES = ("/home", "/dashboard", "/control-plane", "/elasticsearch", "/kibana")

SETTINGS: tuple[Setting, ...] = (
    Setting("collector.address", "127.0.0.1", "Address the public origin binds (0.0.0.0 to expose it)."),
    Setting("collector.port", 9090, "Port of the public origin: tracker endpoints, /health and the mounts.", flag="--port"),
    Setting(
        "collector.mounts",
        [],
        "Mounted services: comma-separated prefix=url pairs (/iglu-server=http://127.0.0.1:4001); the prefix is stripped.",
        type=list,
    ),
    Setting(
        "collector.basic_auth",
        [],
        "Credentials user:password (comma-separated) guarding /home, /dashboard, /control-plane, /elasticsearch "
        "and /kibana with HTTP basic auth; empty: open (fine on 127.0.0.1, set it before exposing the port).",
        type=list,
    ),
    Setting(
        "collector.paths",
        [],
        "Custom path mappings, comma-separated /vendor/version=target (target: /com.snowplowanalytics.snowplow/tp2, /r/tp2 or /com.snowplowanalytics.iglu/v1).",
        type=list,
    ),
    # cookie (Snowplow's cookie { ... })
    Setting("collector.cookie.enabled", True, "Set the network-user cookie on tracking responses."),
    Setting("collector.cookie.name", "sp", "Name of the network-user cookie."),
    Setting("collector.cookie.expiration_days", 365, "Lifetime of the network-user cookie in days (re-issued on every request)."),
    Setting("collector.cookie.domains", [], "Cookie domains; the first one matching a host in Origin is used.", type=list),
    Setting("collector.cookie.fallback_domain", "", "Cookie Domain when no configured domain matches Origin (empty: no Domain attribute)."),
    Setting("collector.cookie.secure", True, "Secure attribute (forced when SameSite=None)."),
    Setting("collector.cookie.http_only", True, "HttpOnly attribute."),
    Setting("collector.cookie.same_site", "None", "SameSite attribute: None, Lax, Strict, or empty for none.",
            choices=("None", "Lax", "Strict", "")),
    Setting("collector.cookie.client_cookie_name", "", "When set, a second identical cookie readable by JavaScript (no HttpOnly)."),
    Setting("collector.do_not_track_cookie.enabled", False, "Drop requests carrying the do-not-track cookie (nothing sunk)."),
    Setting("collector.do_not_track_cookie.name", "", "Name of the do-not-track cookie."),
    Setting("collector.do_not_track_cookie.value", "", "Regular expression the do-not-track cookie's value must fully match."),
    Setting("collector.cookie_bounce.enabled", False, "Bounce GET pixel requests without a cookie once (302 with n3pc=true) to test cookie support."),
    Setting("collector.cookie_bounce.name", "n3pc", "Query parameter marking a bounced request."),
    Setting("collector.cookie_bounce.fallback_network_user_id", "00000000-0000-4000-A000-000000000000",
            "nuid of a bounced request that still carries no cookie."),
    Setting("collector.cookie_bounce.forwarded_protocol_header", "", "Header giving the original scheme for the bounce URL (e.g. X-Forwarded-Proto)."),
    # redirects, root response, crossdomain, CORS
    Setting("collector.enable_default_redirect", False, "Serve /r/tp2 redirects (off by default, as Snowplow: 404 'redirects disabled')."),
    Setting("collector.redirect_domains", [], "Hosts a redirect may point to (empty: any).", type=list),
    Setting("collector.root_response.enabled", False, "Answer GET / with the configured response (else 404)."),
    Setting("collector.root_response.status_code", 302, "Status of the root response."),
    Setting("collector.root_response.headers", [], "Headers of the root response, comma-separated Name: value pairs.", type=list),
    Setting("collector.root_response.body", "", "Body of the root response."),
    Setting("collector.cross_domain.enabled", False, "Serve /crossdomain.xml (else 404)."),
    Setting("collector.cross_domain.domains", ["*"], "Domains listed in /crossdomain.xml.", type=list),
    Setting("collector.cross_domain.secure", True, "secure attribute of the /crossdomain.xml entries."),
    Setting("collector.cors.access_control_max_age_s", 3600, "Access-Control-Max-Age of CORS preflight answers, in seconds."),
    # limits (Snowplow's networking { ... } and the NSQ sink's maxBytes)
    Setting("collector.max_payload_size", 1_048_576, "Serialized payloads above this many bytes become size_violation bad rows (networking.maxPayloadSize)."),
    Setting("collector.sink_max_bytes", 1_000_000, "Largest record sent to RawEvents; bigger POSTs are split (the NSQ sink's maxBytes)."),
    Setting("collector.drop_payload_size", 2_097_152, "Request bodies above this many bytes are answered 413 and not sunk (networking.dropPayloadSize)."),
    Setting("collector.max_header_bytes", 61_440, "Largest request line plus headers (Snowplow: 20,480 + 40,960); "
            "bigger requests are answered 431 Request Header Fields Too Large and not sunk."),
    Setting("collector.max_header_read_bytes", 1_048_576, "Header blocks are read up to this many bytes so that "
            "oversized ones get their 431; a client sending more has its connection closed without an answer."),
    Setting("collector.request_timeout_s", 30.0, "Seconds a client may take to send a whole request (line, headers, "
            "body) once it started; a slower one is answered 408 Request Timeout and disconnected (Snowplow: 30 s)."),
    Setting("collector.idle_connection_timeout_s", 60.0, "Seconds an idle keep-alive connection is kept open (then closed without an answer)."),
    # durability
    Setting("collector.publish_timeout_ms", 2000, "How long a publish may wait for the broker's acknowledgement before the batch goes to the spool."),
    Setting("collector.spool_max_bytes", 1 << 30, "Largest spool; when full, tracking requests are answered 503 (trackers retry)."),
    Setting("collector.replay_batch", 500, "Records per publish when replaying the spool."),
    Setting("collector.shutdown_grace_s", 2.0, "On shutdown, seconds for each step: finishing in-flight requests, publishing (or spooling) pending batches, closing connections."),
)
