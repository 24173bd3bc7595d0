"""The pipeline's processes, one package each (broker, collector, enrich, sink, search, iglu, ...)."""

__version__ = "0.1.0"
