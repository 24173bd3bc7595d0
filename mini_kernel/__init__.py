"""mini_kernel: the notebook helper for the Mini stack (client, DataFrames, widgets, assertions)."""

__all__: list[str] = []
