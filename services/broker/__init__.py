"""The embedded NSQ-compatible broker: nsqd 1.3's TCP protocol V2 and HTTP API, durable on disk."""
