"""The collector: Snowplow tracker-protocol endpoints on the public origin, CollectorPayloads to RawEvents."""
