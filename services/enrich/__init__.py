"""Enrich: CollectorPayloads from RawEvents become 131-field enriched events or Snowplow bad rows.

Stages are folders (loaders, adapters, enrichments, outputs); ``pipeline.py`` joins them.
"""
