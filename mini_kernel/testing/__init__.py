"""Test support shipped with mini_kernel: real service processes on free ports, and fixtures.

Each module is owned by the piece it tests (processes: foundation; iglu: the Iglu issue; search: the
indexes issue); ``mini_kernel.pytest_plugin`` re-exports their fixtures.
"""
