"""Outputs: what each outcome becomes on the topics — the enriched TSV line (EnrichedEvents),
Snowplow bad rows (BadEvents) and PII events (PiiEvents) — plus the per-outcome accounting."""
