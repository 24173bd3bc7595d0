"""Enrichments: the registry (``registry.py``) and one module per enrichment, each registered
through the ``mini.enrichments`` entry-point group exactly as a user's own would be."""
